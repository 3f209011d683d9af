"""Train a GAN: the toolbox's ``tools/train.py``, on the pinned stack.

Same arguments as mmgen's; configs may inherit the toolbox's own configs
through ``_base_ = ['mmgen::...']``. Distributed runs (``--launcher
pytorch``, see ``tools/dist_train.sh``) use NCCL on GPUs and gloo on CPU.
"""
import argparse
import copy
import os.path as osp
import sys
import time

import mmgen_adv  # noqa: F401  (first: makes mmgen importable)
import mmcv
import torch
from mmcls.utils import setup_multi_processes
from mmcv import DictAction
from mmcv.runner import get_dist_info
from mmgen import __version__ as mmgen_version
from mmgen.apis import set_random_seed, train_model
from mmgen.datasets import build_dataset
from mmgen.models import build_model
from mmgen.utils import get_root_logger

from mmgen_adv.cli import add_launcher_args, finish_launcher_args, \
    one_line_errors
from mmgen_adv.config import add_missing_runtime, check_dataset_paths, \
    check_fp16_needs_cuda, dump_flat_config, load_config
from mmgen_adv.dist import init_dist
from mmgen_adv.environment import collect_env  # survives a crashing query
from mmgen_adv.errors import TrainingStopped, UserInputError
from mmgen_adv.evaluation import check_inception_available


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a GAN model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume-from', help='the checkpoint file to resume from')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate the checkpoint during training')
    parser.add_argument(
        '--gpu-id',
        type=int,
        default=0,
        help='id of gpu to use (non-distributed training only)')
    parser.add_argument('--seed', type=int, default=2021, help='random seed')
    parser.add_argument(
        '--diff_seed',
        '--diff-seed',
        action='store_true',
        help='use a different seed on each rank')
    parser.add_argument(
        '--deterministic',
        action='store_true',
        help='set deterministic options for the CUDNN backend')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs')
    add_launcher_args(parser)
    return finish_launcher_args(parser.parse_args(argv))


def as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def add_iteration_seed_hook(cfg, seed, rank_shift):
    """Make resuming exact (see IterationSeedHook) unless the config chose."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    if not any(h.get('type') == 'IterationSeedHook' for h in hooks):
        hooks.append(
            dict(
                type='IterationSeedHook',
                seed=seed,
                rank_shift=rank_shift,
                priority='VERY_HIGH'))
    cfg.custom_hooks = hooks


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
    if args.resume_from is not None:
        if not osp.isfile(args.resume_from):
            raise UserInputError(
                f"--resume-from: '{args.resume_from}' does not exist")
        cfg.resume_from = args.resume_from
    cfg.gpu_ids = [args.gpu_id]
    check_fp16_needs_cuda(cfg)
    check_dataset_paths(cfg.data.get('train'), 'data.train')
    if not args.no_validate and cfg.get('evaluation'):
        check_dataset_paths(cfg.data.get('val'), 'data.val')
        try:
            for metric in as_list(cfg.evaluation.get('metrics')):
                check_inception_available(metric)
        except UserInputError as err:
            raise UserInputError(f'evaluation during training: {err} (or '
                                 'train with --no-validate)') from None

    distributed = args.launcher != 'none'
    if distributed:
        init_dist(args.launcher, **cfg.get('dist_params', {}))
        _, world_size = get_dist_info()
        cfg.gpu_ids = range(world_size)

    # a new, timestamped log; nothing an earlier run wrote is touched
    # until the model and data below are built
    mmcv.mkdir_or_exist(osp.abspath(cfg.work_dir))
    timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    log_file = osp.join(cfg.work_dir, f'{timestamp}.log')
    logger = get_root_logger(log_file=log_file, log_level=cfg.log_level)
    env_info = '\n'.join(f'{k}: {v}' for k, v in collect_env().items())
    logger.info('Environment info:\n' + '-' * 60 + '\n' + env_info + '\n' +
                '-' * 60)
    if runtime_added:
        logger.info('The config inherits no runtime; from the toolbox\'s '
                    f'default_runtime.py: {", ".join(runtime_added)}')
    logger.info(f'Distributed training: {distributed}')
    logger.info(f'Config:\n{cfg.pretty_text}')

    logger.info(f'Set random seed to {args.seed}, deterministic: '
                f'{args.deterministic}, use_rank_shift: {args.diff_seed}')
    set_random_seed(
        args.seed,
        deterministic=args.deterministic,
        use_rank_shift=args.diff_seed)
    cfg.seed = args.seed
    meta = dict(
        env_info=env_info,
        config=cfg.pretty_text,
        seed=args.seed,
        exp_name=osp.basename(args.config))

    model = build_model(
        cfg.model, train_cfg=cfg.train_cfg, test_cfg=cfg.test_cfg)
    datasets = [build_dataset(cfg.data.train)]
    if len(cfg.workflow) == 2:
        val_dataset = copy.deepcopy(cfg.data.val)
        datasets.append(build_dataset(val_dataset))
    add_iteration_seed_hook(cfg, args.seed, args.diff_seed)
    if cfg.checkpoint_config is not None:
        cfg.checkpoint_config.meta = dict(
            mmgen_version=mmgen_version,
            mmgen_adv_version=mmgen_adv.__version__)

    flat = dump_flat_config(cfg, cfg.work_dir, args.config)
    logger.info(f'Resolved config written to {flat}')
    try:
        train_model(
            model,
            datasets,
            cfg,
            distributed=distributed,
            validate=not args.no_validate,
            timestamp=timestamp,
            meta=meta)
    except TrainingStopped as err:
        logger.error(str(err))
        print(f'error: {err}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
