"""The bundled digits as an mmgen dataset (the images themselves:
:mod:`mmgen_adv.evidence.digits.images`, shared with the MMagic host)."""
import numpy as np
import torch
from mmgen.datasets.builder import DATASETS
from mmgen.datasets.pipelines import Compose
from torch.utils.data import Dataset

from ..digits.images import (SPLITS, load_digits_images,  # noqa: F401
                             split_indices, to_model_input)


@DATASETS.register_module()
class DigitsDataset(Dataset):
    """scikit-learn's bundled handwritten digits as small RGB images.

    1797 images of 10 classes, upsampled from 8x8 and repeated over three
    channels. Ships with scikit-learn, so training needs no download.

    Args:
        img_size (int): Output side length in pixels. Defaults to 32.
        split (str): ``'all'``, or the ``'train'``/``'test'`` part of a
            stratified split. Defaults to ``'all'``.
        test_fraction (float): Share of each class held out for ``'test'``.
        split_seed (int): Seed of the split.
        img_key (str): Key of the image in a sample: ``'real_img'`` for the
            toolbox's unconditional models, ``'img'`` for conditional ones.
        with_label (bool): Add ``gt_label`` to each sample.
        pipeline (list[dict] | None): mmgen pipeline applied to
            ``{img_key: HxWx3 uint8, 'gt_label': int}``. ``None`` returns a
            float tensor in [-1, 1] directly.
        test_mode (bool): Accepted for the toolbox's builders; unused.
    """

    def __init__(self,
                 img_size=32,
                 split='all',
                 test_fraction=0.2,
                 split_seed=0,
                 img_key='real_img',
                 with_label=False,
                 pipeline=None,
                 test_mode=False):
        super().__init__()
        images, labels = load_digits_images(img_size)
        index = split_indices(labels, split, test_fraction, split_seed)
        self.images = np.repeat(images[index, :, :, None], 3, axis=3)
        self.labels = labels[index]
        self.img_key = img_key
        self.with_label = with_label
        self.pipeline = Compose(pipeline) if pipeline else None
        self.CLASSES = tuple(str(i) for i in range(10))

    def __len__(self):
        return len(self.images)

    def __getitem__(self, idx):
        label = int(self.labels[idx])
        if self.pipeline is not None:
            results = {self.img_key: self.images[idx].copy()}
            if self.with_label:
                results['gt_label'] = np.int64(label)
            return self.pipeline(results)
        sample = {self.img_key: to_model_input(self.images[idx:idx + 1])[0]}
        if self.with_label:
            sample['gt_label'] = torch.tensor(label, dtype=torch.long)
        return sample
