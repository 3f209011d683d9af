"""Cost of adversarial D training per training iteration, measured in one run.

    python tools/benchmark_overhead.py [--batch-size 64] [--rounds 5]
    python tools/benchmark_overhead.py --runner [--iters 200 --warmup 50
                                                 --repeats 1]
    python tools/benchmark_overhead.py --fp16 [--iters 64 --warmup 32]
    python tools/benchmark_overhead.py --quick [--runner | --fp16]  # smoke test

In-process (the default): on the SNGAN(-proj) CIFAR-10 architecture
(SNGANGenerator 256 / ProjD 128 channels at 32x32, classes off so the
toolbox's gradient penalty applies; hinge loss, disc_steps=5) and random
data, times one runner iteration of the base model, ASGAN and DAT as
configured (under hinge they score D's output, so the attack direction takes
a separate D pass), both with ``score='loss'`` (direction read off the D
backward), and the toolbox's gradient penalty (WGAN-GP style, lambda 10). After a warm-up round,
variants are timed in interleaved rounds (so machine noise hits them alike)
of whole ``disc_steps`` cycles (one G update each), as many cycles as make a
round last ``--min-round-seconds`` (0.5 s: a GPU needs that many iterations
to be timed; on a CPU one cycle already takes longer). On CUDA every round is
synchronized. Printed per variant: the median round (s / iteration) and the
fastest and slowest, and ratios to the base model and to the floor: the base
iteration plus one extra D forward/backward on the adversarial batch (the
reals for ASGAN; reals and fakes for DAT), plus one more where the direction
takes a separate pass. Each variant's peak memory: on CUDA the allocator's
peak over the warmed-up model's steady state during one cycle (activations
and gradients), in this process; on a CPU the peak growth of the resident
set (sampled every 2 ms) in a fresh process.

``--runner``: the same comparison through the toolbox's runner, as users
train: ``tools/train.py`` on this project's SNGAN CIFAR-10 configs (base,
ASGAN, DAT) with random images, one process per config (``--repeats`` times,
the configs in turn); the iteration time is read from the JSON log after
``--warmup`` iterations. On CUDA the peak memory is the largest ``memory``
the log records (the allocator's peak since the run began).

``--fp16`` (CUDA only, as the toolbox's fp16): fp16 on and off through the
runner, on the toolbox's StyleGAN2 config-f recipe (its fp16 quick-test
config against the fp32 config it derives from, 4 images per GPU at 256x256,
random images), for the base model, ASGAN and DAT: s / iteration, x base
within a precision, fp16 x fp32 within a model, and peak memory. Iterations
are timed in whole 16-iteration cycles, the period of StyleGAN2's R1 (the
path-length regularizer's, 4, divides it).

The targets (not asserted: a shared or throttled machine can miss them) are
printed next to the ratios: ASGAN and DAT within 10% of the floor; through the
runner, ASGAN at most 1.25x and DAT at most 1.45x the base config.
"""
import argparse
import json
import math
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import mmgen_adv  # noqa: F401  (first: makes mmgen importable)
import torch
from mmgen.models import build_model


ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

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

# time over the floor (base + the extra D pass) that ASGAN and DAT may take
FLOOR_TARGET = 1.10
RUNNER_CONFIGS = {
    'base': 'configs/_base_/sngan_cifar10.py',
    'ASGAN': 'configs/asgan/sngan_cifar10.py',
    'DAT': 'configs/dat/sngan_cifar10.py',
}
# through the runner: at most this many times the base config's iteration
RUNNER_TARGETS = {'ASGAN': 1.25, 'DAT': 1.45}
# --fp16: the toolbox's StyleGAN2 config-f, fp16 quick-test settings on/off
FP16_BASES = {
    'fp32': 'mmgen::styleganv2/stylegan2_c2_ffhq_256_b4x8_800k.py',
    'fp16':
    'mmgen::styleganv2/stylegan2_c2_fp16_quicktest_ffhq_256_b4x8_800k.py',
}
FP16_MODELS = {
    'base': None,
    'ASGAN': dict(type='ASGAN', eps=1.0),
    'DAT': dict(type='DAT', eps=1.0),
}
# StyleGAN2's lazy regularizers: R1 every 16 iterations, path length every 4
FP16_CYCLE = 16
# per mode: iterations per cycle, and the defaults of the settings that
# differ (the recipe's 4 images per GPU at 256x256 for StyleGAN2)
MODES = {
    'sngan': dict(cycle=DISC_STEPS, batch_size=64, channels=(256, 128),
                  image_size=32, iters=200, warmup=50),
    'fp16': dict(cycle=FP16_CYCLE, batch_size=4, image_size=256, iters=64,
                 warmup=32),
}
# --quick: a smoke test of the tool (tiny networks, few short rounds)
QUICK = dict(channels=(32, 32), batch_size=16, rounds=2,
             min_round_seconds=0.05, iters=10, warmup=5)
FP16_QUICK = dict(batch_size=2, image_size=32, iters=16, warmup=16)


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
    disc = bench.model.discriminator
    disc.requires_grad_(True)  # the last G step froze it
    x = torch.rand(num_images, 3, 32, 32, device=bench.device) * 2 - 1

    def timed(repeats):
        sync(bench.device)
        start = time.perf_counter()
        for _ in range(repeats):
            bench.model.gan_loss(disc(x), True, is_disc=True).backward()
        sync(bench.device)
        return (time.perf_counter() - start) / repeats

    repeats = repeats_for(timed(1), min_round_seconds)  # also a warm-up
    times = [timed(repeats) for _ in range(rounds)]
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
    and optimizer state. Run in a fresh process (``peak_memory_mib``)."""
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


def fmt(value, spec):
    return '-' if value is None else format(value, spec)


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


def sngan_runs(args):
    """This project's SNGAN CIFAR-10 configs: name -> (base, override)."""
    model = ''
    if args.channels != (256, 128):
        model = ('model = dict(generator=dict(base_channels=%d), '
                 'discriminator=dict(base_channels=%d))\n' % args.channels)
    return {name: (osp.join(ROOT, config), model)
            for name, config in RUNNER_CONFIGS.items()}


def fp16_name(model, precision):
    return f'{model}_{precision}'


def fp16_runs(args):
    """The StyleGAN2 recipe per model and precision: ``fp16_name`` ->
    (base, override); fp32 and fp16 of one model run back to back."""
    size = args.image_size
    runs = {}
    for model, adv_cfg in FP16_MODELS.items():
        adv = '' if adv_cfg is None else \
            f"type='AdvUnconditionalGAN', adv_cfg={adv_cfg!r}, "
        override = (f'model = dict({adv}generator=dict(out_size={size}), '
                    f'discriminator=dict(in_size={size}))\n')
        for precision, base in FP16_BASES.items():
            runs[fp16_name(model, precision)] = (base, override)
    return runs


def read_log(work_dir):
    """Seconds of each logged training iteration from the JSON log, and the
    largest ``memory`` (MiB, logged on CUDA only; else None)."""
    log = sorted(f for f in os.listdir(work_dir) if f.endswith('.log.json'))
    with open(osp.join(work_dir, log[-1])) as f:
        records = [json.loads(line) for line in f if '"mode"' in line]
    train = [r for r in records if r['mode'] == 'train']
    memory = [r['memory'] for r in train if 'memory' in r]
    return [r['time'] for r in train], max(memory) if memory else None


def train_and_time(config, args, work_dir, env):
    """Seconds of each timed iteration of a tools/train.py run of
    ``config``, and its peak memory, read from its JSON log."""
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config,
           '--work-dir', work_dir, '--no-validate', '--seed', '0']
    print(' '.join(cmd), flush=True)
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f'error: tools/train.py failed on {config} '
                 f'({run.returncode}):\n{run.stderr[-3000:]}')
    times, memory = read_log(work_dir)
    if len(times) != args.warmup + args.iters:
        sys.exit(f'error: {work_dir}: {len(times)} iterations logged, '
                 f'expected {args.warmup + args.iters}')
    return times[args.warmup:], memory


def time_runs(runs, args, device):
    """Train every run with tools/train.py, ``--repeats`` times, the runs
    in turn: per run its mean s / iteration per repeat, the timed
    iterations, the cycles' means and the peak memory."""
    work_root = args.work_dir or tempfile.mkdtemp(prefix='bench_runner_')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT, os.environ.get('PYTHONPATH', '')]))
    if device.type == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    cycle = MODES[args.mode]['cycle']
    timed = {name: dict(means=[], times=[], cycles=[], memory=[])
             for name in runs}
    for repeat in range(args.repeats):
        for name, (base, model) in runs.items():
            work_dir = osp.join(work_root, name, f'run{repeat}')
            os.makedirs(work_dir, exist_ok=True)
            config = runner_config(base, model, args, work_dir, name)
            times, memory = train_and_time(config, args, work_dir, env)
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


def peak(memory):
    known = [m for m in memory if m is not None]
    return max(known) if known else None


def settings_line(args, what):
    return (f'{what}, batch {args.batch_size}, random images, {args.device};'
            f' mean over iterations {args.warmup + 1}-'
            f'{args.warmup + args.iters} (after {args.warmup} warm-up), '
            f'median of {args.repeats} run(s) per config, in turn; ratios: '
            'median of the ratios within a turn; fastest and slowest '
            f"{MODES[args.mode]['cycle']}-iteration cycle; peak memory: the "
            "log's largest (CUDA only)")


def through_runner(args, device):
    """Train each SNGAN config with tools/train.py; print s / iteration and
    ratios to the base config."""
    work_root, timed = time_runs(sngan_runs(args), args, device)
    results = {}
    for name, config in RUNNER_CONFIGS.items():
        run = timed[name]
        results[name] = dict(
            config=config,
            seconds=statistics.median(run['means']),
            x_base=ratio(timed, name, 'base'),
            target_x_base=RUNNER_TARGETS.get(name),
            fastest_cycle=min(run['cycles']),
            slowest_cycle=max(run['cycles']),
            peak_mib=peak(run['memory']),
            times=run['times'])

    print('\nThrough the runner: ' + settings_line(
        args, f'tools/train.py, SNGAN CIFAR-10 configs (G {args.channels[0]}'
        f', D {args.channels[1]} channels)') + '\n')
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


def fp16_on_off(args, device):
    """The StyleGAN2 recipe with fp16 on and off, per model, through
    tools/train.py; print s / iteration, ratios and peak memory."""
    work_root, timed = time_runs(fp16_runs(args), args, device)
    results = {}
    for model in FP16_MODELS:
        for precision in FP16_BASES:
            name = fp16_name(model, precision)
            run = timed[name]
            results[name] = dict(
                model=model,
                precision=precision,
                config=FP16_BASES[precision],
                seconds=statistics.median(run['means']),
                x_base=ratio(timed, name, fp16_name('base', precision)),
                x_fp32=ratio(timed, name, fp16_name(model, 'fp32')),
                fastest_cycle=min(run['cycles']),
                slowest_cycle=max(run['cycles']),
                peak_mib=peak(run['memory']),
                times=run['times'])

    print('\nfp16 on and off: ' + settings_line(
        args, "tools/train.py, the toolbox's StyleGAN2 config-f at "
        f'{args.image_size}x{args.image_size} (fp32: {FP16_BASES["fp32"]}; '
        f'fp16: {FP16_BASES["fp16"]})') + '\n')
    print('| model | precision | s / iteration | fastest - slowest cycle | '
          'x base | fp16 x fp32 | peak memory (MiB) |')
    print('|' + '---|' * 7)
    for result in results.values():
        print(f"| {result['model']} | {result['precision']} | "
              f"{result['seconds']:.4f} | {result['fastest_cycle']:.4f} - "
              f"{result['slowest_cycle']:.4f} | {result['x_base']:.2f} | "
              f"{result['x_fp32']:.2f} | {fmt(result['peak_mib'], '.0f')} |")
    return dict(mode='fp16', work_dir=work_root, results=results)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--batch-size', type=int,
        help='images per iteration (default: 64; --fp16: 4, the recipe\'s '
        'per GPU)')
    parser.add_argument(
        '--channels',
        type=int,
        nargs=2,
        metavar=('G', 'D'),
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
        '--runner', action='store_true',
        help='time tools/train.py runs of the SNGAN configs instead')
    parser.add_argument(
        '--fp16', action='store_true',
        help='time fp16 on and off through tools/train.py on the toolbox\'s '
        'StyleGAN2 recipe instead (CUDA only)')
    parser.add_argument(
        '--image-size', type=int,
        help='--fp16: the image size (default 256, the recipe\'s)')
    parser.add_argument(
        '--iters', type=int,
        help='--runner / --fp16: timed iterations per config, whole cycles '
        f'(of disc_steps, {DISC_STEPS} / of R1\'s interval, {FP16_CYCLE}; '
        f"default {MODES['sngan']['iters']} / {MODES['fp16']['iters']})")
    parser.add_argument(
        '--warmup', type=int,
        help='--runner / --fp16: iterations before the timed ones, whole '
        f"cycles (default {MODES['sngan']['warmup']} / "
        f"{MODES['fp16']['warmup']})")
    parser.add_argument(
        '--repeats', type=int, default=1,
        help='--runner: runs per config, the configs in turn')
    parser.add_argument(
        '--work-dir', help='--runner / --fp16: where the runs go')
    parser.add_argument(
        '--quick', action='store_true',
        help='a smoke test: tiny networks, short runs; numbers meaningless')
    parser.add_argument('--json', help='also write the results here')
    parser.add_argument('--memory-probe', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fp16 and args.runner:
        parser.error('--fp16 runs through the runner already; give one of '
                     '--runner and --fp16')
    if args.image_size is not None and not args.fp16:
        parser.error('--image-size applies to --fp16 only (the SNGAN '
                     'architecture is 32x32)')
    if args.channels is not None and args.fp16:
        parser.error('--channels applies to the SNGAN architecture; --fp16 '
                     "trains StyleGAN2 config-f at the recipe's widths")
    args.mode = 'fp16' if args.fp16 else 'sngan'
    defaults = dict(MODES[args.mode])
    cycle = defaults.pop('cycle')
    if args.quick:
        defaults.update(FP16_QUICK if args.fp16 else QUICK)
    for key, value in defaults.items():
        if getattr(args, key, None) is None or args.quick:
            setattr(args, key, value)
    if args.channels is not None:
        args.channels = tuple(args.channels)
    if args.iters < cycle or args.iters % cycle or args.warmup % cycle:
        what = "R1's interval" if args.fp16 else 'disc_steps'
        parser.error(f'--iters and --warmup must be multiples of {what} '
                     f'({cycle}), --iters at least {cycle}')
    if args.repeats < 1:
        parser.error('--repeats must be at least 1')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: PyTorch sees no GPU on this host')
    if args.fp16 and args.device != 'cuda':
        parser.error("--fp16: the toolbox's fp16 runs on CUDA only, and "
                     f'--device is {args.device}')
    return args


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    if args.memory_probe:
        return memory_probe(args.memory_probe, args, device)
    if args.fp16:
        results = fp16_on_off(args, device)
    elif args.runner:
        results = through_runner(args, device)
    else:
        results = in_process(args, device)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(args=vars(args), **results), f, indent=2)


if __name__ == '__main__':
    main()
