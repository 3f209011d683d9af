"""A digit classifier for the stacked-digits metrics, trained here.

Trained on the training split of scikit-learn's bundled digits (32x32, one
channel), checked on the held-out split, and cached on disk under a hash of
everything that determines it (data, architecture, recipe), so it is
trained once per machine and never downloaded. It trains on a fixed number
of threads: its weights (so every metric read through it) must not depend
on the machine's core count.
"""
import hashlib
import inspect
import os
import os.path as osp
import random

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...runs.checkpoints import check_fits, read_checkpoint
from .images import load_digits_images, split_indices

CACHE_DIR = os.environ.get(
    'MMGEN_ADV_CACHE', osp.join(osp.expanduser('~'), '.cache', 'mmgen_adv'))
RECIPE = dict(epochs=20, batch_size=64, lr=2e-3, seed=0, shift=2, threads=1)


def _conv(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout),
            nn.ReLU()]


class DigitNet(nn.Module):
    """A small CNN at 16x16 (the digits are upsampled from 8x8); its 128-d
    penultimate ``features`` are what the Frechet distance compares."""

    feature_dim = 128

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.AvgPool2d(2), *_conv(1, 32), *_conv(32, 32), nn.MaxPool2d(2),
            *_conv(32, 64), *_conv(64, 128), nn.AdaptiveAvgPool2d(1),
            nn.Flatten())
        self.head = nn.Linear(self.feature_dim, 10)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.features(x))


def _digits_tensor(split):
    images, labels = load_digits_images(32)
    index = split_indices(labels, split)
    x = torch.from_numpy(images[index]).float().div(127.5).sub(1.0)
    return x.unsqueeze(1), torch.from_numpy(labels[index])


def cache_key():
    images, labels = load_digits_images(32)
    digest = hashlib.sha256()
    digest.update(images.tobytes())
    digest.update(labels.tobytes())
    digest.update(inspect.getsource(DigitNet).encode())
    digest.update(repr(sorted(RECIPE.items())).encode())
    return digest.hexdigest()[:16]


def _random_shift(x, gen, shift):
    """Random translations by up to ``shift`` pixels (edge padded)."""
    padded = F.pad(x, [shift] * 4, mode='replicate')
    out = torch.empty_like(x)
    offsets = torch.randint(0, 2 * shift + 1, (x.shape[0], 2), generator=gen)
    for i, (dy, dx) in enumerate(offsets.tolist()):
        out[i] = padded[i, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]
    return out


def train_classifier():
    """Train :class:`DigitNet` with :data:`RECIPE`; returns it and its
    held-out accuracy. Leaves the global random state as it was."""
    state = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(RECIPE['threads'])
        torch.manual_seed(RECIPE['seed'])
        gen = torch.Generator().manual_seed(RECIPE['seed'])
        net = DigitNet()
        x, y = _digits_tensor('train')
        optimizer = torch.optim.Adam(net.parameters(), lr=RECIPE['lr'])
        for _ in range(RECIPE['epochs']):
            order = torch.randperm(len(x), generator=gen)
            for start in range(0, len(x), RECIPE['batch_size']):
                batch = order[start:start + RECIPE['batch_size']]
                inputs = _random_shift(x[batch], gen, RECIPE['shift'])
                loss = F.cross_entropy(net(inputs), y[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    finally:
        torch.set_num_threads(threads)
        random.setstate(state[0])
        np.random.set_state(state[1])
        torch.set_rng_state(state[2])
    net.eval()
    return net, held_out_accuracy(net)


@torch.no_grad()
def held_out_accuracy(net):
    x, y = _digits_tensor('test')
    return (net(x).argmax(1) == y).float().mean().item()


def load_classifier(cache_dir=None):
    """The cached classifier (trained first if there is none): ``(net,
    held-out accuracy)``."""
    cache_dir = cache_dir or CACHE_DIR
    path = osp.join(cache_dir, f'digit_classifier_{cache_key()}.pth')
    net = DigitNet()
    if osp.isfile(path):
        what = 'cached digit classifier (delete it to train it again)'
        saved = read_checkpoint(path, what)
        check_fits(net, saved, path, what)
        net.load_state_dict(saved['state_dict'])
        net.eval()
        return net, float(saved['held_out_accuracy'])
    net, accuracy = train_classifier()
    os.makedirs(cache_dir, exist_ok=True)
    tmp = f'{path}.{os.getpid()}.tmp'
    torch.save(
        dict(state_dict=net.state_dict(), held_out_accuracy=accuracy), tmp)
    os.replace(tmp, path)  # atomic: parallel runs never read half a file
    return net, accuracy
