"""The host of mmgen 0.7.3: one iteration of an mmgen GAN as a
:class:`~mmgen_adv.methods.host.DiscHost`.

:class:`MMGenHost` is what the regularizers reach the toolbox through: D
called as the toolbox's GANs call it (the distributed wrapper, ``label=``
for a conditional D), the toolbox's loss terms and auxiliary losses, the
backward through DDP's reducer, the fp16 loss scaler and batch
accumulation, the optimizer step, and the toolbox's log parsing with a
check for non-finite losses. Models with more heads subclass it (SSGAN's
rotation task, Rob-GAN's class head: ``ssgan.py``, ``robgan.py``).
"""
from mmcv.parallel import is_module_wrapper
from torch.nn.parallel.distributed import _find_tensors

from ..methods.host import DiscHost, NonFiniteGuard, call_disc


def unwrap(module):
    """The module inside an mmcv wrapper (DDP, DataParallel), or itself."""
    return module.module if is_module_wrapper(module) else module


def step_optimizer(optimizer, loss_scaler=None):
    """One optimizer step, through the fp16 loss scaler when there is one
    (the runner updates the scaler after the iteration)."""
    if loss_scaler is not None:
        loss_scaler.unscale_(optimizer)
        loss_scaler.step(optimizer)
    else:
        optimizer.step()


def label_entries(real_label, fake_label):
    """The label keys of the toolbox's loss data dicts (conditional GANs)."""
    entries = dict(gt_label=real_label, fake_label=fake_label)
    return {k: v for k, v in entries.items() if v is not None}


class MMGenHost(DiscHost):
    """An mmgen GAN (``StaticUnconditionalGAN``, ``BasicConditionalGAN`` or
    a subclass) in one training iteration.

    Args:
        model (BaseGAN): The model; its modules are read, never its
            methods, except the toolbox's ``_parse_losses``.
        optimizer (dict): The runner's optimizers (``'discriminator'``,
            ``'generator'``); ``None`` when only binding a regularizer.
        ddp_reducer: The runner's DDP reducer (dynamic DDP), or ``None``.
        loss_scaler (GradScaler): The runner's fp16 loss scaler, or ``None``.
        iteration (int): The training iteration.
    """

    def __init__(self, model, optimizer=None, ddp_reducer=None,
                 loss_scaler=None, iteration=0):
        self.wrapped_discriminator = model.discriminator
        self.discriminator = unwrap(model.discriminator)
        self.generator = model.generator
        self.gan_loss = model.gan_loss
        self.disc_auxiliary_losses = getattr(
            model, 'disc_auxiliary_losses', None) or []
        self.gen_auxiliary_losses = getattr(
            model, 'gen_auxiliary_losses', None) or []
        self.accumulation_steps = getattr(model, 'batch_accumulation_steps',
                                          1)
        self.toolbox_parse_losses = model._parse_losses
        self.guard = getattr(model, 'nonfinite_guard', None) or \
            NonFiniteGuard()
        self.optimizer = optimizer
        self.ddp_reducer = ddp_reducer
        self.loss_scaler = loss_scaler
        self.iteration = iteration

    def losses_reading_predictions(self):
        found = []
        for module in self.disc_auxiliary_losses:
            data_info = getattr(module, 'data_info', None)
            if data_info is None or any(
                    str(key).startswith('disc_pred')
                    for key in data_info.values()):
                found.append(type(module).__name__)
        return found

    # -- calling D -----------------------------------------------------------
    def disc(self, images, labels=None, bare=False):
        disc = self.discriminator if bare else self.wrapped_discriminator
        return call_disc(disc, images, labels)

    # -- loss terms ----------------------------------------------------------
    def loss_data(self, **entries):
        """The data dict the toolbox's auxiliary losses read."""
        return dict(gen=self.generator, disc=self.wrapped_discriminator,
                    iteration=self.iteration, loss_scaler=self.loss_scaler,
                    **entries)

    def disc_terms(self, batch, pred_fake, pred_real, gan_weight=1.0):
        # BaseGAN._get_disc_loss's terms, not called: it sums and parses at
        # once, and the regularizers need the terms apart and weighted
        data = self.loss_data(
            disc_pred_fake=pred_fake, disc_pred_real=pred_real,
            fake_imgs=batch.fake, real_imgs=batch.real,
            batch_size=batch.batch_size,
            **label_entries(batch.real_label, batch.fake_label))
        return self.add_auxiliary_losses(
            self.gan_terms(pred_fake, pred_real, gan_weight),
            self.disc_auxiliary_losses, data)

    def gen_terms(self, data):
        """The toolbox's G loss terms (``BaseGAN._get_gen_loss``'s, apart
        for the same reason) for its data dict."""
        terms = dict(loss_disc_fake_g=self.gan_loss(
            data['disc_pred_fake_g'], target_is_real=True, is_disc=False))
        return self.add_auxiliary_losses(terms, self.gen_auxiliary_losses,
                                         data)

    @staticmethod
    def add_auxiliary_losses(terms, modules, data):
        """mmgen's auxiliary losses: skipped when they return None, summed
        when they share a name."""
        for loss_module in modules:
            value = loss_module(data)
            if value is None:
                continue
            name = loss_module.loss_name()
            terms[name] = terms[name] + value if name in terms else value
        return terms

    # -- updates -------------------------------------------------------------
    def backward(self, loss):
        loss = loss / float(self.accumulation_steps)
        # DDP's dynamic mode must be told which tensors this backward uses
        if self.ddp_reducer is not None:
            self.ddp_reducer.prepare_for_backward(_find_tensors(loss))
        if self.loss_scaler is not None:
            self.loss_scaler.scale(loss).backward()
        else:
            loss.backward()

    def parse_losses(self, terms):
        loss, log_vars = self.toolbox_parse_losses(terms)
        self.guard.check(log_vars, self.iteration)
        return loss, log_vars

    def optimizer_step(self):
        if (self.iteration + 1) % self.accumulation_steps == 0:
            step_optimizer(self.optimizer['discriminator'], self.loss_scaler)

    def restart(self):
        # a GradScaler unscales and steps an optimizer once per update():
        # each D optimizer step counts as one step of the scaler (its growth
        # interval is counted in optimizer steps, and an overflow in the
        # first step lowers the scale before the second)
        if self.loss_scaler is not None:
            self.loss_scaler.update()
        self.optimizer['discriminator'].zero_grad()


def host_of(model):
    """The host of ``model`` outside a training iteration (hooks, probes):
    this package's models say which; the toolbox's GANs get
    :class:`MMGenHost`."""
    return getattr(model, 'host_class', MMGenHost)(model)
