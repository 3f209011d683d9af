"""SSGAN: self-supervised GAN with rotation prediction (Chen et al. 2019).

The discriminator also predicts which of four rotations an image was given
(:mod:`mmgen_adv.methods.rotation`). It is trained to do so on real images
(weight 1.0); the generator is trained so that its images' rotations are
predictable too (weight 0.2). The GAN loss sees upright images only. These
are the settings of compare_gan and mimicry (the code base of the DAT
paper).

``SSGAN`` takes ``adv_cfg`` exactly like ``AdvUnconditionalGAN``: SSGAN +
DAT is one config. The rotation loss stays on clean real images, as in the
DAT paper's official code.
"""
from mmgen.models.builder import MODELS

from ..checks import check_number
from ..errors import ConfigError
from ..methods.rotation import (NUM_ROTATIONS, RotationTaskHost,
                                rotation_terms)
from .adversarial_gan import AdvUnconditionalGAN
from .host import MMGenHost, unwrap


class SSGANHost(RotationTaskHost, MMGenHost):
    """An SSGAN iteration: the toolbox's terms plus the rotation task (D's,
    :class:`~mmgen_adv.methods.rotation.RotationTaskHost`; G's here)."""

    def __init__(self, model, *args, **kwargs):
        super().__init__(model, *args, **kwargs)
        self.gen_rotation_weight = model.gen_rotation_weight

    def gen_terms(self, data):
        terms = super().gen_terms(data)
        terms.update(
            rotation_terms(self.wrapped_discriminator, data['fake_imgs'],
                           self.gen_rotation_weight, 'fake'))
        return terms


@MODELS.register_module()
class SSGAN(AdvUnconditionalGAN):
    """Unconditional GAN with a rotation-prediction task for D and G.

    Args:
        disc_rotation_weight (float): Weight of D's rotation cross-entropy
            on real images. Defaults to 1.0.
        gen_rotation_weight (float): Weight of G's rotation cross-entropy
            on its images. Defaults to 0.2.
        adv_cfg (dict | None): An adversarial regularizer, as for
            ``AdvUnconditionalGAN`` (e.g. ``dict(type='DAT')``).
        Others: as ``StaticUnconditionalGAN``; the discriminator needs a
            rotation head (``SSGANDiscriminator``).
    """
    host_class = SSGANHost

    def __init__(self,
                 *args,
                 disc_rotation_weight=1.0,
                 gen_rotation_weight=0.2,
                 **kwargs):
        check_number('model (SSGAN)', 'disc_rotation_weight',
                     disc_rotation_weight, 0.0)
        check_number('model (SSGAN)', 'gen_rotation_weight',
                     gen_rotation_weight, 0.0)
        self.disc_rotation_weight = float(disc_rotation_weight)
        self.gen_rotation_weight = float(gen_rotation_weight)
        super().__init__(*args, **kwargs)

    def _check_disc_conditioning(self):
        super()._check_disc_conditioning()
        disc = unwrap(self.discriminator)
        if getattr(disc, 'num_rotations', None) != NUM_ROTATIONS:
            raise ConfigError(
                'SSGAN needs a discriminator with a 4-way rotation head '
                "(model.discriminator.type='SSGANDiscriminator'); got "
                f'{type(disc).__name__}')
