"""The in-process overhead benchmark's parts (``tools/benchmark_overhead.py``):
the variants on the SNGAN CIFAR-10 architecture, a timed bench per
variant, and their peak memory (on a CPU, in a fresh process: this module
run as a script, ``python -m mmgen_adv.evidence.overhead VARIANT``)."""
import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import threading
import time

import torch
from mmgen.models import build_model

from ..models.host import host_of

VARIANTS = {
    'base': None,
    'ASGAN': dict(type='ASGAN', eps=1.0),
    'ASGAN (score=loss)': dict(type='ASGAN', eps=1.0, score='loss'),
    # hinge: the attacks score D's output, read in a separate pass
    'DAT': dict(type='DAT', eps=1.0),
    # score='loss' reads the input gradient off D's own backward
    'DAT (score=loss)': dict(type='DAT', eps=1.0, score='loss'),
    'gradient penalty': 'gp',
}
# the toolbox's GP, as in its WGAN-GP configs
GRADIENT_PENALTY = dict(
    type='GradientPenaltyLoss',
    loss_weight=10,
    norm_mode='HWC',
    data_info=dict(
        discriminator='disc', real_data='real_imgs', fake_data='fake_imgs'))
DISC_STEPS = 5


def fmt(value, spec):
    """``value`` formatted, or ``-`` where there is none."""
    return '-' if value is None else format(value, spec)


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
        train_cfg=dict(disc_steps=DISC_STEPS))
    adv = VARIANTS[variant]
    if adv == 'gp':
        cfg['disc_auxiliary_loss'] = GRADIENT_PENALTY
    elif adv is not None:
        cfg['adv_cfg'] = adv
    return cfg


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


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


def repeats_for(seconds_once, min_seconds):
    """How many repeats of something taking ``seconds_once`` fill at least
    ``min_seconds``."""
    return max(1, math.ceil(min_seconds / max(seconds_once, 1e-9)))


def disc_forward_backward(bench, num_images, rounds, min_round_seconds):
    """Median seconds of one D forward/backward (hinge loss) on
    ``num_images`` images, the unit the floor adds, timed like the
    variants: synchronized rounds of at least ``min_round_seconds``."""
    host = host_of(bench.model)
    disc = host.discriminator
    disc.requires_grad_(True)  # the last G step froze it
    x = torch.rand(num_images, 3, 32, 32, device=bench.device) * 2 - 1

    def timed(repeats):
        sync(bench.device)
        start = time.perf_counter()
        for _ in range(repeats):
            host.gan_loss(host.disc(x), True, is_disc=True).backward()
        sync(bench.device)
        return (time.perf_counter() - start) / repeats

    repeats = repeats_for(timed(1), min_round_seconds)  # also a warm-up
    times = [timed(repeats) for _ in range(rounds)]
    disc.zero_grad()
    return statistics.median(times)


def peak_memory_mib(variant, args):
    """Peak memory of training ``variant``, measured in a fresh process
    (this module run as a script: :func:`memory_probe`)."""
    cmd = [
        sys.executable, '-m', __name__, variant, '--batch-size',
        str(args.batch_size), '--channels', *map(str, args.channels),
        '--device', args.device
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])['peak_mib']


def resident_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def cuda_peak_mib(bench):
    """Growth of CUDA's peak allocation over what ``bench`` (warmed up)
    holds, during one disc_steps cycle: activations and gradients. The
    allocator's peak can be reset, so this needs no fresh process."""
    sync(bench.device)
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    bench.run(DISC_STEPS)
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def memory_probe(variant, args, device):
    """CPU: growth of the resident set over the built model during one
    disc_steps cycle (5 iterations, one G update): activations, gradients
    and optimizer state. Run in a fresh process (:func:`peak_memory_mib`)."""
    bench = Bench(variant, args, device)
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
    bench.run(DISC_STEPS)
    done.set()
    sampler.join()
    peak = max(samples + [resident_bytes()]) - base
    print(json.dumps(dict(peak_mib=peak / 2**20)))


def parse_probe_args(argv=None):
    parser = argparse.ArgumentParser(description=memory_probe.__doc__)
    parser.add_argument('variant', choices=list(VARIANTS))
    parser.add_argument('--batch-size', type=int, required=True)
    parser.add_argument('--channels', type=int, nargs=2, required=True)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    args.channels = tuple(args.channels)
    return args


if __name__ == '__main__':
    probe_args = parse_probe_args()
    memory_probe(probe_args.variant, probe_args,
                 torch.device(probe_args.device))
