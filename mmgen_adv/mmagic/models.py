"""MMagic's GANs with an adversarially trained discriminator (``adv_cfg``).

``AdvSNGAN`` (also ``AdvSAGAN``), ``AdvBigGAN``, ``AdvDCGAN`` and
``AdvStyleGAN2`` take every argument of MMagic's ``SNGAN``/``SAGAN``,
``BigGAN``, ``DCGAN`` and ``StyleGAN2`` plus ``adv_cfg``. MMagic's
``train_step`` (StyleGAN2's too) already has the seam this needs: it calls
``train_discriminator`` with D's optimizer wrapper, so only that is
replaced. Without ``adv_cfg`` it is MMagic's own; with it, the
regularizer's update through a ``DiscStep`` over this update's
:class:`~.host.MMagicHost`. ``SSGAN`` (not in MMagic) adds the rotation
task to MMagic's SNGAN, with or without ``adv_cfg``.
"""
from copy import deepcopy

import torch
import torch.nn.functional as F
from mmagic.models.editors import BigGAN, DCGAN, SAGAN, StyleGAN2
from mmagic.models.losses import GANLoss
from mmagic.registry import MODELS

from ..checks import check_number
from ..errors import ConfigError
from ..methods.disc_step import DiscBatch, DiscStep
from ..methods.host import NonFiniteGuard
from ..methods.regularizers import build_regularizer, standard_disc_step
from ..methods.rotation import NUM_ROTATIONS, rotation_terms
from .host import MMagicHost, SSGANHost, StyleGAN2Host, unwrap


class AdversarialMixin:
    """``train_discriminator`` made by a regularizer.

    A model class says which of the toolbox's losses its ``disc_loss`` is
    (``gan_type``, as ``GANLoss`` names them) and how it draws a batch:
    ``real_batch(data_samples)`` gives ``(reals, labels or None)`` and
    ``sample_fakes(num_batches)`` ``(fakes, labels or None)``, the same
    draws in the same order as its own ``train_discriminator``.
    """

    host_class = MMagicHost
    gan_loss_class = GANLoss
    gan_type = None
    #: without ``adv_cfg``, the update is the MMagic model's own
    #: ``train_discriminator`` (a model that adds terms to it says False)
    toolbox_disc_update = True

    def __init__(self, *args, adv_cfg=None, **kwargs):
        super().__init__(*args, **kwargs)  # the MMagic model's
        self.gan_loss = self.gan_loss_class(self.gan_type)
        self.adv_cfg = deepcopy(adv_cfg)
        self.adv = None
        self.nonfinite_guard = NonFiniteGuard()
        if adv_cfg is not None:
            if self.discriminator is None:
                raise ConfigError('adv_cfg needs a discriminator')
            self.adv = build_regularizer(adv_cfg, self.host_class(self))

    def train_discriminator(self, inputs, data_samples, optimizer_wrapper):
        if self.adv is None and self.toolbox_disc_update:
            return super().train_discriminator(inputs, data_samples,
                                               optimizer_wrapper)
        host = self.host_class(self, optimizer_wrapper)
        self.nonfinite_guard.begin(fp16=host.fp16)
        real, real_label = self.real_batch(data_samples)
        with torch.no_grad():
            fake, fake_label = self.sample_fakes(real.shape[0])
        step = DiscStep(host, DiscBatch(real, fake, real_label, fake_label,
                                        host.iteration))
        if self.adv is None:
            standard_disc_step(step)
        else:
            self.adv.disc_step(step)
        self.nonfinite_guard.end()
        return step.log_vars


class ConditionalDraws:
    """SAGAN's and BigGAN's draws: reals with their labels; noise, then
    labels, then G."""

    def real_batch(self, data_samples):
        labels = self.data_sample_to_label(data_samples)
        if labels is None:
            raise ConfigError(
                f"{type(self).__name__} needs 'gt_label' in every data "
                'sample, as MMagic\'s SAGAN/BigGAN')
        return data_samples.gt_img, labels

    def sample_fakes(self, num_batches):
        noise = self.noise_fn(num_batches=num_batches)
        labels = self.label_fn(num_batches=num_batches)
        fake = self.generator(noise=noise, label=labels, return_noise=False)
        return fake, labels


@MODELS.register_module('AdvSAGAN')
@MODELS.register_module()
class AdvSNGAN(AdversarialMixin, ConditionalDraws, SAGAN):
    """MMagic's ``SNGAN``/``SAGAN`` (hinge loss) with ``adv_cfg``."""

    gan_type = 'hinge'


@MODELS.register_module()
class AdvBigGAN(AdversarialMixin, ConditionalDraws, BigGAN):
    """MMagic's ``BigGAN`` (hinge loss, EMA) with ``adv_cfg``."""

    gan_type = 'hinge'


@MODELS.register_module()
class AdvDCGAN(AdversarialMixin, DCGAN):
    """MMagic's ``DCGAN`` (the non-saturating loss) with ``adv_cfg``."""

    gan_type = 'vanilla'

    def real_batch(self, data_samples):
        return data_samples.gt_img, None

    def sample_fakes(self, num_batches):
        noise = self.noise_fn(num_batches=num_batches)
        return self.generator(noise=noise, return_noise=False), None


@MODELS.register_module()
class SSGAN(AdversarialMixin, SAGAN):
    """SSGAN (Chen et al. 2019) on MMagic's SNGAN: unconditional, hinge
    loss, D also predicts which of four rotations a real image was given
    (weight 1.0) and G is trained so that its images' rotations are
    predictable (weight 0.2), as the mmgen host's ``SSGAN``.

    Args:
        disc_rotation_weight (float): D's rotation loss on reals.
        gen_rotation_weight (float): G's rotation loss on its images.
        adv_cfg (dict | None): A regularizer (SSGAN + DAT:
            ``dict(type='DAT')``); the rotation loss stays on clean reals.
        Others: as MMagic's ``SNGAN`` with ``num_classes=0`` and a
            discriminator with a rotation head (``SSGANDiscriminator``).
    """

    host_class = SSGANHost
    gan_type = 'hinge'
    toolbox_disc_update = False  # D's rotation task joins every update

    def __init__(self, *args, disc_rotation_weight=1.0,
                 gen_rotation_weight=0.2, **kwargs):
        for key, value in (('disc_rotation_weight', disc_rotation_weight),
                           ('gen_rotation_weight', gen_rotation_weight)):
            check_number('model (SSGAN)', key, value, 0.0)
        self.disc_rotation_weight = float(disc_rotation_weight)
        self.gen_rotation_weight = float(gen_rotation_weight)
        super().__init__(*args, **kwargs)
        if self.num_classes:
            raise ConfigError(
                f'SSGAN is unconditional: num_classes must be 0, got '
                f'{self.num_classes} (set model.num_classes and the '
                'generator\'s and discriminator\'s num_classes to 0)')
        disc = unwrap(self.discriminator)
        if getattr(disc, 'num_rotations', None) != NUM_ROTATIONS:
            raise ConfigError(
                'SSGAN needs a discriminator with a 4-way rotation head '
                "(model.discriminator.type='SSGANDiscriminator'); got "
                f'{type(disc).__name__}')

    def real_batch(self, data_samples):
        return data_samples.gt_img, None

    def sample_fakes(self, num_batches):
        noise = self.noise_fn(num_batches=num_batches)
        return self.generator(noise=noise, return_noise=False), None

    def train_generator(self, inputs, data_samples, optimizer_wrapper):
        """MMagic's SNGAN generator update plus the rotation term."""
        fake, _ = self.sample_fakes(len(data_samples))
        terms = {
            'loss_gen': self.gan_loss(self.discriminator(fake), True,
                                      is_disc=False)
        }
        terms.update(
            rotation_terms(self.discriminator, fake,
                           self.gen_rotation_weight, 'fake'))
        loss, log_vars = self.parse_losses(terms)
        optimizer_wrapper.update_params(loss)
        return log_vars


class SoftplusGANLoss(GANLoss):
    """The non-saturating loss in StyleGAN2's own form (``softplus``), equal
    to ``GANLoss('vanilla')`` and computed as MMagic's ``disc_loss`` does,
    so the standard update stays MMagic's to the last bit."""

    def forward(self, input, target_is_real, is_disc=False, mask=None):
        return F.softplus(-input if target_is_real else input).mean()


@MODELS.register_module()
class AdvStyleGAN2(AdversarialMixin, StyleGAN2):
    """MMagic's ``StyleGAN2`` (non-saturating loss, R1, path length, EMA)
    with ``adv_cfg``."""

    host_class = StyleGAN2Host
    gan_loss_class = SoftplusGANLoss
    gan_type = 'vanilla'

    def real_batch(self, data_samples):
        return data_samples.gt_img, None

    def sample_fakes(self, num_batches):
        noise = self.noise_fn(num_batches=num_batches)
        return self.generator(noise, return_noise=False), None
