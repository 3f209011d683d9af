"""Rob-GAN against the Madry baseline on the bundled digits, over seeds: is
the GAN-trained, fine-tuned discriminator the more robust classifier?

    python tools/benchmark_robust.py [--seeds 0 1 2] [--jobs 2]
    python tools/benchmark_robust.py --quick         # minutes: a smoke test

For each seed, in ``<work-dir>/seed<N>/``:

1. ``gan``: Rob-GAN (``configs/robgan/robgan_digits.py``) for ``--gan-iters``
   iterations through ``tools/train.py``;
2. ``finetune``: ``tools/robgan_finetune.py`` on its last checkpoint for
   ``--finetune-iters`` steps (``--lam 0.3``);
3. ``madry_updates``: the same network trained from scratch with PGD
   adversarial training for ``gan-iters + finetune-iters`` steps, the same
   number of attacked D updates;
4. ``madry_time``: the same, for as many steps as fit in the wall-clock time
   of steps 1 and 2 (from the measured time per step of step 3);
5. ``eval``: ``tools/robust_eval.py`` (PGD-20) on the held-out digits for the
   four discriminators (Rob-GAN before and after fine-tuning, both Madry
   baselines).

Every step is resumable (``--auto-resume``) and skipped when its result is
there. Writes ``results_robust.md`` / ``.json`` (accuracy per eps: mean +-
std over seeds, and Rob-GAN minus each baseline paired by seed) and
``robust.png`` to the work dir.
"""
import argparse
import json
from pathlib import Path

from mmgen_adv.errors import UserInputError
from mmgen_adv.evidence.plots import plot_accuracy
from mmgen_adv.evidence.statistics import mean_std, paired
from mmgen_adv.evidence.study import (ROOT, Run, Step, add_study_arguments,
                                      check_study_arguments, environment,
                                      environment_line, recorded_settings,
                                      run_all, tool)
from mmgen_adv.methods.robust import OFFICIAL_EPS_GRID
from mmgen_adv.runs.cli import one_line_errors

CONFIG = ROOT / 'configs' / 'robgan' / 'robgan_digits.py'
EPS_GRID = [*OFFICIAL_EPS_GRID, 8]  # the official grid plus 8 gray levels
MODELS = ('robgan', 'madry_updates', 'madry_time', 'robgan_before_finetune')
BASELINES = ('madry_updates', 'madry_time')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--gan-iters', type=int, default=1500)
    parser.add_argument('--finetune-iters', type=int, default=500)
    parser.add_argument(
        '--eps', type=float, default=4.0,
        help='PGD budget of training and fine-tuning, gray levels')
    parser.add_argument(
        '--eps-grid', nargs='+', type=float, default=EPS_GRID,
        help='evaluation budgets, gray levels')
    parser.add_argument(
        '--num-images', type=int,
        help='evaluate the first N held-out images (default: all)')
    add_study_arguments(parser, 'work_dirs/benchmark_robust')
    parser.add_argument(
        '--quick', action='store_true',
        help='seeds 0 and 1, 4 GAN iterations, 2 fine-tuning steps, eps '
        '0 and 4, 50 images')
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.gan_iters, args.finetune_iters = [0, 1], 4, 2
        args.eps_grid, args.num_images = [0, 4], 50
    check_study_arguments(args)
    for name in ('gan_iters', 'finetune_iters'):
        if getattr(args, name) < 1:
            raise UserInputError(f'--{name.replace("_", "-")} must be >= 1, '
                                 f'got {getattr(args, name)}')
    if not 0 <= args.eps <= 64 or any(not 0 <= e <= 64
                                      for e in args.eps_grid):
        raise UserInputError('--eps and --eps-grid must be in [0, 64] gray '
                             'levels')
    return args


def madry_time_steps(run, updates):
    """Steps of the Madry baseline that take as long as Rob-GAN's GAN
    training and fine-tuning did (at its measured time per step)."""
    timing = run.timing()
    per_step = timing['madry_updates'] / updates
    return max(1, round((timing['gan'] + timing['finetune']) / per_step))


def make_run(args, seed):
    path = Path(args.work_dir) / f'seed{seed}'
    gan_ckpt = path / 'gan' / 'ckpt' / 'gan' / f'iter_{args.gan_iters}.pth'
    updates = args.gan_iters + args.finetune_iters
    attack = ['--eps', args.eps, '--batch-size', 32, '--seed', seed,
              '--log-interval', 100, '--auto-resume']

    def finetuned(name):
        return lambda run: (run.path / name / 'finetuned.pth').is_file()

    def madry(name, steps):
        return lambda run: tool(
            'robgan_finetune.py', CONFIG, '--from-scratch', '--work-dir',
            run.path / name, '--iters', steps(run), *attack)

    checkpoints = dict(
        robgan=path / 'finetune' / 'finetuned.pth',
        madry_updates=path / 'madry_updates' / 'finetuned.pth',
        madry_time=path / 'madry_time' / 'finetuned.pth',
        robgan_before_finetune=gan_ckpt)
    steps = [
        Step('gan', tool('train.py', CONFIG, '--work-dir', path / 'gan',
                         '--seed', seed, '--auto-resume',
                         *(['--deterministic'] if args.deterministic else []),
                         '--cfg-options',
                         f'total_iters={args.gan_iters}',
                         f'checkpoint_config.interval={args.gan_iters}',
                         f'model.adv_cfg.eps={args.eps}'),
             lambda run: gan_ckpt.is_file()),
        Step('finetune', tool('robgan_finetune.py', CONFIG, gan_ckpt,
                              '--work-dir', path / 'finetune', '--iters',
                              args.finetune_iters, '--lam', 0.3, *attack),
             finetuned('finetune')),
        Step('madry_updates', madry('madry_updates', lambda run: updates),
             finetuned('madry_updates')),
        Step('madry_time',
             madry('madry_time', lambda run: madry_time_steps(run, updates)),
             finetuned('madry_time')),
        Step('eval', tool(
            'robust_eval.py', CONFIG, '--checkpoint',
            *[f'{name}={file}' for name, file in checkpoints.items()],
            '--out-dir', path / 'eval', '--eps-grid', *args.eps_grid,
            *(['--num-images', args.num_images] if args.num_images else [])),
             lambda run: (run.path / 'eval' /
                          'robust_accuracy.json').is_file()),
    ]
    settings = json.dumps({k: v for k, v in vars(args).items()
                           if k not in ('jobs', 'work_dir', 'seeds')})
    return Run(f'robust/seed{seed}', path, steps,
               f'# benchmark_robust settings\n{settings}\n')


def summarise(args, runs):
    accuracy = {}
    for seed, run in runs.items():
        found = json.loads(
            (run.path / 'eval' / 'robust_accuracy.json').read_text())
        # robust_eval.py keys its budgets as it parsed them: floats
        accuracy[seed] = {m: [found['accuracy'][m][str(float(e))]
                              for e in args.eps_grid] for m in MODELS}
    seeds = list(runs)
    results = dict(eps_grid=args.eps_grid, seeds=seeds, models={},
                   madry_time_steps={s: madry_time_steps(
                       runs[s], args.gan_iters + args.finetune_iters)
                       for s in seeds},
                   seconds={s: runs[s].timing() for s in seeds})
    for model in MODELS:
        per_eps = [[accuracy[s][model][i] for s in seeds]
                   for i in range(len(args.eps_grid))]
        results['models'][model] = dict(
            values=per_eps, mean_std=[list(mean_std(v)) for v in per_eps])
    for baseline in BASELINES:
        results[f'robgan_vs_{baseline}'] = [
            paired(results['models']['robgan']['values'][i],
                   results['models'][baseline]['values'][i],
                   higher_is_better=True)
            for i in range(len(args.eps_grid))]
    return results


def markdown(args, results, env):
    updates = args.gan_iters + args.finetune_iters
    steps = ' / '.join(str(v) for v in results['madry_time_steps'].values())
    lines = [
        f'Accuracy under PGD-20 on the held-out digits, seeds '
        f"{' '.join(map(str, results['seeds']))}: mean +- std. Rob-GAN: "
        f'{args.gan_iters} GAN iterations + {args.finetune_iters} '
        f'fine-tuning steps; madry_updates: {updates} steps (the same '
        f'number of attacked D updates); madry_time: the same wall-clock '
        f'time ({steps} steps per seed: the one figure that depends on the '
        "machine's speed, measured wall-clock in this sitting).", '',
        f'Determined by: {environment_line(env)}.', '',
        '| eps (gray levels) | ' + ' | '.join(MODELS) +
        ' | Rob-GAN - madry_updates | Rob-GAN - madry_time |',
        '|---|' + '---|' * (len(MODELS) + 2)
    ]
    for i, eps in enumerate(args.eps_grid):
        cells = ['{:.3f} +- {:.3f}'.format(*results['models'][m]['mean_std']
                                           [i]) for m in MODELS]
        for baseline in BASELINES:
            c = results[f'robgan_vs_{baseline}'][i]
            interval = '' if c['low'] is None else \
                f" [{c['low']:+.3f}, {c['high']:+.3f}]"
            cells.append(f"{c['mean']:+.3f}{interval}, {c['wins']}/{c['n']}")
        lines.append(f'| {eps:g} | ' + ' | '.join(cells) + ' |')
    lines.append('')
    for baseline in BASELINES:
        verdicts = [c['verdict'] for c in results[f'robgan_vs_{baseline}']]
        lines.append(f'Rob-GAN vs {baseline}: ' + ', '.join(
            f'eps {e:g} {v}' for e, v in zip(args.eps_grid, verdicts)))
    minutes = sum(sum(t.values()) for t in results['seconds'].values()) / 60
    lines += ['', f'time, all steps of all seeds: {minutes:.0f} minutes '
              f'({args.jobs} side by side on {args.device})']
    return '\n'.join(lines)


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    runs = {seed: make_run(args, seed) for seed in args.seeds}
    run_all(list(runs.values()), jobs=args.jobs, device=args.device,
            threads=args.threads, log=lambda line: print(line, flush=True))
    results = summarise(args, runs)
    env = environment(args, list(runs.values()))
    text = markdown(args, results, env)
    out = Path(args.work_dir)
    (out / 'results_robust.md').write_text(text + '\n')
    (out / 'results_robust.json').write_text(json.dumps(
        dict(settings=recorded_settings(args), environment=env,
             results=results),
        indent=1))
    models = results['models']
    plot_accuracy({m: [mean for mean, _ in models[m]['mean_std']]
                   for m in MODELS}, args.eps_grid, out / 'robust.png',
                  {m: [std for _, std in models[m]['mean_std']]
                   for m in MODELS})
    print(text)
    print(f"written: {out / 'results_robust.md'}, .json, "
          f"{out / 'robust.png'}")


if __name__ == '__main__':
    main()
