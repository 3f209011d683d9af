"""Accuracy of discriminators' class heads under PGD attack (Rob-GAN's
evaluation), for one or more checkpoints side by side.

    python tools/robust_eval.py CONFIG --checkpoint robgan=A.pth \
        madry=B.pth --out-dir DIR [--steps 20] [--eps-grid 0 0.51 ...]

White-box L-inf PGD on the cross-entropy (no random start, step eps/5, D in
inference mode) at each budget of the grid, in gray levels; the default is
the official grid (0 to 0.04 in [-1, 1] units). Images come from the
config's held-out split: ``data.test`` (or ``--split val``). Prints a
table and writes ``DIR/robust_accuracy.csv``, ``.json`` and ``.png``.
"""
import argparse
import csv
import json
import os.path as osp

import mmgen_adv  # noqa: F401  (first: makes mmgen importable)
import mmcv
import torch
from mmgen.datasets import build_dataset
from mmgen.models import build_model

from mmgen_adv.errors import UserInputError
from mmgen_adv.evidence.labelled_data import labelled_batches
from mmgen_adv.evidence.plots import plot_accuracy
from mmgen_adv.methods.robust import OFFICIAL_EPS_GRID, accuracy_under_attack
from mmgen_adv.runs.checkpoints import (check_fits, load_weights,
                                        read_checkpoint)
from mmgen_adv.runs.cli import add_config_args, one_line_errors
from mmgen_adv.runs.config import load_config
from mmgen_adv.runs.data_checks import check_dataset_paths


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument(
        '--checkpoint',
        nargs='+',
        required=True,
        metavar='NAME=PATH',
        help='checkpoints to compare, each named')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument(
        '--eps-grid',
        type=float,
        nargs='+',
        default=list(OFFICIAL_EPS_GRID),
        help='budgets in gray levels')
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument(
        '--split', choices=['test', 'val'], default='test',
        help='held-out split of the config')
    parser.add_argument(
        '--num-images', type=int, help='evaluate the first N images only')
    parser.add_argument('--batch-size', type=int, default=100)
    add_config_args(parser)
    return parser.parse_args(argv)


def named_checkpoints(items):
    named = {}
    for item in items:
        name, sep, path = item.partition('=')
        if not sep or not name or not path:
            raise UserInputError(
                f"--checkpoint takes NAME=PATH, got '{item}'")
        named[name] = path
    return named


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    paths = named_checkpoints(args.checkpoint)
    # every file is read (and refused, in one line) before any work
    checkpoints = {name: read_checkpoint(path) for name, path in paths.items()}
    if any(e < 0 or e > 64 for e in args.eps_grid):
        raise UserInputError('--eps-grid: budgets must be in [0, 64] gray '
                             'levels')
    cfg = load_config(args.config, args.cfg_options)
    data_cfg = cfg.data.get(args.split)
    if data_cfg is None:
        raise UserInputError(f'the config has no data.{args.split}')
    check_dataset_paths(data_cfg, f'data.{args.split}')
    dataset = build_dataset(data_cfg, dict(test_mode=True))

    def new_model():
        return build_model(
            cfg.model, train_cfg=cfg.train_cfg, test_cfg=cfg.test_cfg)

    model = new_model()
    if not hasattr(model.discriminator, 'num_aux_classes'):
        raise UserInputError(
            'robust accuracy needs a discriminator with a class head '
            f'(ACDiscriminator), not {type(model.discriminator).__name__}')
    if not args.partial_load:  # all refused before any is evaluated
        for name, path in paths.items():
            check_fits(model, checkpoints[name], path)

    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    results = {}
    for name, path in paths.items():
        model = new_model()
        load_weights(model, path, partial=args.partial_load,
                     checkpoint=checkpoints[name])
        model.to(device)
        batches = labelled_batches(
            dataset,
            args.batch_size,
            shuffle=False,
            cycle=False,
            limit=args.num_images)
        print(f'{name}: PGD-{args.steps} at eps {args.eps_grid} ...',
              flush=True)
        results[name] = accuracy_under_attack(model.discriminator, batches,
                                              args.eps_grid, args.steps)

    mmcv.mkdir_or_exist(args.out_dir)
    names = list(results)
    num_images = min(args.num_images or len(dataset), len(dataset))
    lines = [
        f'accuracy under PGD-{args.steps} (L-inf, {num_images} held-out '
        'images)', '', '| eps (gray levels) | eps ([-1, 1]) | ' +
        ' | '.join(names) + ' |', '|---|---|' + '---|' * len(names)
    ]
    for eps in args.eps_grid:
        lines.append(f'| {eps:g} | {eps / 127.5:.3f} | ' + ' | '.join(
            f'{results[n][eps]:.3f}' for n in names) + ' |')
    print('\n'.join(lines))
    stem = osp.join(args.out_dir, 'robust_accuracy')
    with open(stem + '.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['eps_gray_levels', 'eps_input_scale'] + names)
        for eps in args.eps_grid:
            writer.writerow([eps, eps / 127.5] +
                            [results[n][eps] for n in names])
    with open(stem + '.json', 'w') as f:
        json.dump(
            dict(
                steps=args.steps,
                num_images=num_images,
                checkpoints=paths,
                accuracy={n: {str(e): a
                              for e, a in r.items()}
                          for n, r in results.items()}),
            f,
            indent=2)
    plot_accuracy({n: [r[e] for e in args.eps_grid]
                   for n, r in results.items()}, args.eps_grid,
                  stem + '.png')
    print(f'written: {stem}.csv, .json, .png')


if __name__ == '__main__':
    main()
