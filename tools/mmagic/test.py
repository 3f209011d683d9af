"""Evaluate a checkpoint with an MMagic 1.x config's metrics (MMagic's own
command line: mmengine's Runner ``test()`` with the config's
``test_evaluator``, e.g. MMagic's FID and IS).

    .venv-mmagic/bin/python tools/mmagic/test.py CONFIG CHECKPOINT
        [--work-dir DIR] [--out METRICS.json] [--cfg-options KEY=VALUE ...]
        [--launcher none|pytorch|slurm|mpi]

The metrics are logged, and written to ``<work dir>/<timestamp>/
vis_data/<timestamp>.json`` (and to ``--out``). Offline FID/IS: point the
metrics at a local TorchScript Inception, e.g.
``--cfg-options test_evaluator.metrics.0.inception_path=PATH``.

Before the runner builds anything or writes its work dir, bad input is
refused in one line with exit status 2: a config that does not load, a
checkpoint that is missing, unreadable or of another model than the
config's (mmengine would load it non-strictly, with warnings), an FID/IS
``inception_path`` that is not a file, an ``--out`` mmengine cannot write.
"""
import argparse
import sys

import mmgen_adv.mmagic  # noqa: F401  (first: compat and registries)
import mmengine
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmgen_adv.errors import EXIT_INPUT_ERROR, UserInputError
from mmgen_adv.mmagic.cli import (add_runner_args, load_runner_config,
                                  parse_runner_args)
from mmgen_adv.mmagic.evaluation import (check_checkpoint_fits,
                                         check_inception_files,
                                         check_test_loop)
from mmgen_adv.runs.dist import leave_process_group

# what mmengine.dump infers a format from
OUT_SUFFIXES = ('.json', '.yaml', '.yml', '.pkl', '.pickle')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='the file to save metric results.')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


def load_config(args):
    """The config as MMagic's ``tools/test.py`` makes it, checked."""
    cfg = load_runner_config(args)
    cfg.load_from = args.checkpoint
    if args.out and not args.out.endswith(OUT_SUFFIXES):
        raise UserInputError(
            f"--out '{args.out}': the metrics are written as "
            f"{', '.join(OUT_SUFFIXES)} (chosen by the suffix)")
    check_test_loop(cfg)
    check_inception_files(cfg)
    check_checkpoint_fits(cfg, args.checkpoint, args.config)
    return cfg


class SaveMetricsHook(Hook):
    """``--out``: the test metrics, written once (by the main process)."""

    def __init__(self, out):
        self.out = out

    def after_test_epoch(self, runner, metrics=None):
        if metrics is not None and is_main_process():
            mmengine.dump(metrics, self.out)


def main(argv=None):
    args = parse_args(argv)
    try:
        runner = Runner.from_cfg(load_config(args))
    except UserInputError as err:
        print(f'error: {err}', file=sys.stderr)
        return EXIT_INPUT_ERROR
    if args.out:
        runner.register_hook(SaveMetricsHook(args.out), 'LOWEST')
    runner.test()
    leave_process_group()
    return 0


if __name__ == '__main__':
    sys.exit(main())
