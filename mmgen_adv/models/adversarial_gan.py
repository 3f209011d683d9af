"""GAN models whose discriminator is trained adversarially (``adv_cfg``).

``AdvUnconditionalGAN`` and ``AdvConditionalGAN`` take every argument of
the toolbox's ``StaticUnconditionalGAN`` and ``BasicConditionalGAN`` plus
``adv_cfg``; a config switches to them with ``model = dict(
type='AdvUnconditionalGAN', adv_cfg=dict(type='ASGAN'))``. Without
``adv_cfg`` they are the toolbox's models, update for update.

One training iteration follows the toolbox's schedule (``disc_steps``,
``gen_steps``, ``batch_accumulation_steps``, DDP reducer, fp16 loss
scaler); the discriminator's update is delegated to the regularizer
(or, without ``adv_cfg`` or while it is switched off, is the toolbox's).
"""
import math
from copy import deepcopy

import torch
from mmgen.models.builder import MODELS
from mmgen.models.common import set_requires_grad
from mmgen.models.gans import BasicConditionalGAN, StaticUnconditionalGAN
from torch.nn.parallel.distributed import _find_tensors

from ..attacks import unwrap
from ..errors import ConfigError, NonFiniteLossError
from .builder import build_adv_regularizer
from .disc_step import DiscBatch, DiscStep
from .regularizers import STANDARD_UPDATE

# Under the fp16 loss scaler an overflowing loss is routine: the scaler
# skips that step and lowers its scale. Training stops only when the loss
# stays non-finite this many iterations in a row (the scale has been
# halved as often, 2**-16 of where it was: no longer an overflow).
MAX_NONFINITE_FP16_ITERS = 16


def disc_output(model, disc, images, labels=None):
    """The real/fake output of the discriminator module ``disc`` of
    ``model`` on ``images``, called as ``model`` calls it: this package's
    models say how (``call_discriminator``); the toolbox's GANs pass a
    conditional D its labels as ``label=``."""
    if isinstance(model, AdversarialGANMixin):
        return model.gan_output(
            model.call_discriminator(disc, images, labels))
    return disc(images) if labels is None else disc(images, label=labels)


class AdversarialGANMixin:
    """The training step shared by the adversarially trained models."""

    def _init_adversarial(self, adv_cfg):
        self.adv_cfg = deepcopy(adv_cfg)
        self.adv = None
        if self.discriminator is not None:
            self._check_disc_conditioning()
        if adv_cfg is not None:
            if self.discriminator is None:
                raise ConfigError('adv_cfg needs a discriminator')
            self.adv = build_adv_regularizer(adv_cfg, self)

    def _check_disc_conditioning(self):
        """Refuse a discriminator that does not take this model's labels."""

    @property
    def accumulation_steps(self):
        return getattr(self, 'batch_accumulation_steps', 1)

    @property
    def unwrapped_discriminator(self):
        return unwrap(self.discriminator)

    # -- pieces the unconditional and conditional models fill in ----------
    def real_batch(self, data_batch):
        raise NotImplementedError

    def sample_fakes(self, batch_size, phase):
        raise NotImplementedError

    def call_discriminator(self, disc, images, labels=None):
        """How this model calls a discriminator module ``disc`` (the
        training wrapper or the bare module) on a batch: the one place that
        knows about labels and extra heads."""
        raise NotImplementedError

    @staticmethod
    def gan_output(disc_output):
        """The real/fake part of what :meth:`call_discriminator` returns."""
        return disc_output

    def disc_forward(self, images, labels=None):
        """D on ``images`` through the training wrapper."""
        return self.call_discriminator(self.discriminator, images, labels)

    def label_entries(self, real_label, fake_label):
        """Extra keys of the toolbox's loss data dicts."""
        return {}

    def real_attack_objective(self, disc_output, labels=None):
        """What an attack on real images increases: D's loss on them."""
        return self.gan_loss(disc_output, True, is_disc=True)

    # -- losses -----------------------------------------------------------
    def disc_losses(self, batch, pred_fake, pred_real, loss_scaler=None,
                    gan_weight=1.0):
        """The toolbox's D loss terms, with the GAN terms scaled.

        Same terms, order and values as ``BaseGAN._get_disc_loss`` when
        ``gan_weight == 1``. With ``gan_weight == 0`` the clean GAN terms
        are only logged (as ``disc_fake_clean``/``disc_real_clean``).
        """
        data = dict(
            gen=self.generator,
            disc=self.discriminator,
            disc_pred_fake=pred_fake,
            disc_pred_real=pred_real,
            fake_imgs=batch.fake,
            real_imgs=batch.real,
            iteration=batch.iteration,
            batch_size=batch.batch_size,
            **self.label_entries(batch.real_label, batch.fake_label),
            loss_scaler=loss_scaler)
        terms = {}
        for side, pred in (('fake', pred_fake), ('real', pred_real)):
            value = self.gan_loss(pred, side == 'real', is_disc=True)
            if gan_weight == 0:
                terms[f'disc_{side}_clean'] = value.detach()
            else:
                terms[f'loss_disc_{side}'] = value if gan_weight == 1 else \
                    gan_weight * value
        return self._add_auxiliary_losses(
            terms, getattr(self, 'disc_auxiliary_losses', None), data)

    def gen_losses(self, data):
        """The toolbox's G loss terms (``BaseGAN._get_gen_loss``'s)."""
        terms = dict(loss_disc_fake_g=self.gan_loss(
            data['disc_pred_fake_g'], target_is_real=True, is_disc=False))
        return self._add_auxiliary_losses(
            terms, getattr(self, 'gen_auxiliary_losses', None), data)

    @staticmethod
    def _add_auxiliary_losses(terms, modules, data):
        """mmgen's auxiliary losses: skipped when they return None, summed
        when they share a name."""
        for loss_module in modules or []:
            value = loss_module(data)
            if value is None:
                continue
            name = loss_module.loss_name()
            terms[name] = terms[name] + value if name in terms else value
        return terms

    def _parse_losses(self, losses):
        loss, log_vars = super()._parse_losses(losses)
        bad = [(k, v) for k, v in log_vars.items()
               if k != 'loss' and 'loss' in k and not math.isfinite(v)]
        if not bad:
            return loss, log_vars
        terms = ', '.join(f'{k} = {v}' for k, v in bad)
        streak = getattr(self, '_nonfinite_fp16_iters', 0)
        if getattr(self, '_fp16_scaled', False):
            self._nonfinite_this_iter = True
            if streak + 1 < MAX_NONFINITE_FP16_ITERS:
                return loss, log_vars  # the scaler skips this step
            terms += (f' ({MAX_NONFINITE_FP16_ITERS} iterations in a row '
                      'under the fp16 loss scaler)')
        raise NonFiniteLossError(
            f'non-finite loss at iteration '
            f'{getattr(self, "_current_iter", "?")}: {terms}.'
            ' Training stopped before this update; the checkpoints '
            'already written are kept')

    # -- updates ----------------------------------------------------------
    def backward(self, loss, ddp_reducer=None, loss_scaler=None):
        """Backpropagate ``loss`` as one of ``accumulation_steps`` parts of
        an update, through the DDP reducer and the fp16 loss scaler."""
        loss = loss / float(self.accumulation_steps)
        # DDP's dynamic mode must be told which tensors this backward uses
        if ddp_reducer is not None:
            ddp_reducer.prepare_for_backward(_find_tensors(loss))
        if loss_scaler is not None:
            loss_scaler.scale(loss).backward()
        else:
            loss.backward()

    @staticmethod
    def optimizer_step(optimizer, loss_scaler=None):
        if loss_scaler is not None:
            loss_scaler.unscale_(optimizer)
            loss_scaler.step(optimizer)  # runner calls update()
        else:
            optimizer.step()

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
        self._current_iter = self._current_iteration(running_status)
        if use_apex_amp:
            raise ConfigError(
                f'{type(self).__name__} trains in fp16 through the runner\'s '
                'fp16_loss_scaler (torch GradScaler), not apex')
        curr_iter = self._current_iter
        self._fp16_scaled = loss_scaler is not None
        self._nonfinite_this_iter = False
        real, real_label = self.real_batch(data_batch)
        batch_size = real.shape[0]

        set_requires_grad(self.discriminator, True)
        if curr_iter % self.accumulation_steps == 0:
            optimizer['discriminator'].zero_grad()
        with torch.no_grad():
            fake, fake_label = self.sample_fakes(batch_size, 'disc')
        batch = DiscBatch(real, fake, real_label, fake_label, curr_iter)
        step = DiscStep(self, batch, optimizer, ddp_reducer, loss_scaler)
        (self.adv or STANDARD_UPDATE).disc_step(step)
        log_vars = step.log_vars

        if (curr_iter + 1) % self.disc_steps == 0:
            log_vars_gen, fake = self._gen_step(optimizer, batch_size,
                                                curr_iter, ddp_reducer,
                                                loss_scaler)
            log_vars = {**log_vars_gen, **log_vars}
        self._nonfinite_fp16_iters = getattr(
            self, '_nonfinite_fp16_iters', 0) + 1 \
            if self._nonfinite_this_iter else 0
        if hasattr(self, 'iteration'):
            self.iteration += 1
        return dict(
            log_vars=log_vars,
            num_samples=batch_size,
            results=dict(fake_imgs=fake.cpu(), real_imgs=real.cpu()))

    def _gen_step(self, optimizer, batch_size, curr_iter, ddp_reducer,
                  loss_scaler):
        """The toolbox's generator update (``gen_steps`` x accumulation)."""
        set_requires_grad(self.discriminator, False)
        for _ in range(getattr(self, 'gen_steps', 1)):
            optimizer['generator'].zero_grad()
            for _ in range(self.accumulation_steps):
                fake, fake_label = self.sample_fakes(batch_size, 'gen')
                data = dict(
                    gen=self.generator,
                    disc=self.discriminator,
                    fake_imgs=fake,
                    disc_pred_fake_g=self.disc_forward(fake, fake_label),
                    iteration=curr_iter,
                    batch_size=batch_size,
                    **self.label_entries(None, fake_label),
                    loss_scaler=loss_scaler)
                loss, log_vars = self._parse_losses(self.gen_losses(data))
                self.backward(loss, ddp_reducer, loss_scaler)
            self.optimizer_step(optimizer['generator'], loss_scaler)
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
        num_classes = getattr(self.unwrapped_discriminator, 'num_classes', 0)
        if num_classes:
            raise ConfigError(
                f'{type(self.unwrapped_discriminator).__name__} is a '
                f'conditional discriminator (num_classes={num_classes}) but '
                'AdvUnconditionalGAN has no labels to give it; use '
                'AdvConditionalGAN, or num_classes=0 for an unconditional '
                'discriminator')

    def real_batch(self, data_batch):
        return data_batch[self.real_img_key], None

    def sample_fakes(self, batch_size, phase):
        kwargs = {}
        if hasattr(self.generator, 'get_training_kwargs'):
            kwargs.update(self.generator.get_training_kwargs(phase=phase))
        return self.generator(None, num_batches=batch_size, **kwargs), None

    def call_discriminator(self, disc, images, labels=None):
        return disc(images)


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
        if getattr(self.unwrapped_discriminator, 'num_classes', None) == 0:
            raise ConfigError(
                f'{type(self).__name__} trains a conditional generator '
                f'(num_classes={self.num_classes}), but '
                f'{type(self.unwrapped_discriminator).__name__} is '
                'unconditional (num_classes=0) and would never see the '
                f'labels; set model.discriminator.num_classes='
                f'{self.num_classes}, or use AdvUnconditionalGAN')

    def real_batch(self, data_batch):
        return data_batch['img'], data_batch['gt_label']

    def sample_fakes(self, batch_size, phase):
        fake = self.generator(None, num_batches=batch_size, return_noise=True)
        return fake['fake_img'], fake['label']

    def call_discriminator(self, disc, images, labels=None):
        return disc(images, label=labels)

    def label_entries(self, real_label, fake_label):
        entries = dict(gt_label=real_label, fake_label=fake_label)
        return {k: v for k, v in entries.items() if v is not None}
