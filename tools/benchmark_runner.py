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
import argparse
import os.path as osp

import mmgen_adv  # noqa: F401  (first: makes mmgen importable)
import torch

from mmgen_adv.evidence.overhead import DISC_STEPS, fmt
from mmgen_adv.evidence.runner_timing import (add_runner_arguments,
                                              apply_defaults,
                                              check_runner_arguments, ratio,
                                              settings_line, summary,
                                              time_runs, write_json)
from mmgen_adv.evidence.study import ROOT

RUNNER_CONFIGS = {
    'base': 'configs/_base_/sngan_cifar10.py',
    'ASGAN': 'configs/asgan/sngan_cifar10.py',
    'DAT': 'configs/dat/sngan_cifar10.py',
}
# at most this many times the base config's iteration
RUNNER_TARGETS = {'ASGAN': 1.25, 'DAT': 1.45}
DEFAULTS = dict(batch_size=64, channels=(256, 128), image_size=32)
# --quick: a smoke test of the tool (tiny networks, few iterations)
QUICK = dict(channels=(32, 32), batch_size=16, iters=10, warmup=5)


def sngan_runs(args):
    """This project's SNGAN CIFAR-10 configs: name -> (base, override)."""
    model = ''
    if args.channels != (256, 128):
        model = ('model = dict(generator=dict(base_channels=%d), '
                 'discriminator=dict(base_channels=%d))\n' % args.channels)
    return {name: (osp.join(ROOT, config), model)
            for name, config in RUNNER_CONFIGS.items()}


def through_runner(args, device):
    """Train each SNGAN config with tools/train.py; print s / iteration and
    ratios to the base config."""
    work_root, timed = time_runs(sngan_runs(args), args, device,
                                 DISC_STEPS)
    results = {}
    for name, config in RUNNER_CONFIGS.items():
        results[name] = dict(
            config=config,
            x_base=ratio(timed, name, 'base'),
            target_x_base=RUNNER_TARGETS.get(name),
            **summary(timed[name]))

    print('\nThrough the runner: ' + settings_line(
        args, f'tools/train.py, SNGAN CIFAR-10 configs (G {args.channels[0]}'
        f', D {args.channels[1]} channels)', DISC_STEPS) + '\n')
    print('| config | s / iteration | fastest - slowest cycle | x base | '
          'target x base | peak memory (MiB) |')
    print('|' + '---|' * 6)
    for name, result in results.items():
        target = result['target_x_base']
        print(f"| {name} (`{result['config']}`) | {result['seconds']:.4f} | "
              f"{result['fastest_cycle']:.4f} - "
              f"{result['slowest_cycle']:.4f} | {result['x_base']:.2f} | "
              f"{'<= %.2f' % target if target else '-'} | "
              f"{fmt(result['peak_mib'], '.0f')} |")
    return dict(mode='runner', work_dir=work_root, results=results)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_runner_arguments(parser, DISC_STEPS, iters=200, warmup=50,
                         what='disc_steps')
    parser.add_argument(
        '--channels', type=int, nargs=2, metavar=('G', 'D'),
        help='base channels of the SNGAN G and D (default: the CIFAR-10 '
        "config's, 256 128)")
    args = parser.parse_args(argv)
    apply_defaults(args, DEFAULTS, QUICK)
    args.channels = tuple(args.channels)
    check_runner_arguments(parser, args, DISC_STEPS, 'disc_steps')
    return args


def main(argv=None):
    args = parse_args(argv)
    write_json(args, through_runner(args, torch.device(args.device)))


if __name__ == '__main__':
    main()
