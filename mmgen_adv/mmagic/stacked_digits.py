"""Stacked digits (1000 modes, offline) in MMagic's registries: the dataset
(``DATASETS``) and the ``StackedDigits`` metric (``METRICS``).

Both wrap :mod:`mmgen_adv.evidence.digits`, as the mmgen host's do, so the
two hosts train on the same stacks and score with the same classifier and
statistics. What differs is MMagic's conventions:

* images: the dataset gives each stack as ``gt`` (``H x W x 3`` uint8,
  channel ``c`` the ``c``-th digit, declared ``'RGB'``); the pipeline
  (``PackInputs``) makes it ``gt_img``, and the data preprocessor scales it
  to [-1, 1] and, as MMagic's CIFAR configs do, converts it to BGR, the
  order MMagic's models and metrics work in;
* generated images reach a metric in [0, 255] (``destruct``), in the
  order the model works in: the metric brings them back to the dataset's
  order and to [-1, 1], which is what the mmgen metric reads.
"""
import numpy as np
import torch
from mmagic.datasets.transforms import PackInputs
from mmagic.evaluation.metrics.base_gen_metric import GenerativeMetric
from mmagic.evaluation.metrics.fid import FrechetInceptionDistance
from mmagic.registry import DATASETS, METRICS
from mmengine import print_log
from mmengine.dataset import BaseDataset

from ..evidence.digits.images import load_digits_images
from ..evidence.digits.scores import StackedDigitsScorer
from ..evidence.digits.stacks import mode_of, sample_stacks, stack_images

STACK_ORDER = 'RGB'  # channel c of a stack is its c-th digit


@DATASETS.register_module()
class StackedDigitsDataset(BaseDataset):
    """Three bundled digits stacked as the channels of an image; the same
    stacks as the mmgen host's ``StackedDigitsDataset`` for the same
    arguments.

    Args:
        num_images (int): Stacks in the dataset. Default 10000.
        split (str): ``'train'``, ``'test'`` (held-out digits) or ``'all'``.
        seed (int): Which stacks; the dataset is a function of it.
        img_size (int): Side length. Default 32.
        with_label (bool): Add the mode (0..999) as ``gt_label``.
        test_fraction (float): Share of each class held out.
        pipeline (list, optional): MMagic transforms; default
            ``[PackInputs()]``.
        **kwargs: Other arguments of mmengine's ``BaseDataset``.

    Attributes:
        stacks (np.ndarray): ``(num_images, 3)`` bundled digit of each
            channel; ``digits`` its label, ``modes`` the stack's mode id.
    """

    def __init__(self,
                 num_images=10000,
                 split='train',
                 seed=0,
                 img_size=32,
                 with_label=False,
                 test_fraction=0.2,
                 pipeline=None,
                 **kwargs):
        self.num_images = num_images
        self.split = split
        self.seed = seed
        self.img_size = img_size
        self.with_label = with_label
        self.test_fraction = test_fraction
        super().__init__(
            pipeline=[PackInputs()] if pipeline is None else pipeline,
            **kwargs)

    def load_data_list(self):
        images, labels = load_digits_images(self.img_size)
        self.stacks = sample_stacks(self.split, self.num_images, self.seed,
                                    self.test_fraction)
        self.digits = labels[self.stacks]
        self.modes = mode_of(self.digits)
        data_list = []
        for stack, mode in zip(self.stacks, self.modes):
            info = dict(gt=stack_images(images, stack),
                        gt_channel_order=STACK_ORDER)
            if self.with_label:
                info['gt_label'] = int(mode)
            data_list.append(info)
        return data_list


def generated_image(sample, sample_model):
    """The generated image of one of MMagic's output samples (``orig`` or
    ``ema`` when a model gives both), as MMagic's FID finds it."""
    if sample_model in sample:
        sample = sample[sample_model]
    return sample['fake_img']


@METRICS.register_module()
class StackedDigits(GenerativeMetric):
    """Modes covered of 1000 (``modes``), KL from uniform (``kl``) and the
    classifier Frechet distance (``fd``) of a stacked-digits generator,
    sampled as MMagic's FID samples it; the mmgen host's numbers for the
    same images.

    Args:
        fake_nums (int): Generated images. Default 10000.
        num_real (int): Held-out real stacks for the Frechet distance.
        real_seed (int): Seed of those stacks.
        batch_size (int): Digits per classifier pass.
        cache_dir (str, optional): Where the classifier is cached.
        sample_model (str): ``'orig'`` or ``'ema'``. Default ``'orig'``.
        **kwargs: Other arguments of MMagic's ``GenerativeMetric``.
    """

    default_prefix = 'StackedDigits'

    def __init__(self,
                 fake_nums=10000,
                 num_real=10000,
                 real_seed=1,
                 batch_size=500,
                 cache_dir=None,
                 sample_model='orig',
                 **kwargs):
        super().__init__(fake_nums, sample_model=sample_model, **kwargs)
        self.scorer = StackedDigitsScorer(FrechetInceptionDistance._calc_fid,
                                          num_real, real_seed, cache_dir,
                                          batch_size)
        self.generated_order = None

    def prepare(self, module, dataloader):
        super().prepare(module, dataloader)  # the model's data preprocessor
        # the model works in the order its preprocessor converts the
        # stacks to (none: the stacks' own)
        self.generated_order = getattr(self.data_preprocessor,
                                       'output_channel_order',
                                       None) or STACK_ORDER
        self.scorer.prepare()

    def to_stack_input(self, images):
        """Generated ``(N, 3, H, W)`` images in [0, 255], in the model's
        channel order -> the stacks' order in [-1, 1]."""
        if self.generated_order.upper() != STACK_ORDER:
            images = images.flip(1)
        return images.float().cpu().div(127.5).sub(1.0)

    def process(self, data_batch, data_samples):
        if len(self.fake_results) >= self.fake_nums_per_device:
            return
        images = torch.stack(
            [generated_image(s, self.sample_model) for s in data_samples])
        modes, feats = self.scorer.describe(self.to_stack_input(images))
        # one float64 row per image, its features and (exactly) its mode:
        # what the gather across ranks and the final cut to fake_nums need
        rows = torch.cat([feats.double(), modes.double()[:, None]], dim=1)
        self.fake_results += list(torch.split(rows, 1))

    def compute_metrics(self, results):
        rows = torch.cat(list(results)).numpy()
        scores = self.scorer.scores(rows[:, -1].astype(int),
                                    np.ascontiguousarray(rows[:, :-1]))
        print_log(f'StackedDigits: {self.scorer.summary_line(scores)}',
                  'current')
        return scores
