"""Scores of generated stacks, read by the digit classifier.

Each channel of an image is read as a digit, giving one of 1000 modes:

* ``modes``: modes covered (at least one image), out of 1000;
* ``kl``: KL divergence of the mode histogram from uniform (0 is ideal,
  ``log 1000 = 6.91`` is a single mode);
* ``fd``: Frechet distance between the classifier's features (the three
  channels' 128-d features, concatenated) of the generated images and of
  ``num_real`` held-out real stacks (digits never seen in training).

Images are ``(N, 3, H, W)`` floats in [-1, 1], channel ``c`` the ``c``-th
digit of the stack (as the datasets give them); a host's metric brings its
generator's output there.
"""
import numpy as np
import torch
import torch.nn.functional as F

from .classifier import load_classifier
from .images import load_digits_images, to_model_input
from .stacks import NUM_MODES, mode_of, sample_stacks, stack_images

SIDE = 32  # the classifier reads 32x32 digits


def mode_statistics(modes):
    """``(modes covered, KL from uniform)`` of an array of mode ids."""
    counts = np.bincount(np.asarray(modes), minlength=NUM_MODES)
    p = counts / counts.sum()
    present = p > 0
    kl = float(np.sum(p[present] * np.log(p[present] * NUM_MODES)))
    return int(present.sum()), kl


def real_stacks(num_images, seed, split='test'):
    """``num_images`` real stacks of ``split`` as ``(N, 3, 32, 32)`` floats
    in [-1, 1]."""
    images, _ = load_digits_images(SIDE)
    stacks = sample_stacks(split, num_images, seed)
    return to_model_input(stack_images(images, stacks))


class StackedDigitsScorer:
    """The digit classifier, the held-out real stacks' feature statistics
    and the scores of generated stacks against them.

    Args:
        frechet_distance (callable): The host toolbox's FID formula,
            ``(mean1, cov1, mean2, cov2) -> (distance, ...)`` (mmgen's
            ``FID._calc_fid``, MMagic's
            ``FrechetInceptionDistance._calc_fid``): the distance is the
            toolbox's own, computed on the classifier's features.
        num_real (int): Held-out real stacks for the Frechet distance.
        real_seed (int): Seed of those stacks.
        cache_dir (str, optional): Where the classifier is cached.
        batch_size (int): Digits per classifier pass.
    """

    def __init__(self, frechet_distance, num_real=10000, real_seed=1,
                 cache_dir=None, batch_size=500):
        self.frechet_distance = frechet_distance
        self.num_real = num_real
        self.real_seed = real_seed
        self.batch_size = batch_size
        self.classifier, self.classifier_accuracy = load_classifier(cache_dir)
        self.real_mean = self.real_cov = None

    @torch.no_grad()
    def describe(self, images):
        """Modes ``(N,)`` and features ``(N, 384)`` of ``(N, 3, H, W)``
        images in [-1, 1]."""
        images = images.float().cpu()
        if images.shape[-2:] != (SIDE, SIDE):
            images = F.interpolate(
                images, size=(SIDE, SIDE), mode='bilinear',
                align_corners=False)
        n = images.shape[0]
        channels = images.reshape(n * 3, 1, SIDE, SIDE)
        feats = torch.cat([
            self.classifier.features(channels[i:i + self.batch_size])
            for i in range(0, len(channels), self.batch_size)
        ])
        digits = self.classifier.head(feats).argmax(1).view(n, 3)
        return torch.from_numpy(mode_of(digits.numpy())), feats.view(n, -1)

    def prepare(self):
        """Compute the real stacks' feature mean and covariance (once)."""
        if self.real_mean is not None:
            return
        _, feats = self.describe(real_stacks(self.num_real, self.real_seed))
        feats = feats.double().numpy()
        self.real_mean = feats.mean(0)
        self.real_cov = np.cov(feats, rowvar=False)

    def forget_reals(self):
        self.real_mean = self.real_cov = None

    def scores(self, modes, feats):
        """``{'modes', 'kl', 'fd'}`` of generated stacks, from their modes
        ``(N,)`` and float64 features ``(N, 384)`` (numpy arrays)."""
        if len(feats) < 2:
            # one image has no covariance (NaN), on which sqrtm never ends
            raise ValueError('the Frechet distance needs at least 2 '
                             f'generated images, got {len(feats)}')
        self.prepare()
        covered, kl = mode_statistics(modes)
        fd = self.frechet_distance(feats.mean(0), np.cov(feats, rowvar=False),
                                   self.real_mean, self.real_cov)[0]
        return dict(modes=covered, kl=kl, fd=float(fd))

    def summary_line(self, scores):
        return (f"modes {scores['modes']}/{NUM_MODES}, KL {scores['kl']:.3f}"
                f", FD {scores['fd']:.2f} (digit classifier: "
                f'{self.classifier_accuracy:.1%} held-out accuracy)')
