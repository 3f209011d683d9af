"""Cost of adversarial D training through MMagic's runner, as users train:
``tools/mmagic/train.py`` (mmengine's Runner) on MMagic's SNGAN-proj
CIFAR-10 config (base), with ASGAN and with DAT, on random images made
here, one process per config.

    .venv-mmagic/bin/python tools/mmagic/benchmark_runner.py \\
        [--iters 200 --warmup 50 --repeats 1 --channels G D]
    .venv-mmagic/bin/python tools/mmagic/benchmark_runner.py --quick

The same benchmark as the mmgen host's ``tools/benchmark_runner.py`` (its
options, timing and table; ``mmgen_adv.evidence.runner_timing``): each
config is trained ``--repeats`` times, the configs in turn; its iteration
time is read from mmengine's JSON log (every iteration logged, not
smoothed) after ``--warmup`` iterations, whole cycles of the config's 5 D
steps per G step. Printed: s / iteration, the fastest and slowest cycle,
the ratio to the base config (median of the ratios within a turn) and its
target (not asserted), and on CUDA the peak memory (the largest
``memory`` the log records).
"""
import json
import os
import os.path as osp
import sys
import tempfile
from glob import glob

import mmgen_adv.mmagic  # noqa: F401  (first: compat)
import cv2
import numpy as np
import torch

from mmgen_adv.evidence.runner_timing import (ROOT, RunnerHost,
                                              channels_override,
                                              parse_sngan_args,
                                              sngan_through_runner,
                                              write_json)

SNGAN = ('mmagic::sngan_proj/'
         'sngan-proj_wReLUinplace_lr2e-4-ndisc5-1xb64_cifar10-32x32.py')
DAT_CONFIG = 'configs/mmagic/dat/sngan_cifar10.py'
# MMagic's own SNGAN; ASGAN as the mmgen host's configs/asgan config sets
# it (eps 1) in place of the DAT config's adv_cfg
RUNNER_CONFIGS = {
    'base': SNGAN,
    'ASGAN': f'{DAT_CONFIG}, adv_cfg ASGAN eps 1',
    'DAT': DAT_CONFIG,
}
DISC_STEPS = 5  # the SNGAN config's discriminator_steps: one cycle
NUM_CLASSES = 10
IMAGES_PER_CLASS = 16


def write_random_images(root, size):
    """Random PNGs, one folder per class (what ``BasicConditionalDataset``
    reads as labelled images), in place of CIFAR-10."""
    rng = np.random.default_rng(0)
    for label in range(NUM_CLASSES):
        folder = osp.join(root, str(label))
        os.makedirs(folder, exist_ok=True)
        for i in range(IMAGES_PER_CLASS):
            cv2.imwrite(osp.join(folder, f'{i:02d}.png'),
                        rng.integers(0, 256, (size, size, 3), np.uint8))
    return root


def random_images_dataset(root):
    """MMagic's CIFAR-10 dataset replaced by the images in ``root`` (the
    CIFAR pipeline, its images loaded from files)."""
    pipeline = [dict(type='LoadImageFromFile', key='gt'),
                dict(type='Flip', keys=['gt'], flip_ratio=0.5,
                     direction='horizontal'),
                dict(type='PackInputs')]
    return dict(_delete_=True, type='BasicConditionalDataset',
                data_root=root, pipeline=pipeline)


def sngan_runs(args):
    """name -> (base config, model override): MMagic's SNGAN, ASGAN and
    DAT."""
    asgan = dict(adv_cfg=dict(_delete_=True, type='ASGAN', eps=1.0))
    dat_config = osp.join(ROOT, DAT_CONFIG)
    return {
        'base': (SNGAN, channels_override(args)),
        'ASGAN': (dat_config, channels_override(args, **asgan)),
        'DAT': (dat_config, channels_override(args)),
    }


def mmagic_config(base, model, args, work_dir, name):
    """A config of ``base`` overridden by ``model``: ``--batch-size``
    images from ``args.image_root``, every iteration logged unsmoothed, no
    validation, visualization or checkpoint in the timed iterations."""
    loader = dict(batch_size=args.batch_size, num_workers=0,
                  persistent_workers=False,
                  dataset=random_images_dataset(args.image_root))
    text = (f"_base_ = '{base}'\n"
            "custom_imports = dict(imports=['mmgen_adv.mmagic'], "
            'allow_failed_imports=False)\n'
            f'{model}'
            f'train_dataloader = {loader!r}\n'
            f'train_cfg = dict(max_iters={args.warmup + args.iters})\n'
            'val_cfg = val_dataloader = val_evaluator = None\n'
            'test_cfg = test_dataloader = test_evaluator = None\n'
            'custom_hooks = []\n'
            'default_hooks = dict(logger=dict(interval=1), checkpoint=dict('
            'interval=10**9, save_best=None, rule=None, save_last=False))\n'
            # 'time' is a mean over the processor's window (10) otherwise
            'log_processor = dict(window_size=1)\n'
            'randomness = dict(seed=0)\n')
    path = osp.join(work_dir, f'{name}.py')
    with open(path, 'w') as f:
        f.write(text)
    return path


def mmagic_train_command(config, work_dir):
    return [sys.executable, osp.join(ROOT, 'tools', 'mmagic', 'train.py'),
            config, '--work-dir', work_dir]


def read_mmengine_log(work_dir):
    """Seconds of each logged training iteration from mmengine's JSON log
    (``<timestamp>/vis_data/<timestamp>.json``), and the largest
    ``memory`` (MiB, logged on CUDA only; else None)."""
    logs = sorted(glob(osp.join(work_dir, '*', 'vis_data', '*.json')))
    logs = [log for log in logs if osp.basename(log) != 'scalars.json']
    with open(logs[-1]) as f:
        records = [json.loads(line) for line in f]
    train = [r for r in records if 'time' in r and 'iter' in r]
    memory = [r['memory'] for r in train if 'memory' in r]
    return [r['time'] for r in train], max(memory) if memory else None


MMAGIC = RunnerHost(mmagic_config, mmagic_train_command, read_mmengine_log)


def through_runner(args, device):
    """Train MMagic's SNGAN, with ASGAN and with DAT, through
    tools/mmagic/train.py; print s / iteration and ratios to the base."""
    # the images go beside the runs
    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix='bench_runner_')
    args.image_root = write_random_images(
        osp.join(args.work_dir, 'images'), args.image_size)
    return sngan_through_runner(
        sngan_runs(args), RUNNER_CONFIGS, args, device, DISC_STEPS,
        "tools/mmagic/train.py, MMagic's SNGAN-proj CIFAR-10 config",
        MMAGIC)


def parse_args(argv=None):
    return parse_sngan_args(__doc__.split('\n')[0], DISC_STEPS, argv)


def main(argv=None):
    args = parse_args(argv)
    write_json(args, through_runner(args, torch.device(args.device)))


if __name__ == '__main__':
    main()
