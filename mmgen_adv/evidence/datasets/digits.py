"""Real images that need no download: scikit-learn's bundled digits."""
import functools

import cv2
import numpy as np
import torch
from mmgen.datasets.builder import DATASETS
from mmgen.datasets.pipelines import Compose
from torch.utils.data import Dataset

SPLITS = ('all', 'train', 'test')


@functools.lru_cache(maxsize=8)
def load_digits_images(img_size):
    """The 1797 bundled 8x8 digits as ``uint8`` arrays of ``img_size`` px.

    Returns:
        tuple[np.ndarray, np.ndarray]: images ``(N, img_size, img_size)``
        (bright strokes on black) and labels ``(N,)`` in 0..9.
    """
    from sklearn.datasets import load_digits
    digits = load_digits()
    scaled = (digits.images * (255.0 / 16.0)).astype(np.float32)
    resized = np.stack([
        cv2.resize(img, (img_size, img_size), interpolation=cv2.INTER_CUBIC)
        for img in scaled
    ])
    images = np.clip(np.rint(resized), 0, 255).astype(np.uint8)
    return images, digits.target.astype(np.int64)


def split_indices(labels, split, test_fraction=0.2, seed=0):
    """Indices of a stratified, seeded train/test split (or all of them)."""
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    if split == 'all':
        return np.arange(len(labels))
    rng = np.random.RandomState(seed)
    test = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        rng.shuffle(members)
        test.extend(members[:int(round(len(members) * test_fraction))])
    test = np.sort(np.asarray(test))
    if split == 'test':
        return test
    return np.setdiff1d(np.arange(len(labels)), test)


def to_model_input(images_uint8):
    """``(N, H, W, C)`` uint8 -> ``(N, C, H, W)`` float in [-1, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(images_uint8))
    return tensor.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


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
