"""SSGAN: self-supervised GAN with rotation prediction (Chen et al. 2019).

The discriminator also predicts which of four rotations an image was given.
It is trained to do so on real images (weight 1.0); the generator is
trained so that its images' rotations are predictable too (weight 0.2).
The GAN loss sees upright images only. These are the settings of
compare_gan and mimicry (the code base of the DAT paper).

``SSGAN`` takes ``adv_cfg`` exactly like ``AdvUnconditionalGAN``: SSGAN +
DAT is one config. The rotation loss stays on clean real images, as in the
DAT paper's official code.
"""
import torch
import torch.nn.functional as F
from mmgen.models.builder import MODELS

from ..errors import ConfigError
from ..settings import check_number
from .adversarial_gan import AdvUnconditionalGAN

NUM_ROTATIONS = 4


def rotate_quarters(images):
    """Rotate each image by ``k * 90`` degrees, ``k = i * 4 // N``.

    Every rotation gets a quarter of the batch (mimicry's scheme; the batch
    keeps its size). Returns the rotated images and ``k`` as labels.
    """
    num = images.shape[0]
    labels = torch.arange(num, device=images.device) * NUM_ROTATIONS // num
    # the quarters' bounds from host integers: no device sync per image
    bounds = [-(-k * num // NUM_ROTATIONS) for k in range(NUM_ROTATIONS + 1)]
    rotated = torch.cat([
        torch.rot90(images[bounds[k]:bounds[k + 1]], k, dims=(2, 3))
        for k in range(NUM_ROTATIONS)
    ])
    return rotated, labels


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
        rotations = getattr(self.unwrapped_discriminator, 'num_rotations',
                            None)
        if rotations != NUM_ROTATIONS:
            raise ConfigError(
                'SSGAN needs a discriminator with a 4-way rotation head '
                "(model.discriminator.type='SSGANDiscriminator'); got "
                f'{type(self.unwrapped_discriminator).__name__}')

    def rotation_loss(self, images):
        """Cross-entropy of D's rotation head, and its accuracy."""
        rotated, labels = rotate_quarters(images)
        _, logits = self.discriminator(rotated, return_aux=True)
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        return F.cross_entropy(logits, labels), accuracy.detach()

    def disc_losses(self, batch, pred_fake, pred_real, loss_scaler=None,
                    gan_weight=1.0):
        terms = super().disc_losses(batch, pred_fake, pred_real, loss_scaler,
                                    gan_weight)
        if self.disc_rotation_weight > 0:
            loss, accuracy = self.rotation_loss(batch.real)
            terms['loss_disc_rotation'] = self.disc_rotation_weight * loss
            terms['rotation_acc_real'] = accuracy
        return terms

    def gen_losses(self, data):
        terms = super().gen_losses(data)
        if self.gen_rotation_weight > 0:
            loss, accuracy = self.rotation_loss(data['fake_imgs'])
            terms['loss_gen_rotation'] = self.gen_rotation_weight * loss
            terms['rotation_acc_fake'] = accuracy
        return terms
