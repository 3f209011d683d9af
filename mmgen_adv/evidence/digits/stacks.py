"""Stacks of three bundled digits: the Stacked-MNIST mode-coverage protocol.

Unrolled GAN, VEEGAN and PacGAN measure mode collapse on Stacked MNIST:
three random digits stacked as the three channels, 10 x 10 x 10 = 1000
modes, each mode known by construction. Here the digits are scikit-learn's
bundled ones, so nothing is downloaded; stacks of the ``'train'`` split use
only training digits and stacks of ``'test'`` only held-out ones. Channel
``c`` of a stack is its ``c``-th digit (R, G, B in that order).
"""
import numpy as np

from .images import load_digits_images, split_indices

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


def stack_images(images, stacks):
    """``(..., H, W, 3)`` uint8 stacks: channel ``c`` is digit
    ``stacks[..., c]`` of ``images`` (``(N, H, W)``, from
    :func:`load_digits_images`)."""
    return np.moveaxis(images[np.asarray(stacks)], -3, -1)
