"""Shared fixtures: tiny image datasets on disk and a runner for tools/.

Two tiers. The default one runs on the CPU on every host: tools are started
with CUDA hidden (``device='cpu'``), so bit-exact comparisons (resuming, ranks
of a gloo group) mean the same on a GPU host as here. Tests marked ``cuda``
(``python -m pytest tests -m cuda``) run on the GPU and are skipped, with the
reason, where PyTorch sees none.

The MMagic host's tests (``tests/mmagic_host/``, marked ``mmagic``) run in its
own environment: ``.venv-mmagic/bin/python -m pytest tests -m mmagic``.
There the mmgen host's tests are not collected; in the mmgen environment
the MMagic ones are skipped with that reason.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import mmgen_adv  # noqa: F401  (compat before anything imports mmgen.models)

ROOT = Path(__file__).resolve().parents[1]
MMGEN_ENV = importlib.util.find_spec('mmgen') is not None
if MMGEN_ENV:
    from mmgen_adv.evidence.datasets.digits import load_digits_images
else:
    collect_ignore_glob = ['test_*.py']  # the mmgen host's tests
TOOLS = ROOT / 'tools'

NO_CUDA_REASON = ('CUDA tier: PyTorch sees no GPU on this host '
                  '(torch.cuda.is_available() is False)')
# for tests that run on both: pytest.mark.parametrize('device', DEVICES)
DEVICES = ['cpu', pytest.param('cuda', marks=pytest.mark.cuda)]


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    for item in items:
        if item.get_closest_marker('cuda'):
            item.add_marker(pytest.mark.skip(reason=NO_CUDA_REASON))


def write_digit_pngs(root, num, img_size=32, class_folders=False):
    """``num`` bundled digits as PNGs: flat, or one folder per class."""
    images, labels = load_digits_images(img_size)
    for i in range(num):
        folder = Path(root) / (str(labels[i]) if class_folders else '')
        folder.mkdir(parents=True, exist_ok=True)
        img = np.repeat(images[i][:, :, None], 3, axis=2)
        cv2.imwrite(str(folder / f'{i:04d}.png'), img)
    return str(root)


@pytest.fixture(scope='session')
def image_folder(tmp_path_factory):
    """16 unlabelled 32x32 images (the toolbox's UnconditionalImageDataset)."""
    return write_digit_pngs(tmp_path_factory.mktemp('flat_imgs'), 16)


@pytest.fixture(scope='session')
def class_folder(tmp_path_factory):
    """40 labelled 32x32 images, one folder per class (mmcls CustomDataset)."""
    return write_digit_pngs(
        tmp_path_factory.mktemp('class_imgs'), 40, class_folders=True)


def tool_env(threads=1, device='cpu', pythonpath=()):
    """The environment of a child process: this checkout (and
    ``pythonpath``) first on the path; with ``device='cpu'`` no GPU is
    visible to it."""
    if device not in ('cpu', 'cuda'):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        PYTHONWARNINGS='ignore',
        PYTHONPATH=os.pathsep.join(
            [str(ROOT), str(ROOT / 'tests'), *map(str, pythonpath),
             env.get('PYTHONPATH', '')]))
    if device == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    return env


def run_tool(script, *args, cwd=None, threads=2, timeout=900, check=True,
             device='cpu', pythonpath=()):
    """Run ``tools/<script>`` with this interpreter on ``device`` (``'cpu'``:
    CUDA hidden; ``'cuda'``: the host's GPUs), ``pythonpath`` on its path;
    return the result."""
    cmd = [sys.executable, str(TOOLS / script), *map(str, args)]
    if script.endswith('.sh'):
        cmd = ['bash', str(TOOLS / script), *map(str, args)]
    env = tool_env(threads, device, pythonpath)
    env['PYTHON'] = sys.executable
    result = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f'{script} failed ({result.returncode}):\n'
                             f'{result.stdout[-4000:]}\n{result.stderr[-6000:]}')
    return result


def write_config(path, text):
    Path(path).write_text(text)
    return str(path)
