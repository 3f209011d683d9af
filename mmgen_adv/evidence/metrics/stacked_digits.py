"""Mode coverage and quality of stacked-digit generators as an mmgen metric.

The scores (``modes`` covered of 1000, ``kl`` from uniform, the classifier
Frechet distance ``fd``) are :mod:`mmgen_adv.evidence.digits.scores`',
shared with the MMagic host. Registered in mmgen's ``METRICS``: usable in
``GenerativeEvalHook`` and ``tools/evaluation.py`` (``--eval
stacked_digits`` with a ``metrics`` entry).
"""
import torch
import torch.distributed as dist
from mmgen.core.evaluation.metrics import FID, Metric
from mmgen.core.registry import METRICS

from ..digits.scores import StackedDigitsScorer


def gather(tensor):
    """Concatenate ``tensor`` from every rank (identity when alone)."""
    if not (dist.is_available() and dist.is_initialized()):
        return tensor
    parts = [torch.zeros_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor)
    return torch.cat(parts)


@METRICS.register_module()
class StackedDigits(Metric):
    """Modes covered, KL from uniform and a classifier-feature Frechet
    distance for generators of stacked digits (1000 modes), over the
    generator's images in [-1, 1].

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
        self.scorer = StackedDigitsScorer(FID._calc_fid, num_real,
                                          real_seed, cache_dir, batch_size)
        # real statistics come from held-out stacks, not the data loader
        self.num_real_feeded = self.num_real_need
        self.fake_feats, self.fake_modes = [], []

    def describe(self, images):
        """Modes ``(N,)`` and features ``(N, 384)`` of ``(N, 3, H, W)``
        images in [-1, 1]."""
        return self.scorer.describe(images)

    def prepare(self):
        self.scorer.prepare()

    def feed_op(self, batch, mode):
        if mode == 'reals':
            return
        modes, feats = self.describe(batch)
        self.fake_modes.append(gather(modes.to(batch.device)).cpu())
        self.fake_feats.append(gather(feats.to(batch.device)).cpu())

    @torch.no_grad()
    def summary(self):
        modes = torch.cat(self.fake_modes)[:self.num_images].numpy()
        feats = torch.cat(self.fake_feats)[:self.num_images].double().numpy()
        self._result_dict = self.scorer.scores(modes, feats)
        self._result_str = self.scorer.summary_line(self._result_dict)
        return self._result_dict

    def clear_fake_data(self):
        self.fake_feats, self.fake_modes = [], []
        self.num_fake_feeded = 0

    def clear(self, clear_reals=False):
        self.clear_fake_data()
        if clear_reals:
            self.scorer.forget_reals()
