"""SSGAN's self-supervised task (Chen et al. 2019): D predicts which of four
rotations an image was given. The settings of compare_gan and mimicry (the
code base of the DAT paper): every rotation gets a quarter of the batch."""
import torch
import torch.nn.functional as F

from .host import call_disc

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


def rotation_loss(rotation_logits_of, images):
    """Cross-entropy of D's rotation head on the rotated ``images``, and its
    accuracy; ``rotation_logits_of`` maps images to that head's logits."""
    rotated, labels = rotate_quarters(images)
    logits = rotation_logits_of(rotated)
    accuracy = (logits.argmax(dim=1) == labels).float().mean()
    return F.cross_entropy(logits, labels), accuracy.detach()


def rotation_terms(disc, images, weight, side):
    """SSGAN's rotation terms as both hosts log them: ``weight`` times the
    cross-entropy of ``disc``'s rotation head on the rotated ``images`` of
    ``side`` (D learns on reals: ``loss_disc_rotation``; G on its fakes:
    ``loss_gen_rotation``), and the head's accuracy; none at weight 0.
    ``disc`` is called as the model calls it (through its wrapper)."""
    if weight == 0:
        return {}
    loss, accuracy = rotation_loss(
        lambda x: call_disc(disc, x, aux=True)[1], images)
    learner = 'disc' if side == 'real' else 'gen'
    return {
        f'loss_{learner}_rotation': weight * loss,
        f'rotation_acc_{side}': accuracy
    }


class RotationTaskHost:
    """SSGAN's D terms for any host: mixed in before a
    :class:`~mmgen_adv.methods.host.DiscHost` of a model with
    ``disc_rotation_weight``, it adds D's rotation task on the clean reals
    (through the host's ``wrapped_discriminator``) to the toolbox's terms."""

    def __init__(self, model, *args, **kwargs):
        super().__init__(model, *args, **kwargs)
        self.disc_rotation_weight = model.disc_rotation_weight

    def disc_terms(self, batch, pred_fake, pred_real, gan_weight=1.0):
        terms = super().disc_terms(batch, pred_fake, pred_real, gan_weight)
        terms.update(
            rotation_terms(self.wrapped_discriminator, batch.real,
                           self.disc_rotation_weight, 'real'))
        return terms
