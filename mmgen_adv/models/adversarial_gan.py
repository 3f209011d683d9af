"""GAN models whose discriminator is trained adversarially (``adv_cfg``).

``AdvUnconditionalGAN`` and ``AdvConditionalGAN`` take every argument of
the toolbox's ``StaticUnconditionalGAN`` and ``BasicConditionalGAN`` plus
``adv_cfg``; a config switches to them with ``model = dict(
type='AdvUnconditionalGAN', adv_cfg=dict(type='ASGAN'))``. Without
``adv_cfg`` they are the toolbox's models, update for update.

One training iteration follows the toolbox's schedule (``disc_steps``,
``gen_steps``, ``batch_accumulation_steps``, DDP reducer, fp16 loss
scaler); the discriminator's update is delegated to the regularizer.
"""
import math
from copy import deepcopy

import torch
from mmcv.parallel import is_module_wrapper
from mmgen.models.builder import MODELS
from mmgen.models.common import set_requires_grad
from mmgen.models.gans import BasicConditionalGAN, StaticUnconditionalGAN
from torch.nn.parallel.distributed import _find_tensors

from ..errors import ConfigError, NonFiniteLossError
from .builder import build_adv_regularizer
from .regularizers import STANDARD_UPDATE


class DiscBatch:
    """The images and labels of one discriminator update."""

    def __init__(self, real, fake, real_label, fake_label, iteration):
        self.real, self.fake = real, fake
        self.real_label, self.fake_label = real_label, fake_label
        self.iteration = iteration
        self.batch_size = real.shape[0]

    def with_real(self, real):
        """The same batch with other real images (e.g. attacked ones)."""
        return DiscBatch(real, self.fake, self.real_label, self.fake_label,
                         self.iteration)

    def images(self, side):
        return self.real if side == 'real' else self.fake

    def labels(self, side):
        return self.real_label if side == 'real' else self.fake_label


class CleanForward:
    """D's predictions on the clean batch (and the inputs they came from)."""

    def __init__(self, images, pred):
        self.images, self.pred = images, pred


class DiscStep:
    """What a regularizer may do within one iteration's D update.

    Forwards go through the (possibly DDP-wrapped) discriminator, backwards
    through the DDP reducer and the fp16 loss scaler as in the toolbox, and
    an optimizer step honours batch accumulation.
    """

    def __init__(self, model, batch, optimizer, ddp_reducer, loss_scaler):
        self.model = model
        self.batch = batch
        self.optimizer = optimizer
        self.ddp_reducer = ddp_reducer
        self.loss_scaler = loss_scaler
        self.log_vars = {}
        self._pending = {}

    # forwards and losses
    def disc_forward(self, images, labels=None):
        return self.model.disc_forward(images, labels)

    def gan_loss(self, pred, target_is_real):
        return self.model.gan_loss(pred, target_is_real, is_disc=True)

    def clean_forward(self, grad_real=False, grad_fake=False):
        """D on the clean batch, fakes first as in the toolbox.

        With ``grad_*`` the inputs are leaves that require grad, so the
        standard backward also leaves ``images[side].grad``.
        """
        images = dict(
            real=self.batch.real.detach().requires_grad_(grad_real)
            if grad_real else self.batch.real,
            fake=self.batch.fake.detach().requires_grad_(grad_fake))
        pred = {}
        for side in ('fake', 'real'):
            pred[side] = self.disc_forward(images[side],
                                           self.batch.labels(side))
        return CleanForward(images, pred)

    def clean_losses(self, clean, gan_weight=1.0):
        """The toolbox's D losses on the clean batch, GAN terms weighted."""
        return self.model.disc_losses(self.batch, clean.pred['fake'],
                                      clean.pred['real'], self.loss_scaler,
                                      gan_weight)

    # updates
    def backward(self, losses):
        """Backpropagate the ``loss*`` terms of ``losses`` (a dict of
        tensors); every entry is logged at the next :meth:`step`."""
        overlap = set(losses) & set(self._pending)
        assert not overlap, f'terms logged twice in one update: {overlap}'
        self._pending.update(losses)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        if torch.is_tensor(loss) and loss.requires_grad:
            loss = loss / float(self.model.accumulation_steps)
            self.model.backward(loss, self.ddp_reducer, self.loss_scaler)

    def log(self, values):
        """Add non-loss scalar tensors to the next step's log."""
        assert not any('loss' in k for k in values), 'log losses via backward'
        self._pending.update(values)

    def step(self):
        """Log (and check) the terms since the last step, then step D.

        A non-finite term stops training here, before the weights change.
        """
        _, log_vars = self.model._parse_losses(self._pending)
        self._pending = {}
        total = self.log_vars.get('loss', 0.0) + log_vars['loss']
        self.log_vars.update(log_vars)
        self.log_vars['loss'] = total
        if (self.batch.iteration + 1) % self.model.accumulation_steps == 0:
            self.model.optimizer_step(self.optimizer['discriminator'],
                                      self.loss_scaler)

    def restart(self):
        """Prepare a second optimizer step within this iteration."""
        if self.loss_scaler is not None:
            # a GradScaler unscales an optimizer once per update()
            self.loss_scaler.update()
        self.optimizer['discriminator'].zero_grad()


class AdversarialGANMixin:
    """The training step shared by the adversarially trained models."""

    #: models that add loss terms of their own (SSGAN) always take this
    #: class's step, with the standard D update when there is no adv_cfg
    own_losses = False

    def _init_adversarial(self, adv_cfg):
        self.adv_cfg = deepcopy(adv_cfg)
        self.adv = None
        if adv_cfg is not None:
            if self.discriminator is None:
                raise ConfigError('adv_cfg needs a discriminator')
            self._check_disc_conditioning()
            self.adv = build_adv_regularizer(adv_cfg, self)

    def _check_disc_conditioning(self):
        pass

    @property
    def accumulation_steps(self):
        return getattr(self, 'batch_accumulation_steps', 1)

    @property
    def unwrapped_discriminator(self):
        disc = self.discriminator
        return disc.module if is_module_wrapper(disc) else disc

    # -- pieces the unconditional and conditional models fill in ----------
    def real_batch(self, data_batch):
        raise NotImplementedError

    def sample_fakes(self, batch_size, phase):
        raise NotImplementedError

    def disc_forward(self, images, labels=None):
        raise NotImplementedError

    def label_entries(self, real_label, fake_label):
        """Extra keys of the toolbox's loss data dicts."""
        return {}

    #: keyword arguments of D in attacks that need all of its outputs
    attack_disc_kwargs = {}

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
        if bad:
            terms = ', '.join(f'{k} = {v}' for k, v in bad)
            raise NonFiniteLossError(
                f'non-finite loss at iteration '
                f'{getattr(self, "_current_iter", "?")}: {terms}.'
                ' Training stopped before this update; the checkpoints '
                'already written are kept')
        return loss, log_vars

    # -- updates ----------------------------------------------------------
    @staticmethod
    def backward(loss, ddp_reducer=None, loss_scaler=None):
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
        update = self.adv or (STANDARD_UPDATE if self.own_losses else None)
        if update is None:
            return super().train_step(data_batch, optimizer, ddp_reducer,
                                      loss_scaler, use_apex_amp,
                                      running_status)
        if use_apex_amp:
            raise ConfigError(
                'adversarial training supports fp16 through the runner\'s '
                'fp16_loss_scaler (torch GradScaler), not apex')
        curr_iter = self._current_iter
        real, real_label = self.real_batch(data_batch)
        batch_size = real.shape[0]

        set_requires_grad(self.discriminator, True)
        if curr_iter % self.accumulation_steps == 0:
            optimizer['discriminator'].zero_grad()
        with torch.no_grad():
            fake, fake_label = self.sample_fakes(batch_size, 'disc')
        batch = DiscBatch(real, fake, real_label, fake_label, curr_iter)
        step = DiscStep(self, batch, optimizer, ddp_reducer, loss_scaler)
        update.disc_step(step)
        log_vars = step.log_vars

        if (curr_iter + 1) % self.disc_steps == 0:
            log_vars_gen, fake = self._gen_step(optimizer, batch_size,
                                                curr_iter, ddp_reducer,
                                                loss_scaler)
            log_vars = {**log_vars_gen, **log_vars}
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
                self.backward(loss / float(self.accumulation_steps),
                              ddp_reducer, loss_scaler)
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
                'AdvUnconditionalGAN has no labels to attack it with; use '
                'AdvConditionalGAN, or num_classes=0 for an unconditional '
                'discriminator')

    def real_batch(self, data_batch):
        return data_batch[self.real_img_key], None

    def sample_fakes(self, batch_size, phase):
        kwargs = {}
        if hasattr(self.generator, 'get_training_kwargs'):
            kwargs.update(self.generator.get_training_kwargs(phase=phase))
        return self.generator(None, num_batches=batch_size, **kwargs), None

    def disc_forward(self, images, labels=None):
        return self.discriminator(images)


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

    def real_batch(self, data_batch):
        return data_batch['img'], data_batch['gt_label']

    def sample_fakes(self, batch_size, phase):
        fake = self.generator(None, num_batches=batch_size, return_noise=True)
        return fake['fake_img'], fake['label']

    def disc_forward(self, images, labels=None):
        return self.discriminator(images, label=labels)

    def label_entries(self, real_label, fake_label):
        entries = dict(gt_label=real_label, fake_label=fake_label)
        return {k: v for k, v in entries.items() if v is not None}
