"""GAN models whose discriminator is trained adversarially (``adv_cfg``).

``AdvUnconditionalGAN`` and ``AdvConditionalGAN`` take every argument of
the toolbox's ``StaticUnconditionalGAN`` and ``BasicConditionalGAN`` plus
``adv_cfg``; a config switches to them with ``model = dict(
type='AdvUnconditionalGAN', adv_cfg=dict(type='ASGAN'))``. Without
``adv_cfg`` they are the toolbox's models, update for update.

One training iteration follows the toolbox's schedule (``disc_steps``,
``gen_steps``, ``batch_accumulation_steps``, DDP reducer, fp16 loss
scaler). The discriminator's update is the regularizer's (or, without
``adv_cfg`` or while it is switched off, the toolbox's), made through a
``DiscStep`` over this iteration's :class:`~.host.MMGenHost`.
"""
from copy import deepcopy

import torch
from mmgen.models.builder import MODELS
from mmgen.models.common import set_requires_grad
from mmgen.models.gans import BasicConditionalGAN, StaticUnconditionalGAN

from ..errors import ConfigError
from ..methods.disc_step import DiscBatch, DiscStep
from ..methods.host import NonFiniteGuard
from ..methods.regularizers import build_regularizer, standard_disc_step
from .host import MMGenHost, label_entries, step_optimizer, unwrap


class AdversarialGANMixin:
    """The training step shared by the adversarially trained models.

    The toolbox's ``train_step`` makes the D update inline, with no seam to
    replace it: its schedule is followed here (tested update for update
    against the toolbox's), with the D update delegated.
    """

    #: the host adapter of this model's iterations
    host_class = MMGenHost

    def _init_adversarial(self, adv_cfg):
        self.adv_cfg = deepcopy(adv_cfg)
        self.adv = None
        self.nonfinite_guard = NonFiniteGuard()
        if self.discriminator is not None:
            self._check_disc_conditioning()
        if adv_cfg is not None:
            if self.discriminator is None:
                raise ConfigError('adv_cfg needs a discriminator')
            self.adv = build_regularizer(adv_cfg, self.host_class(self))

    def _check_disc_conditioning(self):
        """Refuse a discriminator that does not take this model's labels."""

    # -- pieces the unconditional and conditional models fill in ----------
    def real_batch(self, data_batch):
        raise NotImplementedError

    def sample_fakes(self, batch_size, phase):
        raise NotImplementedError

    def _current_iteration(self, running_status):
        if running_status is not None:
            return running_status['iteration']
        if not hasattr(self, 'iteration'):
            self.iteration = 0
        return self.iteration

    def train_step(self,
                   data_batch,
                   optimizer,
                   ddp_reducer=None,
                   loss_scaler=None,
                   use_apex_amp=False,
                   running_status=None):
        """One iteration: the regularized D update, then the G update every
        ``disc_steps`` iterations. Arguments as the toolbox's models'."""
        if use_apex_amp:
            raise ConfigError(
                f'{type(self).__name__} trains in fp16 through the runner\'s '
                'fp16_loss_scaler (torch GradScaler), not apex')
        curr_iter = self._current_iteration(running_status)
        host = self.host_class(self, optimizer, ddp_reducer, loss_scaler,
                               curr_iter)
        self.nonfinite_guard.begin(fp16=loss_scaler is not None)
        real, real_label = self.real_batch(data_batch)
        batch_size = real.shape[0]

        set_requires_grad(self.discriminator, True)
        if curr_iter % host.accumulation_steps == 0:
            optimizer['discriminator'].zero_grad()
        with torch.no_grad():
            fake, fake_label = self.sample_fakes(batch_size, 'disc')
        step = DiscStep(
            host, DiscBatch(real, fake, real_label, fake_label, curr_iter))
        if self.adv is None:
            standard_disc_step(step)
        else:
            self.adv.disc_step(step)
        log_vars = step.log_vars

        if (curr_iter + 1) % self.disc_steps == 0:
            log_vars_gen, fake = self._gen_step(host, batch_size)
            log_vars = {**log_vars_gen, **log_vars}
        self.nonfinite_guard.end()
        if hasattr(self, 'iteration'):
            self.iteration += 1
        return dict(
            log_vars=log_vars,
            num_samples=batch_size,
            results=dict(fake_imgs=fake.cpu(), real_imgs=real.cpu()))

    def _gen_step(self, host, batch_size):
        """The toolbox's generator update (``gen_steps`` x accumulation)."""
        set_requires_grad(self.discriminator, False)
        for _ in range(getattr(self, 'gen_steps', 1)):
            host.optimizer['generator'].zero_grad()
            for _ in range(host.accumulation_steps):
                fake, fake_label = self.sample_fakes(batch_size, 'gen')
                data = host.loss_data(
                    fake_imgs=fake,
                    disc_pred_fake_g=host.disc(fake, fake_label),
                    batch_size=batch_size,
                    **label_entries(None, fake_label))
                loss, log_vars = host.parse_losses(host.gen_terms(data))
                host.backward(loss)
            step_optimizer(host.optimizer['generator'], host.loss_scaler)
        return log_vars, fake


@MODELS.register_module()
class AdvUnconditionalGAN(AdversarialGANMixin, StaticUnconditionalGAN):
    """``StaticUnconditionalGAN`` with an adversarially trained D.

    Args:
        adv_cfg (dict | None): The regularizer, e.g. ``dict(type='ASGAN',
            eps=1.0)`` or ``dict(type='DAT', eps=1.0)``. ``None`` is the
            toolbox's model.
        num_classes (int | None): Only ``0``/``None``: lets a config that
            inherits a conditional one switch its classes off.
        Others: as ``StaticUnconditionalGAN``.
    """

    def __init__(self, *args, adv_cfg=None, num_classes=None, **kwargs):
        if num_classes:
            raise ConfigError(
                f'AdvUnconditionalGAN is unconditional: num_classes must be '
                f'0 or None, got {num_classes}; use AdvConditionalGAN')
        super().__init__(*args, **kwargs)
        self._init_adversarial(adv_cfg)

    def _check_disc_conditioning(self):
        disc = unwrap(self.discriminator)
        num_classes = getattr(disc, 'num_classes', 0)
        if num_classes:
            raise ConfigError(
                f'{type(disc).__name__} is a conditional discriminator '
                f'(num_classes={num_classes}) but AdvUnconditionalGAN has no '
                'labels to give it; use AdvConditionalGAN, or num_classes=0 '
                'for an unconditional discriminator')

    def real_batch(self, data_batch):
        return data_batch[self.real_img_key], None

    def sample_fakes(self, batch_size, phase):
        kwargs = {}
        if hasattr(self.generator, 'get_training_kwargs'):
            kwargs.update(self.generator.get_training_kwargs(phase=phase))
        return self.generator(None, num_batches=batch_size, **kwargs), None


@MODELS.register_module()
class AdvConditionalGAN(AdversarialGANMixin, BasicConditionalGAN):
    """``BasicConditionalGAN`` with an adversarially trained D; attacks
    pass each image's label (real: its class, fake: the sampled one).

    Args:
        adv_cfg (dict | None): See ``AdvUnconditionalGAN``.
        Others: as ``BasicConditionalGAN``.
    """

    def __init__(self, *args, adv_cfg=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_adversarial(adv_cfg)

    def _check_disc_conditioning(self):
        disc = unwrap(self.discriminator)
        if getattr(disc, 'num_classes', None) == 0:
            raise ConfigError(
                f'{type(self).__name__} trains a conditional generator '
                f'(num_classes={self.num_classes}), but '
                f'{type(disc).__name__} is unconditional (num_classes=0) and '
                'would never see the labels; set model.discriminator.'
                f'num_classes={self.num_classes}, or use AdvUnconditionalGAN')

    def real_batch(self, data_batch):
        return data_batch['img'], data_batch['gt_label']

    def sample_fakes(self, batch_size, phase):
        fake = self.generator(None, num_batches=batch_size, return_noise=True)
        return fake['fake_img'], fake['label']
