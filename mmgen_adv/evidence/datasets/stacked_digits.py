"""Stacked digits (1000 modes, offline) as an mmgen dataset; the stacks
themselves: :mod:`mmgen_adv.evidence.digits.stacks`, shared with the MMagic
host."""
import torch
from mmgen.datasets.builder import DATASETS
from torch.utils.data import Dataset

from ..digits.images import load_digits_images, to_model_input
from ..digits.stacks import (NUM_MODES, mode_of,  # noqa: F401
                             sample_stacks, stack_images)


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
        return stack_images(self.images, self.stacks[idx])

    def __getitem__(self, idx):
        sample = {self.img_key: to_model_input(self.image(idx)[None])[0]}
        if self.with_label:
            sample['gt_label'] = torch.tensor(
                int(self.modes[idx]), dtype=torch.long)
        return sample
