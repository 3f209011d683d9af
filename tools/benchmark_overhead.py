"""Cost of adversarial D training per training iteration, measured in one
process.

    python tools/benchmark_overhead.py [--batch-size 64] [--rounds 5]
    python tools/benchmark_overhead.py --quick        # smoke test

On the SNGAN(-proj) CIFAR-10 architecture (SNGANGenerator 256 / ProjD 128
channels at 32x32, classes off so the toolbox's gradient penalty applies;
hinge loss, disc_steps=5) and random data, times one runner iteration of
the base model, ASGAN and DAT as configured (under hinge they score D's
output, so the attack direction takes a separate D pass), both with
``score='loss'`` (direction read off the D backward), and the toolbox's
gradient penalty (WGAN-GP style, lambda 10). After a warm-up round,
variants are timed in interleaved rounds (so machine noise hits them alike)
of whole ``disc_steps`` cycles (one G update each), as many cycles as make
a round last ``--min-round-seconds`` (0.5 s: a GPU needs that many
iterations to be timed; on a CPU one cycle already takes longer). On CUDA
every round is synchronized. Printed per variant: the median round (s /
iteration) and the fastest and slowest, and ratios to the base model and to
the floor: the base iteration plus one extra D forward/backward on the
adversarial batch (the reals for ASGAN; reals and fakes for DAT), plus one
more where the direction takes a separate pass. Each variant's peak memory:
on CUDA the allocator's peak over the warmed-up model's steady state during
one cycle (activations and gradients), in this process; on a CPU the peak
growth of the resident set (sampled every 2 ms) in a fresh process.

The target (not asserted: a shared or throttled machine can miss it) is
printed next to the ratios: ASGAN and DAT within 10% of the floor. The same
comparison through the runner is ``tools/benchmark_runner.py``; fp16 on and
off, ``tools/benchmark_fp16.py``.
"""
import argparse
import statistics

import mmgen_adv  # noqa: F401  (first: makes mmgen importable)
import torch

from mmgen_adv.evidence.overhead import (DISC_STEPS, VARIANTS, Bench,
                                         cuda_peak_mib, disc_forward_backward,
                                         fmt, peak_memory_mib, repeats_for)
from mmgen_adv.evidence.runner_timing import apply_defaults, write_json

# time over the floor (base + the extra D pass) that ASGAN and DAT may take
FLOOR_TARGET = 1.10
DEFAULTS = dict(channels=(256, 128), batch_size=64)
# --quick: a smoke test of the tool (tiny networks, few short rounds)
QUICK = dict(channels=(32, 32), batch_size=16, rounds=2,
             min_round_seconds=0.05)


def in_process(args, device):
    """Time the variants in this process; print the table."""
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True  # as the toolbox's configs
    benches = {v: Bench(v, args, device) for v in VARIANTS}
    for bench in benches.values():
        bench.run(DISC_STEPS)  # warm-up
    # whole disc_steps cycles per round, enough for the base model (the
    # fastest) to take min_round_seconds
    cycles = repeats_for(benches['base'].run(DISC_STEPS),
                         args.min_round_seconds)
    iterations = cycles * DISC_STEPS
    rounds = {v: [] for v in VARIANTS}
    for r in range(args.rounds):
        for variant, bench in benches.items():
            rounds[variant].append(bench.run(iterations) / iterations)
        print(f'round {r + 1}/{args.rounds}: ' + ', '.join(
            f'{v} {rounds[v][-1]:.4f}s' for v in VARIANTS),
              flush=True)
    seconds = {v: statistics.median(t) for v, t in rounds.items()}
    # each round times every variant back to back: a ratio within a round
    # is disturbed less by a machine that is busy in some rounds
    x_base = {
        v: statistics.median(t / b for t, b in zip(rounds[v], rounds['base']))
        for v in VARIANTS
    }
    extra_real = disc_forward_backward(benches['base'], args.batch_size,
                                       args.rounds, args.min_round_seconds)
    extra_both = 2 * extra_real  # DAT: reals and fakes, one forward each
    # a separate attack pass costs one more forward/backward of the batch
    floors = {
        'ASGAN': seconds['base'] + 2 * extra_real,
        'ASGAN (score=loss)': seconds['base'] + extra_real,
        'DAT': seconds['base'] + 2 * extra_both,
        'DAT (score=loss)': seconds['base'] + extra_both,
    }
    if args.no_memory:
        memory = {}
    elif device.type == 'cuda':
        memory = {v: cuda_peak_mib(b) for v, b in benches.items()}
    else:
        memory = {v: peak_memory_mib(v, args) for v in VARIANTS}

    memory_kind = 'CUDA peak allocated over the steady state' \
        if device.type == 'cuda' else 'resident-set growth'
    print(f'\nSNGAN CIFAR-10 architecture (G {args.channels[0]}, D '
          f'{args.channels[1]} channels), batch {args.batch_size}, '
          f'disc_steps {DISC_STEPS}, {args.device}; median (and fastest - '
          f'slowest) of {args.rounds} rounds of {iterations} iterations; x '
          'base: median of the ratios within each round; peak memory: '
          f'{memory_kind}\n')
    print('| variant | s / iteration | fastest - slowest | x base | '
          'floor x base | x floor | target x floor | peak memory (MiB) | '
          'memory x base |')
    print('|' + '---|' * 9)
    rows = []
    for variant in VARIANTS:
        floor = floors.get(variant)
        floor_x_base = floor / seconds['base'] if floor else None
        mem = memory.get(variant)
        row = dict(
            variant=variant,
            seconds=seconds[variant],
            fastest=min(rounds[variant]),
            slowest=max(rounds[variant]),
            rounds=rounds[variant],
            x_base=x_base[variant],
            floor_x_base=floor_x_base,
            x_floor=x_base[variant] / floor_x_base if floor else None,
            target_x_floor=FLOOR_TARGET if variant in floors else None,
            peak_mib=mem,
            memory_x_base=mem / memory['base'] if mem and memory.get(
                'base') else None)
        rows.append(row)
        target = fmt(row['target_x_floor'], '.2f')
        print(f"| {variant} | {row['seconds']:.4f} | {row['fastest']:.4f} - "
              f"{row['slowest']:.4f} | {row['x_base']:.2f} | "
              f"{fmt(row['floor_x_base'], '.2f')} | "
              f"{fmt(row['x_floor'], '.2f')} | "
              f"{'-' if target == '-' else '<= ' + target} | "
              f"{fmt(mem, '.0f')} | {fmt(row['memory_x_base'], '.2f')} |")
    print(f'\none extra D forward/backward on {args.batch_size} images: '
          f'{extra_real:.4f}s')
    return dict(mode='in-process', rows=rows, extra_d_seconds=extra_real,
                iterations_per_round=iterations)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--batch-size', type=int, help='images per iteration (default: 64)')
    parser.add_argument(
        '--channels', type=int, nargs=2, metavar=('G', 'D'),
        help='base channels of the SNGAN G and D (default: the CIFAR-10 '
        "config's, 256 128)")
    parser.add_argument(
        '--rounds', type=int, default=5, help='timed rounds per variant')
    parser.add_argument(
        '--min-round-seconds', type=float, default=0.5,
        help='whole disc_steps cycles per round until a round of the base '
        'model lasts this long')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        choices=['cpu', 'cuda'])
    parser.add_argument(
        '--no-memory', action='store_true', help='skip the memory runs')
    parser.add_argument(
        '--quick', action='store_true',
        help='a smoke test: tiny networks, short rounds; numbers '
        'meaningless')
    parser.add_argument('--json', help='also write the results here')
    args = parser.parse_args(argv)
    apply_defaults(args, DEFAULTS, QUICK)
    args.channels = tuple(args.channels)
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: PyTorch sees no GPU on this host')
    return args


def main(argv=None):
    args = parse_args(argv)
    write_json(args, in_process(args, torch.device(args.device)))


if __name__ == '__main__':
    main()
