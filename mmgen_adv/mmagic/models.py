"""MMagic's GANs with an adversarially trained discriminator (``adv_cfg``).

``AdvSNGAN`` (also ``AdvSAGAN``), ``AdvBigGAN``, ``AdvDCGAN`` and
``AdvStyleGAN2`` take every argument of MMagic's ``SNGAN``/``SAGAN``,
``BigGAN``, ``DCGAN`` and ``StyleGAN2`` plus ``adv_cfg``. MMagic's
``train_step`` (StyleGAN2's too) already has the seam this needs: it calls
``train_discriminator`` with D's optimizer wrapper, so only that is
replaced. Without ``adv_cfg`` it is MMagic's own; with it, the
regularizer's update through a ``DiscStep`` over this update's
:class:`~.host.MMagicHost`.
"""
from copy import deepcopy

import torch
import torch.nn.functional as F
from mmagic.models.editors import BigGAN, DCGAN, SAGAN, StyleGAN2
from mmagic.models.losses import GANLoss
from mmagic.registry import MODELS

from ..errors import ConfigError
from ..methods.disc_step import DiscBatch, DiscStep
from ..methods.host import NonFiniteGuard
from ..methods.regularizers import build_regularizer
from .host import MMagicHost, StyleGAN2Host


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
        if self.adv is None:
            return super().train_discriminator(inputs, data_samples,
                                               optimizer_wrapper)
        host = self.host_class(self, optimizer_wrapper)
        self.nonfinite_guard.begin(fp16=host.fp16)
        real, real_label = self.real_batch(data_samples)
        with torch.no_grad():
            fake, fake_label = self.sample_fakes(real.shape[0])
        step = DiscStep(host, DiscBatch(real, fake, real_label, fake_label,
                                        host.iteration))
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
