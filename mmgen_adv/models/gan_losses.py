"""Per-sample values of the toolbox's GAN loss."""
from torch.func import vmap


def per_sample_gan_loss(gan_loss, pred, target_is_real, is_disc=True):
    """``gan_loss`` evaluated on each sample alone: shape ``(N,)``.

    The mean over the batch equals ``gan_loss(pred, target_is_real,
    is_disc)`` for every ``gan_type`` of mmgen's ``GANLoss``; computing it
    through the module itself keeps label values and loss weights exact.
    """
    return vmap(lambda p: gan_loss(p.unsqueeze(0), target_is_real, is_disc))(
        pred)


def per_sample_output(pred):
    """The discriminator's raw output averaged per sample: ``(N,)``."""
    return pred.reshape(pred.shape[0], -1).mean(dim=1)
