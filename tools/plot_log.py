"""Curves from mmgen JSON logs (``<work_dir>/<timestamp>.log.json``), the
toolbox's ``analyze_logs.py plot_curve`` for GAN runs.

    python tools/plot_log.py plot_curve base.log.json dat.log.json \
        --keys loss_disc_real probe_xi_fake --legend base DAT --out cmp.png

Every logged key works: losses, ``adv_eps``, ``adv_gap_*``, the robustness
probe's values, ``fid``/``is`` from evaluation. One panel per key, one line
per log, against the iteration. ``keys`` lists what a log has.
"""
import argparse
import json
import os.path as osp

import numpy as np

from mmgen_adv.errors import UserInputError
from mmgen_adv.runs.cli import one_line_errors


def load_log(path):
    """``{key: (iterations, values)}`` of a JSON log (all modes)."""
    if not osp.isfile(path):
        raise UserInputError(f"log '{path}' does not exist")
    series = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise UserInputError(
                    f"log '{path}' line {number} is not JSON") from None
            if 'iter' not in record or 'mode' not in record:
                continue  # the environment header
            for key, value in record.items():
                if isinstance(value, (int, float)) and not isinstance(
                        value, bool) and key not in ('iter', 'epoch'):
                    its, values = series.setdefault(key, ([], []))
                    its.append(record['iter'])
                    values.append(value)
    return series


def smooth(values, window):
    if window <= 1 or len(values) < window:
        return np.asarray(values, dtype=float)
    kernel = np.ones(window) / window
    padded = np.concatenate([np.full(window - 1, values[0]), values])
    return np.convolve(padded, kernel, mode='valid')


def plot_curve(args):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    logs = [load_log(path) for path in args.json_logs]
    legend = args.legend or [
        osp.basename(osp.dirname(osp.abspath(p))) or p for p in args.json_logs
    ]
    if len(legend) != len(logs):
        raise UserInputError(f'--legend has {len(legend)} names for '
                             f'{len(logs)} logs')
    for key in args.keys:
        if not any(key in log for log in logs):
            available = sorted(set().union(*logs))
            raise UserInputError(f"no log has key '{key}'; available: "
                                 f"{', '.join(available)}")
    fig, axes = plt.subplots(
        len(args.keys), 1, figsize=(6, 2.6 * len(args.keys)), dpi=110,
        squeeze=False)
    for ax, key in zip(axes[:, 0], args.keys):
        for log, name in zip(logs, legend):
            if key in log:
                its, values = log[key]
                ax.plot(its, smooth(values, args.smooth), label=name,
                        marker='o' if len(its) < 20 else None)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[-1, 0].set_xlabel('iteration')
    if args.title:
        axes[0, 0].set_title(args.title)
    fig.tight_layout()
    fig.savefig(args.out)
    plt.close(fig)
    print(f'written {args.out}')


def list_keys(args):
    for path in args.json_logs:
        log = load_log(path)
        print(f'{path}:')
        for key in sorted(log):
            its = log[key][0]
            print(f'  {key} ({len(its)} points, iterations {its[0]}-'
                  f'{its[-1]})')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Analyze JSON logs')
    sub = parser.add_subparsers(dest='task', required=True)
    curve = sub.add_parser('plot_curve', help='plot curves of keys')
    curve.add_argument('json_logs', nargs='+')
    curve.add_argument('--keys', nargs='+', default=['loss_disc_real'])
    curve.add_argument('--legend', nargs='+')
    curve.add_argument('--title')
    curve.add_argument(
        '--smooth', type=int, default=1,
        help='moving-average window in log records')
    curve.add_argument('--out', default='curves.png')
    keys = sub.add_parser('keys', help='list the keys of logs')
    keys.add_argument('json_logs', nargs='+')
    return parser.parse_args(argv)


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    if args.task == 'plot_curve':
        plot_curve(args)
    else:
        list_keys(args)


if __name__ == '__main__':
    main()
