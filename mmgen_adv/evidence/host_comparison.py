"""One stacked-digits study on both hosts, side by side
(``tools/benchmark_quality.py --host mmagic --compare-with RESULTS``).

Reads two results files of the same study and budget (the mmgen host's
``results_<study>.json`` and the MMagic host's
``results_<study>_mmagic.json``) and pairs every method and seed trained on
both: each evaluation's numbers per host, the final difference, and the
mmgen host's seed-to-seed spread to read it against. The two toolboxes'
DCGANs train the same model from other random draws, so the question is
whether the numbers are comparable, not equal (:data:`DIFFERENCES`).
"""
import json
from pathlib import Path

from ..errors import UserInputError
from .plots import plot_curves
from .study import environment_line

HOST_NAMES = {'mmgen': 'mmgen', 'mmagic': 'MMagic'}
# must be the same for a comparison to mean anything
SAME_SETTINGS = ('study', 'arch', 'iters', 'evals', 'num_images', 'device',
                 'threads', 'deterministic')
DIFFERENCES = [
    'the same on both: the stacks (train and held-out), the digit '
    'classifier and the metric (tested equal to the last bit on the same '
    'images), the architecture (G 128 / D 64 channels, BatchNorm, 100-d '
    'Gaussian noise), the non-saturating loss, Adam 2e-4 (0.5, 0.999), '
    'batch 64, one D step per G step, the regularizer code, the seed, '
    'iteration noise reseeded from (seed, iteration) on both',
    'initial weights: the same distributions, drawn at another point of '
    'the random stream (mmgen in the constructor, MMagic in the runner\'s '
    'init_weights), so other weights',
    'data order: mmgen shuffles each epoch with its sampler, MMagic draws '
    'from mmengine\'s InfiniteSampler: another order of the same stacks',
    'channel order: the MMagic model trains on and generates BGR (its '
    'convention; the metric reads it back), the mmgen model RGB; stacks '
    'are exchangeable across channels, so this changes which images, '
    'not their distribution',
    'scaling: MMagic normalizes reals as (x - 127.5) / 127.5 (mmgen: '
    'x / 127.5 - 1, equal up to the last bit) and hands generated images '
    'to the metric through [0, 255] (clamped, then back to [-1, 1])',
    'runs: mmgen through tools/train.py --auto-resume, MMagic through '
    'tools/mmagic/train.py --resume (mmengine\'s runner)',
]


def seed_curves(results):
    """``{method: {seed: curve}}`` of a results file."""
    seeds = results['settings']['seeds']
    return {m: dict(zip(seeds, runs)) for m, runs in results['curves'].items()}


def command(settings, methods, seeds, mmgen_path):
    """The command line that trains the MMagic runs (finished ones are
    reused) and writes this comparison again."""
    options = '' if settings['deterministic'] else ' --no-deterministic'
    return ('.venv/bin/python tools/benchmark_quality.py --host mmagic '
            f"--study {settings['study']} --methods {' '.join(methods)} "
            f"--seeds {' '.join(map(str, seeds))} --iters {settings['iters']} "
            f"--evals {settings['evals']} --num-images "
            f"{settings['num_images']} --device {settings['device']} "
            f"--threads {settings['threads']}{options} --work-dir WORK_DIR "
            f'--compare-with {mmgen_path}')


def compare(mmgen, mmagic, mmgen_path='RESULTS'):
    """The comparison of two results files (dicts) of one study;
    ``mmgen_path`` is how its command line names the first.

    Raises:
        UserInputError: When their settings differ, or no method and seed
            was trained on both hosts.
    """
    for key in SAME_SETTINGS:
        theirs, ours = mmgen['settings'].get(key), mmagic['settings'].get(key)
        if theirs != ours:
            raise UserInputError(
                f'--compare-with: the mmgen results have {key} {theirs!r}, '
                f'these {ours!r}; compare the same study and budget')
    on_mmgen, on_mmagic = seed_curves(mmgen), seed_curves(mmagic)
    curves = {}
    for method, by_seed in on_mmagic.items():
        for seed, curve in by_seed.items():
            if seed in on_mmgen.get(method, {}):
                curves.setdefault(method, {})[str(seed)] = dict(
                    mmgen=on_mmgen[method][seed], mmagic=curve)
    if not curves:
        raise UserInputError('--compare-with: no method and seed was '
                             'trained on both hosts')
    # the final values over the mmgen host's seeds: the yardstick
    spread = {m: {metric: dict(values=v['values'], mean_std=v['mean_std'])
                  for metric, v in mmgen['results'][m].items()
                  if isinstance(v, dict) and 'mean_std' in v}
              for m in curves}
    settings = {k: mmgen['settings'][k] for k in SAME_SETTINGS}
    settings['mmgen_seeds'] = mmgen['settings']['seeds']
    seeds = sorted({int(s) for by_seed in curves.values() for s in by_seed})
    return dict(settings=settings,
                command=command(settings, list(curves), seeds, mmgen_path),
                environment=dict(mmgen=mmgen['environment'],
                                 mmagic=mmagic['environment']),
                curves=curves, mmgen_spread=spread,
                differences=DIFFERENCES)


def _cell(value, decimals):
    if isinstance(value, int):  # a run's modes
        return str(value)
    return f'{value:.{decimals}f}'


def markdown(comparison, metrics):
    """The comparison as Markdown: every evaluation per host, the final
    difference against the mmgen host's spread over its seeds."""
    s = comparison['settings']
    env = comparison['environment']
    classifier = env['mmgen'].get('digit_classifier', {})
    lines = [
        f"{s['study']} study on both hosts: stacked digits, {s['arch']}, "
        f"{s['iters']} iterations on {s['device']}, {s['num_images']} "
        'generated images per evaluation; the same method and seed on '
        'each host.', '',
        f"mmgen host: {environment_line(env['mmgen'])}.",
        f"MMagic host: {environment_line(env['mmagic'])}.",
        f"Digit classifier {classifier.get('cache_key', '?')} on both.", '',
        '| method | seed | iteration | ' + ' | '.join(
            f'{label}, {HOST_NAMES[h]}' for label, _, _ in metrics.values()
            for h in HOST_NAMES) + ' |',
        '|---|---|---|' + '---|' * (2 * len(metrics))]
    for method, by_seed in comparison['curves'].items():
        for seed, hosts in by_seed.items():
            # the same settings: the same evaluation iterations
            for (it, a), (_, b) in zip(hosts['mmgen'], hosts['mmagic']):
                cells = [_cell(v[m], d) for m, (_, _, d) in metrics.items()
                         for v in (a, b)]
                lines.append(f'| {method} | {seed} | {it} | ' +
                             ' | '.join(cells) + ' |')
    seeds = ' '.join(map(str, s['mmgen_seeds']))
    lines += ['', f"At iteration {s['iters']}: MMagic - mmgen on the same "
              f'seed, and the mmgen host\'s mean +- std over its seeds '
              f'({seeds}) with their range.', '',
              '| method | seed | ' + ' | '.join(
                  f'{label}: MMagic - mmgen | mmgen over seeds'
                  for label, _, _ in metrics.values()) + ' |',
              '|---|---|' + '---|---|' * len(metrics)]
    for method, by_seed in comparison['curves'].items():
        spread = comparison['mmgen_spread'][method]
        for seed, hosts in by_seed.items():
            a, b = hosts['mmgen'][-1][1], hosts['mmagic'][-1][1]
            cells = []
            for m, (_, _, d) in metrics.items():
                (mean, std), values = spread[m]['mean_std'], \
                    spread[m]['values']
                difference = b[m] - a[m]
                cells += [f'{difference:+d}' if isinstance(difference, int)
                          else f'{difference:+.{d}f}',
                          f'{_cell(mean, d)} +- {_cell(std, d)} '
                          f'({_cell(min(values), d)} - '
                          f'{_cell(max(values), d)})']
            lines.append(f'| {method} | {seed} | ' + ' | '.join(cells) +
                         ' |')
    lines += ['', 'What differs between the two runs of a method and seed:',
              ''] + [f'- {d}' for d in comparison['differences']]
    lines += ['', 'Regenerated (in the mmgen environment; the MMagic runs in '
              "`.venv-mmagic`) by:", '', '```bash', comparison['command'],
              '```']
    return '\n'.join(lines)


def plot(comparison, metrics, path, mmgen_all_seeds=None):
    """Metrics against the iteration: one colour per method, solid on the
    mmgen host, dashed on the MMagic host; dotted with a band, the mean and
    range over every seed of the mmgen results (``mmgen_all_seeds``:
    ``{method: [curve per seed]}``), to read a difference against."""
    curves, styles = {}, {}
    seeds = comparison['settings']['mmgen_seeds']
    for i, (method, by_seed) in enumerate(comparison['curves'].items()):
        shown = ', '.join(f'seed {s}' for s in by_seed)
        for host, dash in (('mmgen', '-'), ('mmagic', '--')):
            label = f'{method}, {HOST_NAMES[host]}, {shown}'
            curves[label] = [hosts[host] for hosts in by_seed.values()]
            styles[label] = dict(color=f'C{i}', linestyle=dash)
        if mmgen_all_seeds and len(seeds) > 1:
            label = (f'{method}, mmgen, seeds {seeds[0]}-{seeds[-1]}: mean, '
                     'range')
            curves[label] = mmgen_all_seeds[method]
            styles[label] = dict(color=f'C{i}', linestyle=':', marker='',
                                 linewidth=1)
    plot_curves(curves, metrics, path, log_scale=('fd', ), styles=styles,
                legend='below')


def write(mmgen_path, mmagic_results, metrics, out_dir):
    """Compare the mmgen results at ``mmgen_path`` with ``mmagic_results``;
    write ``results_hosts.md`` / ``.json`` and ``hosts_<study>.png`` to
    ``out_dir``; return the Markdown."""
    # a relative path is the repository's (docs/evidence/...); an absolute
    # one is this machine's, named by its file alone
    shown = Path(mmgen_path).name if Path(mmgen_path).is_absolute() else \
        str(mmgen_path)
    with open(mmgen_path) as f:
        mmgen = json.load(f)
    comparison = compare(mmgen, mmagic_results, shown)
    text = markdown(comparison, metrics)
    (out_dir / 'results_hosts.md').write_text(text + '\n')
    (out_dir / 'results_hosts.json').write_text(
        json.dumps(comparison, indent=1))
    plot(comparison, metrics,
         out_dir / f"hosts_{comparison['settings']['study']}.png",
         mmgen['curves'])
    return text
