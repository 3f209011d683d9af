"""The host of MMagic 1.x: one discriminator update of an MMagic GAN as a
:class:`~mmgen_adv.methods.host.DiscHost`.

What differs from mmgen's host: the update goes through mmengine's
``OptimWrapper`` (``scale_loss``/``backward``/``step``; an
``AmpOptimWrapper`` scales the loss and updates its scaler in ``step``),
whose counter of backward passes decides accumulation: a regularizer's
extra backwards and second step within one iteration count as that
iteration's one pass, as MMagic's own update does. G and D are wrapped
apart (``MMSeparateDistributedDataParallel``): attacks use ``.module``.
The iteration comes from mmengine's ``MessageHub``.
"""
from mmagic.models.losses import r1_gradient_penalty_loss
from mmengine import MessageHub
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper

from ..methods.host import DiscHost, NonFiniteGuard, call_disc
from ..methods.rotation import RotationTaskHost


def unwrap(module):
    """The module inside an mmengine wrapper (DDP), or itself."""
    return module.module if is_model_wrapper(module) else module


def current_iteration():
    """The runner's iteration (0 outside a runner)."""
    return MessageHub.get_current_instance().get_info('iter', 0)


class MMagicHost(DiscHost):
    """An MMagic GAN (``BaseGAN`` subclass with ``gan_loss``, see
    :mod:`mmgen_adv.mmagic.models`) in one D update.

    Args:
        model (BaseGAN): The model; its modules are read, and its
            ``parse_losses``.
        optim_wrapper (OptimWrapper): D's optimizer wrapper; ``None`` when
            only binding a regularizer.
    """

    def __init__(self, model, optim_wrapper=None):
        self.wrapped_discriminator = model.discriminator
        self.discriminator = unwrap(model.discriminator)
        self.gan_loss = model.gan_loss
        self.model_parse_losses = model.parse_losses
        self.guard = getattr(model, 'nonfinite_guard', None) or \
            NonFiniteGuard()
        self.optim_wrapper = optim_wrapper
        self.accumulation_steps = getattr(optim_wrapper,
                                          '_accumulative_counts', 1)
        self.iteration = current_iteration()
        # the wrapper's count of backward passes before this update
        self.count_before = getattr(optim_wrapper, '_inner_count', 0)

    def disc(self, images, labels=None, bare=False):
        disc = self.discriminator if bare else self.wrapped_discriminator
        return call_disc(disc, images, labels)

    def disc_terms(self, batch, pred_fake, pred_real, gan_weight=1.0):
        return self.gan_terms(pred_fake, pred_real, gan_weight)

    def backward(self, loss):
        wrapper = self.optim_wrapper
        wrapper.backward(wrapper.scale_loss(loss))
        # however many backwards it makes, the update is one pass of the
        # wrapper's accumulation (its count decides when to step)
        wrapper._inner_count = self.count_before + 1

    def parse_losses(self, terms):
        loss, log_vars = self.model_parse_losses(terms)
        log_vars = {k: v.detach() for k, v in log_vars.items()}  # logged
        self.guard.check({k: float(v) for k, v in log_vars.items()},
                         self.iteration)
        return loss, log_vars

    def optimizer_step(self):
        # OptimWrapper.update_params's step; AmpOptimWrapper.step updates
        # its loss scaler, so each D step counts as one of the scaler's
        if self.optim_wrapper.should_update():
            self.optim_wrapper.step()
            self.optim_wrapper.zero_grad()

    def restart(self):
        self.optim_wrapper.zero_grad()

    @property
    def fp16(self):
        return isinstance(self.optim_wrapper, AmpOptimWrapper)


class SSGANHost(RotationTaskHost, MMagicHost):
    """An SSGAN update (:class:`~mmgen_adv.mmagic.models.SSGAN`): the hinge
    terms plus D's rotation task on the clean reals, as on mmgen."""


class StyleGAN2Host(MMagicHost):
    """MMagic's StyleGAN2: its ``disc_loss`` adds the R1 penalty on the
    clean reals every ``r1_interval`` iterations (through the wrapped D),
    and its D update leaves D's predictions on the reals in the
    ``MessageHub`` (``disc_pred_real``, which ADA reads)."""

    def __init__(self, model, optim_wrapper=None):
        super().__init__(model, optim_wrapper)
        self.r1_interval = model.r1_interval
        self.r1_loss_weight = model.r1_loss_weight
        self.r1_options = dict(norm_mode=model.norm_mode,
                               use_apex_amp=model.r1_use_apex_amp)

    def disc_terms(self, batch, pred_fake, pred_real, gan_weight=1.0):
        terms = super().disc_terms(batch, pred_fake, pred_real, gan_weight)
        MessageHub.get_current_instance().update_info('disc_pred_real',
                                                      pred_real)
        if self.iteration % self.r1_interval == 0:
            terms['loss_r1_gp'] = self.r1_loss_weight * \
                r1_gradient_penalty_loss(self.wrapped_discriminator,
                                         batch.real, **self.r1_options)
        return terms
