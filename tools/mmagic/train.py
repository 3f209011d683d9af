"""Train an MMagic 1.x config with this project's models (MMagic's own
command line: mmengine's Runner, ``--resume``, ``--amp``, ``--launcher``).

    .venv-mmagic/bin/python tools/mmagic/train.py CONFIG [--work-dir DIR]
        [--resume] [--amp] [--cfg-options KEY=VALUE ...]
        [--launcher none|pytorch|slurm|mpi]

``mmgen_adv.mmagic`` is imported before the config is read (its compat
makes ``mmagic::`` bases with ``-`` in their path load). Bad input (an
unknown ``adv_cfg`` key or value, a config that does not load) is refused
in one line, exit status 2, before the runner writes anything.
"""
import argparse
import sys

import mmgen_adv.mmagic  # noqa: F401  (first: compat and registries)
from mmengine.runner import Runner

from mmgen_adv.errors import EXIT_INPUT_ERROR, UserInputError
from mmgen_adv.methods.regularizers import unbound_regularizer
from mmgen_adv.mmagic.cli import (add_runner_args, load_runner_config,
                                  parse_runner_args)
from mmgen_adv.runs.dist import leave_process_group


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train an MMagic config')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in work-dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (AmpOptimWrapper)')
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


def amp_optim_wrappers(optim_wrapper):
    """``--amp``: every OptimWrapper of the config (one per model, G and D,
    under MMagic's MultiOptimWrapperConstructor) becomes an AmpOptimWrapper
    with a dynamic loss scale."""
    per_model = [w for w in optim_wrapper.values()
                 if isinstance(w, dict) and 'optimizer' in w]
    for wrapper in per_model or [optim_wrapper]:
        if wrapper.get('type', 'OptimWrapper') not in ('OptimWrapper',
                                                       'AmpOptimWrapper'):
            raise UserInputError(
                f"--amp needs optim_wrapper type 'OptimWrapper', got "
                f"{wrapper['type']!r}")
        wrapper.type = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')


def load_config(args):
    cfg = load_runner_config(args)
    if args.amp:
        amp_optim_wrappers(cfg.optim_wrapper)
    if args.resume:
        cfg.resume = True
    # the noise of iteration k from (seed, k): a resumed run is exact
    if not any(hook.get('type') == 'IterationSeedHook'
               for hook in cfg.get('custom_hooks') or []):
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='IterationSeedHook')]
    # the runner writes its work dir before it builds the model
    if cfg.model.get('adv_cfg') is not None:
        unbound_regularizer(cfg.model.adv_cfg, 'model.adv_cfg')
    return cfg


def main(argv=None):
    args = parse_args(argv)
    try:
        runner = Runner.from_cfg(load_config(args))
    except UserInputError as err:
        print(f'error: {err}', file=sys.stderr)
        return EXIT_INPUT_ERROR
    runner.train()
    leave_process_group()
    return 0


if __name__ == '__main__':
    sys.exit(main())
