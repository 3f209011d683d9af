"""Train a GAN: the toolbox's ``tools/train.py``, on the pinned stack.

Same arguments as mmgen's; configs may inherit the toolbox's own configs
through ``_base_ = ['mmgen::...']``. Distributed runs (``--launcher
pytorch``, see ``tools/dist_train.sh``) use NCCL on GPUs and gloo on CPU.

Safe to stop and rerun: ``--auto-resume`` continues from the newest complete
checkpoint of the work dir (or starts a new run); checkpoints are written
atomically; SIGTERM / SIGINT end the run after the current iteration with a
checkpoint (exit status 3). Everything is checked (config keys, data,
checkpoints, the work dir) before anything is written to the work dir. Exit
statuses: see :mod:`mmgen_adv.errors`.
"""
import argparse
import copy
import os.path as osp
import time

import mmgen_adv  # noqa: F401  (first: makes mmgen importable)
import torch
from mmcls.utils import setup_multi_processes
from mmcv.runner import get_dist_info
from mmgen import __version__ as mmgen_version
from mmgen.apis import set_random_seed, train_model
from mmgen.models import build_model

from mmgen_adv.errors import (TrainingInterrupted, TrainingStopped,
                              UserInputError)
from mmgen_adv.evidence.evaluation import check_inception_available
from mmgen_adv.runs.checkpoints import (check_fits, checkpoint_folder,
                                        filename_template, load_weights,
                                        read_checkpoint,
                                        require_training_state)
from mmgen_adv.runs.cli import (add_config_args, add_launcher_args,
                                exit_with, finish_launcher_args,
                                one_line_errors)
from mmgen_adv.runs.config import (add_missing_runtime, check_fp16_needs_cuda,
                                   dump_flat_config, load_config)
from mmgen_adv.runs.data_checks import (build_checked, check_dataset_paths,
                                        check_samples, generated_shape)
from mmgen_adv.runs.dist import (decided_by_rank0, init_dist,
                                 leave_process_group)
from mmgen_adv.runs.environment import collect_env  # survives a crashing query
from mmgen_adv.runs.run_log import start_run_log, write_log_file
from mmgen_adv.runs.workdir import WorkDirLock, carry_out, plan_start

DEFAULT_SEED = 2021
DEFAULT_DIST_TIMEOUT = 1800


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a GAN model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume-from', help='the checkpoint file to resume from')
    parser.add_argument(
        '--auto-resume',
        action='store_true',
        help='resume from the newest complete checkpoint in the work dir, '
        'or start a new run if there is none')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='start a new run in a work dir that holds checkpoints (with '
        '--resume-from: that holds later ones): they are deleted first')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate the checkpoint during training')
    parser.add_argument(
        '--gpu-id',
        type=int,
        default=0,
        help='id of gpu to use (non-distributed training only)')
    parser.add_argument(
        '--seed',
        type=int,
        default=None,
        help=f'random seed (default: the checkpoint\'s when resuming, else '
        f'{DEFAULT_SEED})')
    parser.add_argument(
        '--diff_seed',
        '--diff-seed',
        action='store_true',
        help='use a different seed on each rank')
    parser.add_argument(
        '--deterministic',
        action='store_true',
        help='set deterministic options for the CUDNN backend')
    add_config_args(parser, loaded='load_from')
    parser.add_argument(
        '--dist-timeout',
        type=float,
        default=DEFAULT_DIST_TIMEOUT,
        help='distributed runs: seconds without progress after which a '
        'stalled rank ends the run (named in the error)')
    add_launcher_args(parser)
    return finish_launcher_args(parser.parse_args(argv))


def as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def add_hook(cfg, hook, replace=False):
    """Add ``hook`` to ``custom_hooks`` unless the config has its type."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    if replace:
        hooks = [h for h in hooks if h.get('type') != hook['type']]
    if not any(h.get('type') == hook['type'] for h in hooks):
        hooks.append(hook)
    cfg.custom_hooks = hooks


def add_run_hooks(cfg, seed, rank_shift, resume_from, distributed,
                  dist_timeout):
    """The hooks that make runs exact and safe to stop (see their docs)."""
    # exact resume (unless the config chose its own seeding)
    add_hook(cfg, dict(type='IterationSeedHook', seed=seed,
                       rank_shift=rank_shift, priority='VERY_HIGH'))
    add_hook(cfg, dict(type='WindowedLogBufferHook',
                       resume_from=resume_from, priority='HIGHEST'),
             replace=True)
    add_hook(cfg, dict(type='StopOnSignalHook', priority='HIGHEST'))
    if distributed:
        add_hook(cfg, dict(type='StalledRankWatchdogHook',
                           timeout=dist_timeout, priority='HIGHEST'),
                 replace=True)
    if cfg.get('checkpoint_config') is not None and \
            cfg.checkpoint_config.get('type',
                                      'CheckpointHook') == 'CheckpointHook':
        cfg.checkpoint_config.type = 'AtomicCheckpointHook'


def resolve_seed(args, resume_meta, resume_from):
    """Seed, deterministic flag and rank shift of the run: a resumed run
    keeps its checkpoint's (an explicit different choice is refused, as
    the run would then not continue as it started)."""
    seed, deterministic, rank_shift = args.seed, args.deterministic, \
        args.diff_seed
    if resume_meta is None:
        return (DEFAULT_SEED if seed is None else seed), deterministic, \
            rank_shift
    saved = resume_meta.get('seed')
    if seed is not None and saved is not None and seed != saved:
        raise UserInputError(
            f"--seed {seed} conflicts with the seed {saved} of the run being "
            f"resumed ('{resume_from}'); drop --seed to continue that run "
            'exactly')
    for flag, given, name in ((deterministic, args.deterministic,
                               '--deterministic'),
                              (rank_shift, args.diff_seed, '--diff-seed')):
        key = name.strip('-').replace('-', '_')
        if given and resume_meta.get(key) is False:
            raise UserInputError(
                f"{name} conflicts with the run being resumed "
                f"('{resume_from}'), which trained without it; drop it to "
                'continue that run exactly')
    return (saved if saved is not None else
            DEFAULT_SEED if seed is None else seed), \
        bool(deterministic or resume_meta.get('deterministic')), \
        bool(rank_shift or resume_meta.get('diff_seed'))


def check_inputs(cfg, args):
    """The checks that need nothing built."""
    check_fp16_needs_cuda(cfg)
    check_dataset_paths(cfg.data.get('train'), 'data.train')
    if not args.no_validate and cfg.get('evaluation'):
        check_dataset_paths(cfg.data.get('val'), 'data.val', test_mode=True)
        try:
            for metric in as_list(cfg.evaluation.get('metrics')):
                check_inception_available(metric)
        except UserInputError as err:
            raise UserInputError(f'evaluation during training: {err} (or '
                                 'train with --no-validate)') from None


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    # the toolbox's start method and thread caps for data workers (mmgen's
    # own script defines the same function as mmcls's)
    setup_multi_processes(cfg)
    runtime_added = add_missing_runtime(cfg)
    if cfg.get('cudnn_benchmark', False):
        torch.backends.cudnn.benchmark = True
    # work_dir: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.gpu_ids = [args.gpu_id]
    check_inputs(cfg, args)

    distributed = args.launcher != 'none'
    if distributed:
        init_dist(args.launcher, timeout=args.dist_timeout + 300,
                  **cfg.get('dist_params', {}))
        _, world_size = get_dist_info()
        cfg.gpu_ids = range(world_size)
    logger = start_run_log(cfg.log_level)  # the file comes once all passed

    # -- where the run starts: decided by rank 0 for every rank ------------
    folder = checkpoint_folder(cfg)

    resume_from = args.resume_from or cfg.get('resume_from')

    def plan():
        return plan_start(folder, filename_template(cfg), resume_from,
                          args.auto_resume, args.overwrite)

    start = decided_by_rank0(plan)
    resume_meta = None
    if start.resume_from:
        resumed = read_checkpoint(start.resume_from, 'resume checkpoint',
                                  lazy=True)
        require_training_state(resumed, start.resume_from)
        resume_meta = resumed['meta']
    loaded = None
    if cfg.get('load_from') and not start.resume_from:
        loaded = read_checkpoint(cfg.load_from, 'load_from')
    seed, deterministic, rank_shift = resolve_seed(args, resume_meta,
                                                   start.resume_from)
    cfg.resume_from = start.resume_from
    set_random_seed(
        seed, deterministic=deterministic, use_rank_shift=rank_shift)
    cfg.seed = seed

    # -- build, and check what was built -----------------------------------
    model = build_model(
        cfg.model, train_cfg=cfg.train_cfg, test_cfg=cfg.test_cfg)
    if start.resume_from:
        check_fits(model, resumed, start.resume_from, 'resume checkpoint')
    if loaded is not None and not args.partial_load:
        check_fits(model, loaded, cfg.load_from, 'load_from')
    datasets = [build_checked(cfg.data.train, 'data.train')]
    check_samples(datasets[0], 'data.train', generated_shape(model))
    if len(cfg.workflow) == 2:
        val_dataset = copy.deepcopy(cfg.data.val)
        datasets.append(build_checked(val_dataset, 'data.val'))
    add_run_hooks(cfg, seed, rank_shift, start.resume_from, distributed,
                  args.dist_timeout)
    if cfg.checkpoint_config is not None:
        cfg.checkpoint_config.meta = dict(
            mmgen_version=mmgen_version,
            mmgen_adv_version=mmgen_adv.__version__)

    # -- every check passed: the work dir is this run's from here ----------
    held = []  # rank 0's lock, held until the process ends

    def take_work_dir():
        lock = WorkDirLock(cfg.work_dir).acquire()
        # another run may have written between the plan and the lock
        if plan().resume_from != start.resume_from:
            lock.release()
            raise UserInputError(
                f"work dir '{cfg.work_dir}' changed while this run started "
                '(another run wrote checkpoints); run the command again')
        held.append(lock)

    decided_by_rank0(take_work_dir)
    timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    if get_dist_info()[0] == 0:
        write_log_file(logger, osp.join(cfg.work_dir, f'{timestamp}.log'))
        carry_out(start, logger)
    env_info = '\n'.join(f'{k}: {v}' for k, v in collect_env().items())
    logger.info('Environment info:\n' + '-' * 60 + '\n' + env_info + '\n' +
                '-' * 60)
    if runtime_added:
        logger.info('The config inherits no runtime; from the toolbox\'s '
                    f'default_runtime.py: {", ".join(runtime_added)}')
    logger.info(f'Distributed training: {distributed}')
    logger.info(f'Config:\n{cfg.pretty_text}')
    logger.info(f'Set random seed to {seed}, deterministic: '
                f'{deterministic}, use_rank_shift: {rank_shift}')
    meta = dict(
        env_info=env_info,
        config=cfg.pretty_text,
        seed=seed,
        deterministic=deterministic,
        diff_seed=rank_shift,
        exp_name=osp.basename(args.config))
    if get_dist_info()[0] == 0:
        flat = dump_flat_config(cfg, cfg.work_dir, args.config)
        logger.info(f'Resolved config written to {flat}')
    if loaded is not None:
        # loaded here, strictly (or as --partial-load says), not by the
        # toolbox's runner, which loads whatever fits without a word
        load_weights(model, cfg.load_from, 'load_from', args.partial_load,
                     logger, loaded)
        logger.info(f'load_from: weights loaded from {cfg.load_from}')
        cfg.load_from = None
    try:
        train_model(
            model,
            datasets,
            cfg,
            distributed=distributed,
            validate=not args.no_validate,
            timestamp=timestamp,
            meta=meta)
    except TrainingInterrupted as err:
        logger.info(str(err))
        leave_process_group()  # every rank stopped after the same iteration
        exit_with(err.exit_status, err, prefix='stopped')
    except TrainingStopped as err:
        # the group is left to the exit: another rank may be in a collective
        logger.error(str(err))
        exit_with(err.exit_status, err)
    leave_process_group()


if __name__ == '__main__':
    main()
