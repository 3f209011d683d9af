"""Real images that need no download: scikit-learn's bundled digits."""
import functools

import cv2
import numpy as np
import torch

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
