"""Mode coverage and quality of stacked-digit generators.

Over ``num_images`` generated images, each channel is read by a digit
classifier trained on the bundled digits, giving one of 1000 modes:

* ``modes``: modes covered (at least one image), out of 1000;
* ``kl``: KL divergence of the mode histogram from uniform (0 is ideal,
  ``log 1000 = 6.91`` is a single mode);
* ``fd``: Frechet distance between the classifier's features (the three
  channels' 128-d features, concatenated) of the generated images and of
  ``num_real`` held-out stacks (digits never seen in training).

Registered in mmgen's ``METRICS``: usable in ``GenerativeEvalHook`` and
``tools/evaluation.py`` (``--eval stacked_digits`` with a ``metrics`` entry).
"""
import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from mmgen.core.evaluation.metrics import FID, Metric
from mmgen.core.registry import METRICS

from ..datasets.stacked_digits import NUM_MODES, StackedDigitsDataset, mode_of
from .digit_classifier import load_classifier


def gather(tensor):
    """Concatenate ``tensor`` from every rank (identity when alone)."""
    if not (dist.is_available() and dist.is_initialized()):
        return tensor
    parts = [torch.zeros_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor)
    return torch.cat(parts)


def mode_statistics(modes):
    """``(modes covered, KL from uniform)`` of an array of mode ids."""
    counts = np.bincount(np.asarray(modes), minlength=NUM_MODES)
    p = counts / counts.sum()
    present = p > 0
    kl = float(np.sum(p[present] * np.log(p[present] * NUM_MODES)))
    return int(present.sum()), kl


@METRICS.register_module()
class StackedDigits(Metric):
    """Modes covered, KL from uniform and a classifier-feature Frechet
    distance for generators of stacked digits (1000 modes).

    Args:
        num_images (int): Generated images. Default 10000.
        num_real (int): Held-out real stacks for the Frechet distance.
        real_seed (int): Seed of those stacks.
        cache_dir (str, optional): Where the classifier is cached.
        batch_size (int): Images per classifier pass.
    """
    name = 'StackedDigits'

    def __init__(self,
                 num_images=10000,
                 num_real=10000,
                 real_seed=1,
                 image_shape=None,
                 cache_dir=None,
                 batch_size=500):
        super().__init__(num_images, image_shape)
        self.num_real = num_real
        self.real_seed = real_seed
        self.batch_size = batch_size
        self.classifier, self.classifier_accuracy = load_classifier(cache_dir)
        self.real_mean = self.real_cov = None
        # real statistics come from held-out stacks, not the data loader
        self.num_real_feeded = self.num_real_need
        self.fake_feats, self.fake_modes = [], []

    @torch.no_grad()
    def describe(self, images):
        """Modes ``(N,)`` and features ``(N, 384)`` of ``(N, 3, H, W)``
        images in [-1, 1]."""
        images = images.float().cpu()
        if images.shape[-2:] != (32, 32):
            images = F.interpolate(
                images, size=(32, 32), mode='bilinear', align_corners=False)
        n = images.shape[0]
        channels = images.reshape(n * 3, 1, 32, 32)
        feats = torch.cat([
            self.classifier.features(channels[i:i + self.batch_size])
            for i in range(0, len(channels), self.batch_size)
        ])
        digits = self.classifier.head(feats).argmax(1).view(n, 3)
        return torch.from_numpy(mode_of(digits.numpy())), feats.view(n, -1)

    def prepare(self):
        if self.real_mean is not None:
            return
        reals = StackedDigitsDataset(
            num_images=self.num_real, split='test', seed=self.real_seed)
        images = torch.stack([reals[i]['real_img'] for i in range(len(reals))])
        _, feats = self.describe(images)
        feats = feats.double().numpy()
        self.real_mean = feats.mean(0)
        self.real_cov = np.cov(feats, rowvar=False)

    def feed_op(self, batch, mode):
        if mode == 'reals':
            return
        modes, feats = self.describe(batch)
        self.fake_modes.append(gather(modes.to(batch.device)).cpu())
        self.fake_feats.append(gather(feats.to(batch.device)).cpu())

    @torch.no_grad()
    def summary(self):
        self.prepare()
        modes = torch.cat(self.fake_modes)[:self.num_images].numpy()
        feats = torch.cat(self.fake_feats)[:self.num_images].double().numpy()
        covered, kl = mode_statistics(modes)
        fd, _, _ = FID._calc_fid(
            feats.mean(0), np.cov(feats, rowvar=False), self.real_mean,
            self.real_cov)
        self._result_dict = dict(modes=covered, kl=kl, fd=float(fd))
        self._result_str = (
            f'modes {covered}/{NUM_MODES}, KL {kl:.3f}, FD {fd:.2f} (digit '
            f'classifier: {self.classifier_accuracy:.1%} held-out accuracy)')
        return self._result_dict

    def clear_fake_data(self):
        self.fake_feats, self.fake_modes = [], []
        self.num_fake_feeded = 0

    def clear(self, clear_reals=False):
        self.clear_fake_data()
        if clear_reals:
            self.real_mean = self.real_cov = None
