"""Does a regularizer help? Base model vs ASGAN vs DAT (and SSGAN +- DAT)
on stacked digits (1000 modes, offline), same budget and seeds.

    python tools/benchmark_quality.py [--arch dcgan|sngan] [--seeds 0 1 2]
    python tools/benchmark_quality.py --quick     # minutes: a smoke test

One architecture per call; the default budget (1500 iterations, 3 seeds)
takes about 45 minutes for DCGAN (3 methods) and an hour for SNGAN (5
methods, SSGAN +- DAT included) on 2 CPU cores.

Each run is ``tools/train.py`` on ``configs/stacked_digits/<arch>.py`` with
the method's ``adv_cfg`` (or SSGAN's model) and ``--seed``; its
``GenerativeEvalHook`` evaluates the ``StackedDigits`` metrics (modes
covered, KL from uniform, classifier Frechet distance) during training and
at the end. Writes ``results.md`` (mean +- std over seeds), ``results.json``
and ``metrics.png`` (the metrics over training) to the work dir, and prints
the table. Runs already finished in the work dir are reused.
"""
import argparse
import json
import os.path as osp
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mmgen_adv.cli import one_line_errors
from mmgen_adv.errors import UserInputError

ROOT = Path(__file__).resolve().parents[1]
METHODS = {
    'base': '',
    'asgan': "model = dict(adv_cfg=dict(type='ASGAN', eps=1.0))",
    'dat': "model = dict(adv_cfg=dict(type='DAT', eps=1.0))",
    'ssgan': ("model = dict(type='SSGAN', "
              "discriminator=dict(type='SSGANDiscriminator'))"),
    'ssgan_dat': ("model = dict(type='SSGAN', "
                  "discriminator=dict(type='SSGANDiscriminator'), "
                  "adv_cfg=dict(type='DAT', eps=1.0))"),
}
ARCH_METHODS = dict(
    dcgan=['base', 'asgan', 'dat'],
    sngan=['base', 'asgan', 'dat', 'ssgan', 'ssgan_dat'])
METRICS = ('modes', 'kl', 'fd')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--arch', default='dcgan', choices=list(ARCH_METHODS))
    parser.add_argument(
        '--methods', nargs='+', choices=list(METHODS),
        help='default: base, asgan, dat (+ ssgan, ssgan_dat for sngan)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument(
        '--iters', type=int, default=1500, help='runner iterations')
    parser.add_argument(
        '--evals', type=int, default=4, help='evaluations per run')
    parser.add_argument(
        '--num-images', type=int, default=10000,
        help='generated images per evaluation')
    parser.add_argument(
        '--work-dir', default='work_dirs/benchmark_quality')
    parser.add_argument(
        '--quick', action='store_true',
        help='1 seed, DCGAN base and DAT, 40 iterations, 1000 images')
    args = parser.parse_args(argv)
    if args.quick:
        args.arch, args.methods, args.seeds = 'dcgan', ['base', 'dat'], [0]
        args.iters, args.evals, args.num_images = 40, 2, 1000
    if args.evals < 1 or args.iters % args.evals:
        # the last evaluation must fall on the last iteration: it is the
        # result, and how a finished run is recognised
        raise UserInputError(
            f'--evals must be >= 1 and divide --iters; got --iters '
            f'{args.iters}, --evals {args.evals}')
    return args


def run_dir(args, arch, method, seed):
    return Path(args.work_dir) / f'{arch}_{method}_seed{seed}'


def write_config(args, arch, method, seed):
    base = ROOT / 'configs' / 'stacked_digits' / f'{arch}.py'
    lines = [f"_base_ = ['{base}']", METHODS[method]]
    iters = args.iters
    interval = iters // args.evals
    lines += [
        f'total_iters = {iters}',
        f'evaluation = dict(interval={interval}, metrics=dict('
        f'num_images={args.num_images}))',
        f'checkpoint_config = dict(interval={iters})',
    ]
    path = run_dir(args, arch, method, seed) / 'config.py'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join(lines) + '\n')
    return path, iters


def evaluations(work_dir):
    """``[(iteration, {metric: value})]`` from a run's JSON log."""
    logs = sorted(Path(work_dir).glob('*.log.json'))
    found = []
    for line in logs[-1].read_text().splitlines() if logs else []:
        record = json.loads(line)
        if all(m in record for m in METRICS):
            found.append((record['iter'], {m: record[m] for m in METRICS}))
    return found


def train(args, arch, method, seed):
    work = run_dir(args, arch, method, seed)
    config, iters = write_config(args, arch, method, seed)
    done = evaluations(work)
    if done and done[-1][0] == iters:
        print(f'{work.name}: reusing finished run', flush=True)
        return done
    start = time.time()
    result = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'train.py'), str(config),
         '--work-dir', str(work), '--seed', str(seed)],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f'{work.name} failed:\n{result.stderr[-3000:]}')
    done = evaluations(work)
    if not done or done[-1][0] != iters:
        raise RuntimeError(f'{work.name}: no evaluation at iteration {iters} '
                           f'in its log')
    final = done[-1][1]
    print(f'{work.name}: {time.time() - start:.0f}s, modes '
          f"{final['modes']}, KL {final['kl']:.3f}, FD {final['fd']:.2f}",
          flush=True)
    return done


def summarise(runs):
    """Mean and std over seeds of the final evaluation of each setting."""
    table = {}
    for (arch, method), per_seed in runs.items():
        finals = [evals[-1][1] for evals in per_seed]
        table[(arch, method)] = {
            m: (float(np.mean([f[m] for f in finals])),
                float(np.std([f[m] for f in finals])))
            for m in METRICS
        }
    return table


def markdown(table, args):
    lines = [
        f"stacked digits, {args.iters} iterations, {len(args.seeds)} seed(s) "
        f"({' '.join(map(str, args.seeds))}), {args.num_images} generated "
        'images, final evaluation; mean +- std over seeds', '',
        '| arch | method | modes (of 1000) | KL to uniform | classifier FD |',
        '|---|---|---|---|---|'
    ]
    for (arch, method), stats in table.items():
        cells = [f'{stats[m][0]:.1f} +- {stats[m][1]:.1f}'
                 if m == 'modes' else
                 f'{stats[m][0]:.3f} +- {stats[m][1]:.3f}' if m == 'kl' else
                 f'{stats[m][0]:.2f} +- {stats[m][1]:.2f}' for m in METRICS]
        lines.append(f'| {arch} | {method} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot(runs, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), dpi=110)
    for (arch, method), per_seed in runs.items():
        its = [it for it, _ in per_seed[0]]
        for ax, metric in zip(axes, METRICS):
            values = np.array([[v[metric] for _, v in evals]
                               for evals in per_seed])
            mean = values.mean(0)
            line, = ax.plot(its, mean, marker='o', label=f'{arch} {method}')
            if len(per_seed) > 1:
                ax.fill_between(its, values.min(0), values.max(0), alpha=0.15,
                                color=line.get_color())
    for ax, title in zip(axes, ('modes covered (of 1000)',
                                'KL to uniform (lower is better)',
                                'classifier FD (lower is better)')):
        ax.set_title(title)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    # the first evaluations' FD dwarfs the later differences
    axes[2].set_yscale('log')
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    runs = {}
    arch = args.arch
    for method in args.methods or ARCH_METHODS[arch]:
        if method not in ARCH_METHODS[arch]:
            raise UserInputError(
                f'method {method} is not benchmarked on {arch}; choose from '
                f'{ARCH_METHODS[arch]}')
        runs[(arch, method)] = [
            train(args, arch, method, seed) for seed in args.seeds
        ]
    table = summarise(runs)
    text = markdown(table, args)
    out = Path(args.work_dir)
    (out / 'results.md').write_text(text + '\n')
    (out / 'results.json').write_text(json.dumps(
        dict(args=vars(args),
             results={f'{a} {m}': s for (a, m), s in table.items()},
             curves={f'{a} {m}': r for (a, m), r in runs.items()}),
        indent=2))
    plot(runs, out / 'metrics.png')
    print(text)
    print(f'written: {osp.join(args.work_dir, "results.md")}, results.json, '
          'metrics.png')


if __name__ == '__main__':
    main()
