"""Timing training runs through a host's runner, as users train
(``tools/benchmark_runner.py``, ``tools/benchmark_fp16.py``,
``tools/mmagic/benchmark_runner.py``): each config is trained by the host's
training tool on random images, in turn, and its iteration times are read
from its JSON log after a warm-up.

No toolbox is imported here: the tools of both hosts (each in its own
environment) share it; what differs per host is a :class:`RunnerHost`.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
from collections import namedtuple

import torch

from .study import ROOT

RunnerHost = namedtuple('RunnerHost', 'write_config train_command read_log')
RunnerHost.__doc__ = """How one host trains and logs.

``write_config(base, model, args, work_dir, name)``: the path of a config
of ``base`` overridden by ``model`` (config lines) with random images and
``args.warmup + args.iters`` iterations, every one logged;
``train_command(config, work_dir)``: the command line that trains it;
``read_log(work_dir)``: the seconds of each logged iteration and the peak
memory (MiB; None where the log has none)."""

# at most this many times the base config's iteration (both hosts' SNGAN)
RUNNER_TARGETS = {'ASGAN': 1.25, 'DAT': 1.45}
# the SNGAN CIFAR-10 benchmarks' settings; --quick: a smoke test of the
# tool (tiny networks, few iterations)
SNGAN_DEFAULTS = dict(batch_size=64, channels=(256, 128), image_size=32)
SNGAN_QUICK = dict(channels=(32, 32), batch_size=16, iters=10, warmup=5)


def add_runner_arguments(parser, cycle, iters, warmup, what):
    """The options of a runner benchmark, in whole ``cycle``-iteration
    cycles (``what``: what the cycle is)."""
    parser.add_argument(
        '--batch-size', type=int, help='images per iteration')
    parser.add_argument(
        '--iters', type=int, default=iters,
        help=f'timed iterations per config, whole cycles of {what} '
        f'({cycle}; default {iters})')
    parser.add_argument(
        '--warmup', type=int, default=warmup,
        help=f'iterations before the timed ones, whole cycles (default '
        f'{warmup})')
    parser.add_argument(
        '--repeats', type=int, default=1,
        help='runs per config, the configs in turn')
    parser.add_argument('--work-dir', help='where the runs go')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        choices=['cpu', 'cuda'])
    parser.add_argument(
        '--quick', action='store_true',
        help='a smoke test: tiny runs; numbers meaningless')
    parser.add_argument('--json', help='also write the results here')


def apply_defaults(args, defaults, quick):
    """Fill the options left unset from ``defaults``; with ``--quick`` the
    ``quick`` settings replace whatever was given."""
    for key, value in {**defaults, **(quick if args.quick else {})}.items():
        if getattr(args, key, None) is None or args.quick:
            setattr(args, key, value)


def check_runner_arguments(parser, args, cycle, what):
    if args.iters < cycle or args.iters % cycle or args.warmup % cycle:
        parser.error(f'--iters and --warmup must be multiples of {what} '
                     f'({cycle}), --iters at least {cycle}')
    if args.repeats < 1:
        parser.error('--repeats must be at least 1')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: PyTorch sees no GPU on this host')


def write_json(args, results):
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(args=vars(args), **results), f, indent=2)


def runner_config(base, model, args, work_dir, name):
    """A config of ``base`` (overridden by ``model``, a config line or
    ``''``) with random images instead of the dataset, every iteration
    logged, and no checkpoint in the timed iterations."""
    size = args.image_size
    text = (f"_base_ = ['{base}']\n"
            "custom_imports = dict(imports=['mmgen_adv'], "
            'allow_failed_imports=False)\n'
            f'{model}'
            "data = dict(samples_per_gpu=%d, workers_per_gpu=0, train=dict("
            "_delete_=True, type='QuickTestImageDataset', size=(%d, %d)))\n"
            "train_cfg = dict(real_img_key='real_img')\n"
            'total_iters = %d\n'
            "log_config = dict(interval=1, hooks=[dict(type='TextLoggerHook')"
            '])\n'
            'checkpoint_config = dict(interval=10**9, save_last=False)\n' %
            (args.batch_size, size, size, args.warmup + args.iters))
    path = osp.join(work_dir, f'{name}.py')
    with open(path, 'w') as f:
        f.write(text)
    return path


def read_log(work_dir):
    """Seconds of each logged training iteration from the JSON log, and the
    largest ``memory`` (MiB, logged on CUDA only; else None)."""
    log = sorted(f for f in os.listdir(work_dir) if f.endswith('.log.json'))
    with open(osp.join(work_dir, log[-1])) as f:
        records = [json.loads(line) for line in f if '"mode"' in line]
    train = [r for r in records if r['mode'] == 'train']
    memory = [r['memory'] for r in train if 'memory' in r]
    return [r['time'] for r in train], max(memory) if memory else None


def mmgen_train_command(config, work_dir):
    return [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config,
            '--work-dir', work_dir, '--no-validate', '--seed', '0']


MMGEN = RunnerHost(runner_config, mmgen_train_command, read_log)


def train_and_time(config, args, work_dir, env, host=MMGEN):
    """Seconds of each timed iteration of a run of ``config`` by the host's
    training tool, and its peak memory, read from its JSON log."""
    cmd = host.train_command(config, work_dir)
    print(' '.join(cmd), flush=True)
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f'error: {osp.relpath(cmd[1], ROOT)} failed on {config} '
                 f'({run.returncode}):\n{run.stderr[-3000:]}')
    times, memory = host.read_log(work_dir)
    if len(times) != args.warmup + args.iters:
        sys.exit(f'error: {work_dir}: {len(times)} iterations logged, '
                 f'expected {args.warmup + args.iters}')
    return times[args.warmup:], memory


def time_runs(runs, args, device, cycle, host=MMGEN):
    """Train every run (``name -> (base, model)``, see
    :class:`RunnerHost`) with the host's training tool, ``--repeats``
    times, the runs in turn: per run its mean s / iteration per repeat, the
    timed iterations, the means of its ``cycle``-iteration cycles and the
    peak memory."""
    work_root = args.work_dir or tempfile.mkdtemp(prefix='bench_runner_')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get('PYTHONPATH', '')]))
    if device.type == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    timed = {name: dict(means=[], times=[], cycles=[], memory=[])
             for name in runs}
    for repeat in range(args.repeats):
        for name, (base, model) in runs.items():
            work_dir = osp.join(work_root, name, f'run{repeat}')
            os.makedirs(work_dir, exist_ok=True)
            config = host.write_config(base, model, args, work_dir, name)
            times, memory = train_and_time(config, args, work_dir, env,
                                           host)
            timed[name]['means'].append(statistics.mean(times))
            timed[name]['times'] += times
            timed[name]['cycles'] += [
                statistics.mean(times[i:i + cycle])
                for i in range(0, len(times), cycle)]
            timed[name]['memory'].append(memory)
    return work_root, timed


def ratio(timed, name, reference):
    """Median over repeats of ``name``'s mean over ``reference``'s, both
    timed in the same turn."""
    return statistics.median(
        m / r for m, r in zip(timed[name]['means'],
                              timed[reference]['means']))


def summary(run):
    """One config's timings (from :func:`time_runs`): the median over
    repeats of its mean s / iteration, its fastest and slowest cycle, its
    peak memory and every timed iteration."""
    return dict(seconds=statistics.median(run['means']),
                fastest_cycle=min(run['cycles']),
                slowest_cycle=max(run['cycles']),
                peak_mib=peak(run['memory']),
                times=run['times'])


def peak(memory):
    known = [m for m in memory if m is not None]
    return max(known) if known else None


def settings_line(args, what, cycle):
    return (f'{what}, batch {args.batch_size}, random images, {args.device};'
            f' mean over iterations {args.warmup + 1}-'
            f'{args.warmup + args.iters} (after {args.warmup} warm-up), '
            f'median of {args.repeats} run(s) per config, in turn; ratios: '
            'median of the ratios within a turn; fastest and slowest '
            f"{cycle}-iteration cycle; peak memory: the "
            "log's largest (CUDA only)")


# -- the SNGAN CIFAR-10 benchmark of both hosts ------------------------------
def parse_sngan_args(description, cycle, argv=None):
    """Options of an SNGAN runner benchmark (``--channels`` of G and D),
    in whole ``cycle``-iteration cycles of ``disc_steps``."""
    parser = argparse.ArgumentParser(description=description)
    add_runner_arguments(parser, cycle, iters=200, warmup=50,
                         what='disc_steps')
    parser.add_argument(
        '--channels', type=int, nargs=2, metavar=('G', 'D'),
        help='base channels of the SNGAN G and D (default: the CIFAR-10 '
        "config's, 256 128)")
    args = parser.parse_args(argv)
    apply_defaults(args, SNGAN_DEFAULTS, SNGAN_QUICK)
    args.channels = tuple(args.channels)
    check_runner_arguments(parser, args, cycle, 'disc_steps')
    return args


def channels_override(args, **model):
    """The config line giving G and D ``--channels`` (and ``model``'s other
    keys); ``''`` where nothing differs from the config."""
    if args.channels != SNGAN_DEFAULTS['channels']:
        model.update(generator=dict(base_channels=args.channels[0]),
                     discriminator=dict(base_channels=args.channels[1]))
    return f'model = {model!r}\n' if model else ''


def sngan_through_runner(runs, configs, args, device, cycle, what,
                         host=MMGEN):
    """Train each of ``runs`` through the host's runner; print s /
    iteration and the ratios to ``base`` (``configs``: what the table names
    each run's config); return the results."""
    work_root, timed = time_runs(runs, args, device, cycle, host)
    results = {}
    for name, config in configs.items():
        results[name] = dict(
            config=config,
            x_base=ratio(timed, name, 'base'),
            target_x_base=RUNNER_TARGETS.get(name),
            **summary(timed[name]))

    print('\nThrough the runner: ' + settings_line(
        args, f'{what} (G {args.channels[0]}, D {args.channels[1]} '
        'channels)', cycle) + '\n')
    print('| config | s / iteration | fastest - slowest cycle | x base | '
          'target x base | peak memory (MiB) |')
    print('|' + '---|' * 6)
    for name, result in results.items():
        target, peak_mib = result['target_x_base'], result['peak_mib']
        print(f"| {name} (`{result['config']}`) | {result['seconds']:.4f} | "
              f"{result['fastest_cycle']:.4f} - "
              f"{result['slowest_cycle']:.4f} | {result['x_base']:.2f} | "
              f"{'<= %.2f' % target if target else '-'} | "
              f"{'-' if peak_mib is None else '%.0f' % peak_mib} |")
    return dict(mode='runner', work_dir=work_root, results=results)
