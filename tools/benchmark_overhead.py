"""Cost of adversarial D training per training iteration, measured in one run.

    python tools/benchmark_overhead.py [--batch-size 64] [--rounds 5]

On the SNGAN(-proj) CIFAR-10 architecture (SNGANGenerator 256 / ProjD 128
channels at 32x32, classes off so the toolbox's gradient penalty applies;
hinge loss, disc_steps=5) and random data, times one runner iteration of
the base model, ASGAN, DAT (attack direction read off the D backward), DAT
with a separate attack pass, and the toolbox's gradient penalty (WGAN-GP
style, lambda 10). Variants are timed in interleaved rounds of
``disc_steps`` iterations (one G update each) and the median round is kept,
so machine noise hits them alike. Each variant's peak memory is measured in
a fresh process (CUDA: peak allocated; CPU: peak growth of the resident
set, sampled every 2 ms).

Printed: seconds per iteration, peak memory, and ratios to the base model
and to the floor: the base iteration plus one extra D forward/backward on
the adversarial batch (the reals for ASGAN; reals and fakes for DAT).
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import threading
import time

import mmgen_adv  # noqa: F401  (first: makes mmgen importable)
import torch
from mmgen.models import build_model

VARIANTS = {
    'base': None,
    'ASGAN': dict(type='ASGAN', eps=1.0),
    'DAT': dict(type='DAT', eps=1.0),
    'DAT (separate attack pass)': dict(
        type='DAT', eps=1.0, attack_pass='separate'),
    'gradient penalty': 'gp',
}
# the toolbox's GP, as in its WGAN-GP configs
GRADIENT_PENALTY = dict(
    type='GradientPenaltyLoss',
    loss_weight=10,
    norm_mode='HWC',
    data_info=dict(
        discriminator='disc', real_data='real_imgs', fake_data='fake_imgs'))


def model_cfg(variant, channels):
    g_channels, d_channels = channels
    cfg = dict(
        type='AdvUnconditionalGAN',
        generator=dict(
            type='SNGANGenerator',
            output_scale=32,
            base_channels=g_channels,
            use_cbn=False),
        discriminator=dict(
            type='ProjDiscriminator', input_scale=32,
            base_channels=d_channels),
        gan_loss=dict(type='GANLoss', gan_type='hinge'),
        train_cfg=dict(disc_steps=5))
    adv = VARIANTS[variant]
    if adv == 'gp':
        cfg['disc_auxiliary_loss'] = GRADIENT_PENALTY
    elif adv is not None:
        cfg['adv_cfg'] = adv
    return cfg


class Bench:
    """One variant: a model, its optimizers and a fixed random batch."""

    def __init__(self, variant, args, device):
        torch.manual_seed(0)
        self.model = build_model(model_cfg(variant, args.channels)).to(device)
        self.optim = {
            k: torch.optim.Adam(
                getattr(self.model, k).parameters(), lr=2e-4,
                betas=(0.5, 0.999))
            for k in ('generator', 'discriminator')
        }
        self.data = dict(
            real_img=torch.rand(args.batch_size, 3, 32, 32, device=device) *
            2 - 1)
        self.iteration = 0
        self.device = device

    def run(self, iterations):
        """Seconds for ``iterations`` runner iterations."""
        sync(self.device)
        start = time.perf_counter()
        for _ in range(iterations):
            self.model.train_step(
                self.data, self.optim,
                running_status=dict(iteration=self.iteration))
            self.iteration += 1
        sync(self.device)
        return time.perf_counter() - start


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def disc_forward_backward(bench, num_images, repeats):
    """Median seconds of one D forward/backward (hinge loss) on
    ``num_images`` images: the unit the floor adds."""
    disc = bench.model.discriminator
    disc.requires_grad_(True)  # the last G step froze it
    x = torch.rand(num_images, 3, 32, 32, device=bench.device) * 2 - 1
    times = []
    for _ in range(repeats):
        sync(bench.device)
        start = time.perf_counter()
        bench.model.gan_loss(disc(x), True, is_disc=True).backward()
        sync(bench.device)
        times.append(time.perf_counter() - start)
    disc.zero_grad()
    return statistics.median(times)


def peak_memory_mib(variant, args):
    """Peak memory of training ``variant``, measured in a fresh process."""
    cmd = [
        sys.executable, __file__, '--memory-probe', variant, '--batch-size',
        str(args.batch_size), '--channels', *map(str, args.channels),
        '--device', args.device
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])['peak_mib']


def resident_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def memory_probe(variant, args, device):
    """Growth of peak memory over the built model during 5 iterations (one
    G update): activations, gradients and optimizer state."""
    bench = Bench(variant, args, device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        bench.run(5)
        peak = torch.cuda.max_memory_allocated() - base
    else:
        # the process's peak (ru_maxrss) is set by importing torch, so the
        # resident set is sampled while training instead
        base = resident_bytes()
        samples = []
        done = threading.Event()

        def sample():
            while not done.is_set():
                samples.append(resident_bytes())
                time.sleep(0.002)

        sampler = threading.Thread(target=sample)
        sampler.start()
        bench.run(5)
        done.set()
        sampler.join()
        peak = max(samples + [resident_bytes()]) - base
    print(json.dumps(dict(peak_mib=peak / 2**20)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument(
        '--channels',
        type=int,
        nargs=2,
        default=(256, 128),
        metavar=('G', 'D'),
        help='base channels of G and D (the CIFAR-10 config: 256 128)')
    parser.add_argument(
        '--rounds', type=int, default=5, help='timed rounds per variant')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        choices=['cpu', 'cuda'])
    parser.add_argument(
        '--no-memory', action='store_true', help='skip the memory runs')
    parser.add_argument('--json', help='also write the results here')
    parser.add_argument('--memory-probe', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    if args.memory_probe:
        return memory_probe(args.memory_probe, args, device)
    disc_steps = 5
    benches = {v: Bench(v, args, device) for v in VARIANTS}
    for bench in benches.values():
        bench.run(disc_steps)  # warm up
    rounds = {v: [] for v in VARIANTS}
    for r in range(args.rounds):
        for variant, bench in benches.items():
            rounds[variant].append(bench.run(disc_steps) / disc_steps)
        print(f'round {r + 1}/{args.rounds}: ' + ', '.join(
            f'{v} {rounds[v][-1]:.3f}s' for v in VARIANTS),
              flush=True)
    seconds = {v: statistics.median(t) for v, t in rounds.items()}
    base_bench = benches['base']
    extra_real = disc_forward_backward(base_bench, args.batch_size, 5)
    extra_both = 2 * extra_real  # DAT: reals and fakes, one forward each
    floors = dict(
        ASGAN=seconds['base'] + extra_real,
        DAT=seconds['base'] + extra_both)
    floors['DAT (separate attack pass)'] = floors['DAT']
    memory = {} if args.no_memory else {
        v: peak_memory_mib(v, args)
        for v in VARIANTS
    }

    print(f'\nSNGAN CIFAR-10 architecture (G {args.channels[0]}, D '
          f'{args.channels[1]} channels), batch {args.batch_size}, '
          f'disc_steps {disc_steps}, {args.device}; median of {args.rounds} '
          'rounds\n')
    header = ('| variant | s / iteration | x base | floor x base | x floor '
              '| peak memory (MiB) | memory x base |')
    print(header)
    print('|' + '---|' * 7)
    rows = []
    for variant in VARIANTS:
        ratio = seconds[variant] / seconds['base']
        floor = floors.get(variant)
        mem = memory.get(variant)
        row = dict(
            variant=variant,
            seconds=seconds[variant],
            x_base=ratio,
            floor_x_base=floor / seconds['base'] if floor else None,
            x_floor=seconds[variant] / floor if floor else None,
            peak_mib=mem,
            memory_x_base=mem / memory['base'] if mem and memory.get(
                'base') else None)
        rows.append(row)

        def fmt(value, spec):
            return '-' if value is None else format(value, spec)

        print(f"| {variant} | {row['seconds']:.3f} | {ratio:.2f} | "
              f"{fmt(row['floor_x_base'], '.2f')} | "
              f"{fmt(row['x_floor'], '.2f')} | {fmt(mem, '.0f')} | "
              f"{fmt(row['memory_x_base'], '.2f')} |")
    print(f'\none extra D forward/backward on {args.batch_size} images: '
          f'{extra_real:.3f}s')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(args=vars(args), rows=rows), f, indent=2)


if __name__ == '__main__':
    main()
