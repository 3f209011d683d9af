"""Does a regularizer help? Each paper's setting on stacked digits (1000
modes, offline), the same budget and seeds for every method, compared with
the base model seed by seed.

    python tools/benchmark_quality.py --study dcgan   # AS-GAN's setting
    python tools/benchmark_quality.py --study sngan   # DAT's setting
    python tools/benchmark_quality.py --study eps     # AS-GAN's Fig. 3
    python tools/benchmark_quality.py --study dat_eps # DAT's eps
    python tools/benchmark_quality.py --study dcgan_long  # 4x the budget
    python tools/benchmark_quality.py --quick         # minutes: a smoke test

Studies (methods; default seeds):

- ``dcgan``: DCGAN with the non-saturating (``vanilla``) loss, AS-GAN's
  setting: base, ASGAN (eps 1), DAT (paper variant, eps 1); 5 seeds.
- ``sngan``: SNGAN with the hinge loss, DAT's setting: base, ASGAN, DAT
  (paper variant), DAT (the official code's ``reference`` variant), SSGAN,
  SSGAN + DAT; 3 seeds.
- ``eps``: AS-GAN's eps study on DCGAN: base, ASGAN at eps 0 (the paper's
  "D updated twice" point), 0.5, 1, 2, 4, 8, 16 gray levels, and the
  Gaussian direction at eps 1; 3 seeds. Its ``eps.png`` is the paper's
  Fig. 3 curve.
- ``dat_eps``: DAT's eps in the sngan setting: base, DAT's paper variant
  and the official code's (eps the clamp of its step) at 0.5 to 8 gray
  levels; 3 seeds; ``dat_eps.png``.
- ``dcgan_long``: the dcgan setting at 4 times the budget (6000 iterations
  on cpu), evaluated 8 times: base, ASGAN and DAT (paper variant) at
  their eps studies' optima (eps 8 and 4); 3 seeds.

Each run is ``tools/train.py --auto-resume`` on
``configs/stacked_digits/<arch>.py`` with the method's override and
``--seed``; its ``GenerativeEvalHook`` computes the ``StackedDigits``
metrics (modes covered, KL from uniform, classifier Frechet distance)
``--evals`` times. Runs live in ``<work-dir>/<arch>/<method>/seed<N>``
(``<arch>-<iters>`` for dcgan_long) and are shared between studies (the
eps study reuses the DCGAN study's base and ASGAN runs); a finished run is
reused and an interrupted one continues from its newest checkpoint, so a
study can be run over several sittings. ``--jobs N`` trains N runs side by
side, each with ``--threads`` intra-op threads (default 1): neither
``--jobs`` nor the machine's core count changes a run's numbers. The
final evaluation of every run is compared with the base model's on the same
seed, and SSGAN + DAT's also with SSGAN's (paired: mean difference, 95%
t-interval, exact sign test). Writes
``results_<study>.md`` / ``.json`` (with the versions, device, threads and
commit that produced them, and the commits the runs trained at) and
``metrics_<study>.png`` (``<study>.png``, metrics against eps, for the eps
studies) to the work dir.

``--host mmagic`` trains the same study on MMagic's DCGAN instead
(``tools/mmagic/train.py --resume`` in the MMagic environment, given by
``--mmagic-python``, on ``configs/mmagic/stacked_digits/<arch>.py``: the
dcgan setting has one; runs in ``<work-dir>/mmagic/<arch>/...``; results
``results_<study>_mmagic.*``). ``--compare-with RESULTS`` (the mmgen host's
``results_<study>.json`` of the same study and budget) then writes
``results_hosts.md`` / ``.json`` and ``hosts_<study>.png``: every method
and seed trained on both hosts, side by side:

    python tools/benchmark_quality.py --host mmagic --methods base asgan \
        --seeds 0 --compare-with docs/evidence/results_dcgan.json
"""
import argparse
import json
from pathlib import Path

from mmgen_adv.errors import UserInputError
from mmgen_adv.evidence import host_comparison, mmagic_study
from mmgen_adv.evidence.digits.classifier import cache_key, load_classifier
from mmgen_adv.evidence.plots import plot_against_eps, plot_curves
from mmgen_adv.evidence.statistics import mean_std, paired
from mmgen_adv.evidence.study import (ROOT, Run, Step, add_study_arguments,
                                      check_study_arguments, environment,
                                      environment_line, recorded_settings,
                                      run_all, run_header, tool)
from mmgen_adv.runs.cli import one_line_errors


def adv_cfg(**options):
    args = ', '.join(f'{k}={v!r}' for k, v in options.items())
    return f'model = dict(adv_cfg=dict({args}))'


def asgan(**options):
    return adv_cfg(type='ASGAN', **{'eps': 1.0, **options})


def dat(**options):
    return adv_cfg(type='DAT', **{'eps': 1.0, **options})


SSGAN = "type='SSGAN', discriminator=dict(type='SSGANDiscriminator')"
# name: (config override, what it is)
METHODS = {
    'base': ('', 'the base model'),
    'asgan': (asgan(), 'ASGAN, eps 1'),
    'dat': (dat(), 'DAT, paper variant, eps 1'),
    'dat_reference': (adv_cfg(type='DAT', variant='reference'),
                      "DAT, the official code's variant"),
    'ssgan': (f'model = dict({SSGAN})', 'SSGAN'),
    'ssgan_dat': (f"model = dict({SSGAN}, adv_cfg=dict(type='DAT', "
                  'eps=1.0))', 'SSGAN + DAT, paper variant, eps 1'),
    'asgan_eps0': (asgan(eps=0.0), 'ASGAN, eps 0: D updated twice'),
    'asgan_gaussian': (asgan(direction='gaussian'),
                       'ASGAN, random sign direction, eps 1'),
}
# the eps curves: ASGAN (AS-GAN's Fig. 3 and beyond), DAT in both variants
# (the reference variant's eps is the clamp of its raw gradient step)
EPS_OF = {'asgan_eps0': 0.0, 'asgan': 1.0, 'dat': 1.0}
for _eps in (0.5, 2.0, 4.0, 8.0, 16.0, 32.0):
    _name = f'asgan_eps{_eps:g}'
    METHODS[_name] = (asgan(eps=_eps), f'ASGAN, eps {_eps:g}')
    EPS_OF[_name] = _eps
for _eps in (0.5, 1.0, 2.0, 4.0, 8.0):
    if _eps != 1.0:
        METHODS[f'dat_eps{_eps:g}'] = (dat(eps=_eps),
                                       f'DAT, paper variant, eps {_eps:g}')
        EPS_OF[f'dat_eps{_eps:g}'] = _eps
    METHODS[f'dat_reference_eps{_eps:g}'] = (
        adv_cfg(type='DAT', variant='reference', eps=_eps),
        f"DAT, the official code's variant, step clamped to {_eps:g}")
    EPS_OF[f'dat_reference_eps{_eps:g}'] = _eps
# besides the base model, a method is paired with the model it adds to
# (the DAT paper's claim for SSGAN + DAT is over SSGAN)
ALSO_PAIRED_WITH = {'ssgan_dat': 'ssgan'}
ASGAN_EPS = ['asgan_eps0', 'asgan_eps0.5', 'asgan', 'asgan_eps2',
             'asgan_eps4', 'asgan_eps8', 'asgan_eps16']
# study: (arch, methods, default seeds, the claim it tests)
STUDIES = {
    'dcgan': ('dcgan', ['base', 'asgan', 'dat'], [0, 1, 2, 3, 4],
              'AS-GAN (DCGAN, non-saturating loss): ASGAN and DAT improve '
              'on the base model'),
    'sngan': ('sngan', ['base', 'asgan', 'dat', 'dat_reference', 'ssgan',
                        'ssgan_dat'], [0, 1, 2],
              'DAT (SNGAN and SSGAN, hinge loss): DAT improves SNGAN and '
              'SSGAN'),
    'eps': ('dcgan', ['base', *ASGAN_EPS, 'asgan_gaussian'], [0, 1, 2],
            "AS-GAN's Fig. 3: best between eps 0.5 and 3, eps 4 harmful, "
            'the Gaussian direction no help'),
    'dat_eps': ('sngan', ['base', 'dat_eps0.5', 'dat', 'dat_eps2',
                          'dat_eps4', 'dat_eps8', 'dat_reference_eps0.5',
                          'dat_reference_eps1', 'dat_reference_eps2',
                          'dat_reference_eps4', 'dat_reference_eps8'],
                [0, 1, 2],
                "DAT's eps (SNGAN, hinge loss): which budget helps, in the "
                "paper's variant and the official code's"),
    # each regularizer at its eps study's optimum: ASGAN eps 8 (FD level
    # with eps 4, the most modes, the lowest KL), DAT's paper variant eps 4
    # (the lowest FD, better than base on every seed)
    'dcgan_long': ('dcgan', ['base', 'asgan_eps8', 'dat_eps4'], [0, 1, 2],
                   "AS-GAN's claim that the gain lasts: the best settings "
                   'of the eps studies at 4x the budget'),
}
# studies whose figure is the metrics against eps (``<study>.png``)
EPS_STUDIES = ('eps', 'dat_eps')
# studies whose budget is a multiple of the usual one, and their
# evaluations per run (4 at the usual budget)
BUDGET = {'dcgan_long': 4}
EVALS = {'dcgan_long': 8}
# metric: (label, higher is better, decimals)
METRICS = {'modes': ('modes (of 1000)', True, 1),
           'kl': ('KL to uniform', False, 3),
           'fd': ('classifier FD', False, 2)}
DEFAULT_ITERS = dict(cpu=1500, cuda=20000)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--study', default='dcgan', choices=list(STUDIES))
    parser.add_argument(
        '--methods', nargs='+', choices=list(METHODS),
        help="a subset of the study's methods (default: all of them)")
    parser.add_argument(
        '--seeds', nargs='+', type=int,
        help='default: 0-4 for dcgan, 0-2 for sngan and eps')
    parser.add_argument(
        '--iters', type=int,
        help='runner iterations (default: 1500 on cpu, 20000 on cuda)')
    parser.add_argument(
        '--evals', type=int,
        help='evaluations per run (also its checkpoints); default 4 (8 '
        'for dcgan_long)')
    parser.add_argument(
        '--num-images', type=int, default=10000,
        help='generated images per evaluation')
    parser.add_argument(
        '--add-method', action='append', default=[], metavar='NAME=CONFIG',
        help='compare a method of your own too: CONFIG holds its override '
        "of the study's config (model = dict(adv_cfg=...), custom_imports),"
        ' written into each of its runs\' configs')
    add_study_arguments(parser, 'work_dirs/benchmark_quality')
    parser.add_argument(
        '--quick', action='store_true',
        help='the dcgan study with base and DAT, seeds 0 and 1, 40 '
        'iterations, 1000 images')
    parser.add_argument(
        '--host', default='mmgen', choices=['mmgen', 'mmagic'],
        help="the toolbox whose model trains: mmgen 0.7.3 (this "
        "environment) or MMagic 1.x (--mmagic-python's)")
    parser.add_argument(
        '--mmagic-python', default=str(mmagic_study.DEFAULT_PYTHON),
        help='the MMagic environment\'s interpreter (--host mmagic)')
    parser.add_argument(
        '--compare-with', metavar='RESULTS',
        help="--host mmagic: the mmgen host's results_<study>.json of the "
        'same study and budget; writes results_hosts.md/.json and '
        'hosts_<study>.png')
    args = parser.parse_args(argv)
    arch, methods, seeds, _ = STUDIES[args.study]
    if args.quick:
        args.study, args.methods, args.seeds = 'dcgan', ['base', 'dat'], [0, 1]
        args.iters, args.evals, args.num_images = 40, 2, 1000
        arch, methods = STUDIES['dcgan'][:2]
    args.arch = arch
    args.methods = args.methods or methods
    args.added = added_methods(args.add_method)
    args.methods = args.methods + [m for m in args.added
                                   if m not in args.methods]
    args.seeds = args.seeds or seeds
    budget = BUDGET.get(args.study, 1)
    if args.iters is None:
        args.iters = budget * DEFAULT_ITERS[args.device]
    if args.evals is None:
        args.evals = EVALS.get(args.study, 4)
    unknown = [m for m in args.methods
               if m not in methods and m not in args.added]
    if unknown:
        raise UserInputError(
            f'--methods: {unknown[0]} is not in the {args.study} study; '
            f'choose from {methods}')
    if 'base' not in args.methods:
        raise UserInputError('--methods must include base: every method is '
                             'compared with it')
    check_study_arguments(args)
    if args.iters < 1:
        raise UserInputError(f'--iters must be >= 1, got {args.iters}')
    if args.evals < 1 or args.iters % args.evals:
        # the last evaluation must fall on the last iteration: it is the
        # result, and how a finished run is recognised
        raise UserInputError(
            f'--evals must be >= 1 and divide --iters; got --iters '
            f'{args.iters}, --evals {args.evals}')
    check_host_arguments(args)
    return args


def check_host_arguments(args):
    if args.host == 'mmagic':
        mmagic_study.base_config(args.arch)
        mmagic_study.check_python(args.mmagic_python)
    if args.compare_with:
        if args.host != 'mmagic':
            raise UserInputError('--compare-with compares MMagic runs with '
                                 "the mmgen host's: it needs --host mmagic")
        if not Path(args.compare_with).is_file():
            raise UserInputError(
                f"--compare-with '{args.compare_with}' does not exist")


def added_methods(specs):
    """``--add-method NAME=CONFIG``s as ``{name: (override, description)}``."""
    added = {}
    for spec in specs:
        name, _, path = spec.partition('=')
        if not name or not path:
            raise UserInputError(f'--add-method takes NAME=CONFIG, got '
                                 f'{spec!r}')
        if name in METHODS or name in added:
            raise UserInputError(f'--add-method: the name {name!r} is taken;'
                                 ' choose another')
        if not Path(path).is_file():
            raise UserInputError(f"--add-method {name}: config '{path}' "
                                 'does not exist')
        added[name] = (Path(path).read_text().strip(), f'{name} ({path})')
    return added


def method_of(args, name):
    """``(config override, description)`` of a method of the study."""
    return args.added.get(name) or METHODS[name]


def evaluations(work_dir):
    """``[(iteration, {metric: value})]`` from a run's JSON logs (a resumed
    run has one log per sitting; a later record of an iteration wins)."""
    found = {}
    for log in sorted(Path(work_dir).glob('*.log.json')):
        for line in log.read_text().splitlines():
            record = json.loads(line)
            if all(m in record for m in METRICS):
                found[record['iter']] = {m: record[m] for m in METRICS}
    return sorted(found.items())


class MMGenStudyHost:
    """A study's runs on mmgen 0.7.3, in this environment:
    ``tools/train.py --auto-resume`` on ``configs/stacked_digits/``.
    (:class:`~mmgen_adv.evidence.mmagic_study.MMagicStudyHost` is the
    other host, with the same attributes.)"""

    folder = ()  # runs in <work-dir>/<arch>/...
    suffix = ''  # results_<study>.md
    label = ''

    def prepare(self, args):
        pass

    def base_config(self, arch):
        return ROOT / 'configs' / 'stacked_digits' / f'{arch}.py'

    def config_lines(self, args, seed):
        interval = args.iters // args.evals
        return [
            f'total_iters = {args.iters}',
            f'evaluation = dict(interval={interval}, metrics=dict('
            f'num_images={args.num_images}))',
            # a checkpoint at every evaluation: an interrupted run loses at
            # most one interval
            f'checkpoint_config = dict(interval={interval})',
        ]

    def train_command(self, args, config, train_dir, seed):
        options = ['--deterministic'] if args.deterministic else []
        return tool('train.py', config, '--work-dir', train_dir, '--seed',
                    seed, '--auto-resume', *options)

    def evaluations(self, train_dir):
        return evaluations(train_dir)

    def versions(self):
        return None  # this environment's


def study_host(args):
    """The host whose model the study trains (``--host``)."""
    if args.host == 'mmagic':
        return mmagic_study.MMagicStudyHost(args.mmagic_python, METRICS)
    return MMGenStudyHost()


def config_text(args, method, seed):
    host = study_host(args)
    return '\n'.join([
        run_header(args),
        f"_base_ = ['{host.base_config(args.arch)}']",
        method_of(args, method)[0],
        *host.config_lines(args, seed),
    ]) + '\n'


def run_folder(args, method, seed):
    """``<work-dir>/<arch>/<method>/seed<N>``; ``<arch>-<iters>`` for the
    studies at another budget, whose runs differ from the usual ones; under
    ``mmagic/`` for the MMagic host's."""
    arch = f'{args.arch}-{args.iters}' if args.study in BUDGET else \
        args.arch
    return Path(args.work_dir, *study_host(args).folder) / arch / method / \
        f'seed{seed}'


def make_run(args, method, seed):
    host = study_host(args)
    path = run_folder(args, method, seed)
    train_dir = path / 'train'

    def finished(run):
        done = host.evaluations(train_dir)
        return bool(done) and done[-1][0] == args.iters

    train = Step(
        'train',
        lambda run: host.train_command(args, run.config, train_dir, seed),
        finished)
    return Run('/'.join([*host.folder, args.arch, method, f'seed{seed}']),
               path, [train], config_text(args, method, seed))


def references(args, method):
    """The models a method is paired with, of those in the study."""
    if method == 'base':
        return []
    also = ALSO_PAIRED_WITH.get(method)
    return ['base'] + ([also] if also in args.methods else [])


def summarise(args, runs):
    """Per method: final values per seed, mean +- std, and the paired
    comparison with the base model (``vs_base``) and, where it adds to
    another model of the study, with that one (``vs_<model>``)."""
    host = study_host(args)
    results = {}
    for method in args.methods:
        finals = [host.evaluations(runs[method, s].path / 'train')[-1][1]
                  for s in args.seeds]
        entry = dict(description=method_of(args, method)[1],
                     seeds=args.seeds,
                     seconds=[runs[method, s].timing().get('train')
                              for s in args.seeds])
        for metric in METRICS:
            values = [f[metric] for f in finals]
            entry[metric] = dict(values=values,
                                 mean_std=list(mean_std(values)))
        results[method] = entry
    for method, entry in results.items():
        for metric, (_, higher, _) in METRICS.items():
            for reference in references(args, method):
                entry[metric][f'vs_{reference}'] = paired(
                    entry[metric]['values'],
                    results[reference][metric]['values'], higher)
    return results


def _number(value, decimals):
    return f'{value:.{decimals}f}'


def markdown(args, results, env):
    arch, _, _, claim = STUDIES[args.study]
    arch += study_host(args).label
    lines = [
        f'{args.study} study ({claim}); stacked digits, {arch}, '
        f'{args.iters} iterations on {args.device}, seeds '
        f"{' '.join(map(str, args.seeds))}, {args.num_images} generated "
        'images, final evaluation.', '',
        f'Determined by: {environment_line(env)}; digit classifier '
        f"{env['digit_classifier']['cache_key']} "
        f"({env['digit_classifier']['held_out_accuracy']:.2%} held-out).",
        '',
        '| method | ' + ' | '.join(label for label, _, _ in METRICS.values())
        + ' |', '|---|' + '---|' * len(METRICS)
    ]
    for method, entry in results.items():
        cells = []
        for metric, (_, _, decimals) in METRICS.items():
            mean, std = entry[metric]['mean_std']
            cells.append(f'{_number(mean, decimals)} +- '
                         f'{_number(std, decimals)}')
        lines.append(f'| {method} | ' + ' | '.join(cells) + ' |')
    lines += [
        '', 'Paired on the same seeds: mean difference (method - '
        'reference) [95% interval], seeds where the method is better, exact '
        'sign test p.', '',
        '| method - reference | ' +
        ' | '.join(label for label, _, _ in METRICS.values()) + ' |',
        '|---|' + '---|' * len(METRICS)
    ]
    verdicts = []
    for method, entry in results.items():
        for reference in references(args, method):
            cells = []
            for metric, (label, _, decimals) in METRICS.items():
                c = entry[metric][f'vs_{reference}']
                interval = '' if c['low'] is None else \
                    f" [{_number(c['low'], decimals)}, " \
                    f"{_number(c['high'], decimals)}]"
                cells.append(f"{c['mean']:+.{decimals}f}{interval}, "
                             f"{c['wins']}/{c['n']}, p {c['sign_p']:.2f}")
                verdicts.append(
                    f"{method} vs {reference}, {label}: {c['verdict']}")
            lines.append(f'| {method} - {reference} | ' + ' | '.join(cells)
                         + ' |')
    minutes = sum(s for e in results.values() for s in e['seconds']
                  if s is not None) / 60
    lines += ['', *verdicts, '',
              f'training time summed over the runs: {minutes:.0f} minutes '
              f'on {args.device} (runs side by side each take longer)']
    return '\n'.join(lines)


def eps_curves(methods):
    """The eps curves among ``methods``: ``{label: [methods by eps]}``."""
    curves = {}
    for method in sorted((m for m in methods if m in EPS_OF),
                         key=EPS_OF.get):
        label = 'DAT, official code' if method.startswith('dat_reference') \
            else 'DAT, paper' if method.startswith('dat') else 'ASGAN'
        curves.setdefault(label, []).append(method)
    return curves


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    host = study_host(args)
    runs = {(m, s): make_run(args, m, s)
            for m in args.methods for s in args.seeds}
    host.prepare(args)
    run_all(list(runs.values()), jobs=args.jobs, device=args.device,
            threads=args.threads, log=lambda line: print(line, flush=True))
    results = summarise(args, runs)
    env = environment(args, list(runs.values()), host.versions())
    _, accuracy = load_classifier()  # the metrics read through it
    env['digit_classifier'] = dict(cache_key=cache_key(),
                                   held_out_accuracy=accuracy)
    text = markdown(args, results, env)
    out = Path(args.work_dir)
    stem = f'results_{args.study}{host.suffix}'
    (out / f'{stem}.md').write_text(text + '\n')
    curves = {m: [host.evaluations(runs[m, s].path / 'train')
                  for s in args.seeds]
              for m in args.methods}
    data = dict(settings=recorded_settings(args), environment=env,
                results=results, curves=curves)
    (out / f'{stem}.json').write_text(json.dumps(data, indent=1))
    if args.study in EPS_STUDIES:
        figure = f'{args.study}{host.suffix}.png'
        points = {name: [(EPS_OF[m], m) for m in methods]
                  for name, methods in eps_curves(results).items()}
        plot_against_eps(results, points, METRICS, out / figure,
                         extra={'asgan_gaussian': (1.0, 'Gaussian direction')})
    else:
        figure = f'metrics_{args.study}{host.suffix}.png'
        plot_curves(curves, METRICS, out / figure, log_scale=('fd', ))
    print(text)
    print(f'written: {out / stem}.md, .json, {out / figure}')
    if args.compare_with:
        # json round trip: the curves as the mmgen results file holds them
        print(host_comparison.write(args.compare_with,
                                    json.loads(json.dumps(data)), METRICS,
                                    out))
        print(f"written: {out / 'results_hosts'}.md, .json, "
              f"{out / ('hosts_' + args.study + '.png')}")


if __name__ == '__main__':
    main()
