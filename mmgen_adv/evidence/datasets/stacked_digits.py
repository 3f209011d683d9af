"""Stacked digits: the Stacked-MNIST mode-coverage protocol, offline.

Unrolled GAN, VEEGAN and PacGAN measure mode collapse on Stacked MNIST:
three random digits stacked as the three channels, 10 x 10 x 10 = 1000
modes, each mode known by construction. Here the digits are scikit-learn's
bundled ones (upsampled from 8x8), so nothing is downloaded; stacks of the
``'train'`` split use only training digits and stacks of ``'test'`` only
held-out ones.
"""
import numpy as np
import torch
from mmgen.datasets.builder import DATASETS
from torch.utils.data import Dataset

from .digits import load_digits_images, split_indices, to_model_input

NUM_MODES = 1000


def mode_of(digits):
    """Mode id (0..999) of digit triples: channel order, 100s first."""
    digits = np.asarray(digits)
    return digits[..., 0] * 100 + digits[..., 1] * 10 + digits[..., 2]


def sample_stacks(split, num_images, seed, test_fraction=0.2):
    """Indices ``(num_images, 3)`` of bundled digits forming each stack."""
    _, labels = load_digits_images(8)
    pool = split_indices(labels, split, test_fraction)
    rng = np.random.RandomState(seed)
    return pool[rng.randint(0, len(pool), size=(num_images, 3))]


@DATASETS.register_module()
class StackedDigitsDataset(Dataset):
    """Three bundled digits stacked as the channels of a 32x32 image.

    Args:
        num_images (int): Stacks in the dataset. Default 10000.
        split (str): ``'train'``, ``'test'`` (held-out digits) or ``'all'``.
        seed (int): Which stacks; the dataset is a function of it.
        img_size (int): Side length. Default 32.
        img_key (str): ``'real_img'`` (unconditional models) or ``'img'``.
        with_label (bool): Add the mode (0..999) as ``gt_label``.
        test_fraction (float): Share of each class held out.
        test_mode (bool): Accepted for the toolbox's builders.

    Attributes:
        digits (np.ndarray): ``(num_images, 3)`` digit of each channel.
        modes (np.ndarray): ``(num_images,)`` mode ids.
    """

    def __init__(self,
                 num_images=10000,
                 split='train',
                 seed=0,
                 img_size=32,
                 img_key='real_img',
                 with_label=False,
                 test_fraction=0.2,
                 test_mode=False):
        super().__init__()
        images, labels = load_digits_images(img_size)
        self.stacks = sample_stacks(split, num_images, seed, test_fraction)
        self.images = images
        self.digits = labels[self.stacks]
        self.modes = mode_of(self.digits)
        self.img_key = img_key
        self.with_label = with_label

    def __len__(self):
        return len(self.stacks)

    def image(self, idx):
        """``(H, W, 3)`` uint8: channel ``c`` is digit ``stacks[idx, c]``."""
        return np.stack([self.images[i] for i in self.stacks[idx]], axis=-1)

    def __getitem__(self, idx):
        sample = {self.img_key: to_model_input(self.image(idx)[None])[0]}
        if self.with_label:
            sample['gt_label'] = torch.tensor(
                int(self.modes[idx]), dtype=torch.long)
        return sample
