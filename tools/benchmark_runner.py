"""Cost of adversarial D training through the toolbox's runner, as users
train: ``tools/train.py`` on this project's SNGAN CIFAR-10 configs (base,
ASGAN, DAT) with random images, one process per config.

    python tools/benchmark_runner.py [--iters 200 --warmup 50 --repeats 1]
    python tools/benchmark_runner.py --quick          # smoke test

Each config is trained ``--repeats`` times, the configs in turn; its
iteration time is read from the JSON log after ``--warmup`` iterations,
whole ``disc_steps`` cycles. Printed: s / iteration, the fastest and slowest
cycle, the ratio to the base config (median of the ratios within a turn) and
its target (not asserted: ASGAN at most 1.25x, DAT at most 1.45x), and on
CUDA the peak memory: the largest ``memory`` the log records (the
allocator's peak since the run began).
"""
import os.path as osp

import mmgen_adv  # noqa: F401  (first: makes mmgen importable)
import torch

from mmgen_adv.evidence.overhead import DISC_STEPS
from mmgen_adv.evidence.runner_timing import (SNGAN_QUICK, channels_override,
                                              parse_sngan_args,
                                              sngan_through_runner,
                                              write_json)
from mmgen_adv.evidence.study import ROOT

RUNNER_CONFIGS = {
    'base': 'configs/_base_/sngan_cifar10.py',
    'ASGAN': 'configs/asgan/sngan_cifar10.py',
    'DAT': 'configs/dat/sngan_cifar10.py',
}
QUICK = SNGAN_QUICK  # --quick


def sngan_runs(args):
    """This project's SNGAN CIFAR-10 configs: name -> (base, override)."""
    return {name: (osp.join(ROOT, config), channels_override(args))
            for name, config in RUNNER_CONFIGS.items()}


def through_runner(args, device):
    """Train each SNGAN config with tools/train.py; print s / iteration and
    ratios to the base config."""
    return sngan_through_runner(
        sngan_runs(args), RUNNER_CONFIGS, args, device, DISC_STEPS,
        'tools/train.py, SNGAN CIFAR-10 configs')


def parse_args(argv=None):
    return parse_sngan_args(__doc__.split('\n')[0], DISC_STEPS, argv)


def main(argv=None):
    args = parse_args(argv)
    write_json(args, through_runner(args, torch.device(args.device)))


if __name__ == '__main__':
    main()
