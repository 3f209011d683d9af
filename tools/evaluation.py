"""Evaluate a trained generator with the toolbox's metrics (FID, IS, ...).

    python tools/evaluation.py CONFIG CHECKPOINT --eval fid is \
        --num-samples 50000 \
        --inception-path work_dirs/cache/inception-2015-12-05.pt

``--eval`` takes keys of the config's ``metrics`` or metric types (``fid``,
``is``). Real-image statistics come from the config's dataset unless the
metric names an ``inception_pkl``. Results are printed as the toolbox's table
and written as ``<checkpoint name>_eval.json`` (and ``_eval_log.txt``) next
to the checkpoint, or in ``--out-dir``. The checkpoint must fit the config's
model exactly (``--partial-load`` loads what fits and names the rest).
Distributed evaluation (``tools/dist_eval.sh``) supports FID and IS.
"""
import argparse
import json
import os
import os.path as osp

import mmgen_adv  # noqa: F401  (first: makes mmgen importable)
import mmcv
import torch
from mmcv import DictAction
from mmcv.parallel import MMDataParallel, MMDistributedDataParallel
from mmcv.runner import get_dist_info
from mmgen.apis import set_random_seed
from mmgen.core import build_metric, offline_evaluation, online_evaluation
from mmgen.datasets import build_dataloader, build_dataset
from mmgen.models import build_model
from mmgen.utils import get_root_logger

from mmgen_adv.errors import UserInputError
from mmgen_adv.evidence.evaluation import build_metric_cfgs
from mmgen_adv.runs.checkpoints import (check_fits, load_weights,
                                        read_checkpoint)
from mmgen_adv.runs.cli import (add_launcher_args, finish_launcher_args,
                                one_line_errors)
from mmgen_adv.runs.config import load_config
from mmgen_adv.runs.data_checks import check_dataset_paths
from mmgen_adv.runs.dist import init_dist, leave_process_group

DISTRIBUTED_METRICS = ('FID', 'IS')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate a GAN')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--eval',
        nargs='+',
        default=['fid'],
        help="metrics: keys of the config's `metrics` or types (fid, is)")
    parser.add_argument(
        '--num-samples',
        type=int,
        default=None,
        help='number of generated (and real) images per metric')
    parser.add_argument(
        '--batch-size', type=int, default=10, help='batch size of sampling')
    parser.add_argument(
        '--inception-path',
        help='local TorchScript Inception (inception-2015-12-05.pt) for '
        'FID and IS')
    parser.add_argument(
        '--sample-model',
        default='ema',
        choices=['ema', 'orig'],
        help='sample with the EMA generator (if the model has one)')
    parser.add_argument(
        '--samples-path',
        help='save the generated images there (offline mode) instead of '
        'evaluating in memory')
    parser.add_argument('--seed', type=int, default=2021, help='random seed')
    parser.add_argument(
        '--out-dir',
        help="where the results and the log go (default: the checkpoint's "
        'folder)')
    parser.add_argument(
        '--partial-load',
        action='store_true',
        help='load only the tensors whose name and shape fit the model, '
        'naming the others (default: refuse a checkpoint that does not fit)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs')
    add_launcher_args(parser)
    return finish_launcher_args(parser.parse_args(argv))


def real_image_dataset_cfg(cfg):
    """The toolbox's choice: test/val with ``imgs_root`` first, else train."""
    for split in ('test', 'val'):
        split_cfg = cfg.data.get(split)
        if split_cfg and split_cfg.get('imgs_root'):
            return split_cfg, f'data.{split}'
    if not cfg.data.get('train'):
        raise UserInputError('the config has no dataset for real images')
    return cfg.data.train, 'data.train'


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    checkpoint = read_checkpoint(args.checkpoint)
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.checkpoint))
    stem = osp.join(out_dir,
                    osp.splitext(osp.basename(args.checkpoint))[0])
    if osp.isdir(out_dir) and not os.access(out_dir, os.W_OK):
        raise UserInputError(
            f"cannot write the results to '{out_dir}'" +
            ('' if args.out_dir else " (the checkpoint's folder)") +
            '; pass --out-dir DIR')
    metric_cfgs = build_metric_cfgs(cfg, args.eval, args.num_samples,
                                    args.inception_path)
    distributed = args.launcher != 'none'
    if distributed:
        bad = [m['type'] for m in metric_cfgs
               if m['type'] not in DISTRIBUTED_METRICS]
        if bad:
            raise UserInputError(
                f'distributed evaluation supports {DISTRIBUTED_METRICS}, '
                f'not {bad}')
        if args.samples_path:
            raise UserInputError(
                'distributed evaluation runs in memory; drop --samples-path')
    data_cfg, where = real_image_dataset_cfg(cfg)
    check_dataset_paths(data_cfg, where)

    if distributed:
        init_dist(args.launcher, **cfg.get('dist_params', {}))
    rank, world_size = get_dist_info()
    set_random_seed(args.seed)
    model = build_model(
        cfg.model, train_cfg=cfg.train_cfg, test_cfg=cfg.test_cfg)
    sample_model = args.sample_model if model.use_ema else 'orig'
    if not args.partial_load:
        check_fits(model, checkpoint, args.checkpoint)

    mmcv.mkdir_or_exist(out_dir)
    logger = get_root_logger(
        log_file=stem + '_eval_log.txt',
        log_level=cfg.get('log_level', 'INFO'),
        file_mode='a')
    load_weights(model, args.checkpoint, partial=args.partial_load,
                 logger=logger, checkpoint=checkpoint)
    model.eval()
    metrics = [build_metric(m) for m in metric_cfgs]

    dataset = build_dataset(data_cfg)
    for metric in metrics:
        real_needed = metric.num_real_need - metric.num_real_feeded
        if getattr(metric, 'inception_pkl', None):
            real_needed = 0  # real statistics come from the pickle
        if 0 < len(dataset) < real_needed:
            raise UserInputError(
                f'{metric.name} needs {metric.num_real_need} real images but '
                f'{where} has {len(dataset)}; lower --num-samples')
    data_loader = build_dataloader(
        dataset,
        samples_per_gpu=args.batch_size,
        workers_per_gpu=cfg.data.get('val_workers_per_gpu',
                                     cfg.data.get('workers_per_gpu', 0)),
        num_gpus=1,
        dist=distributed,
        shuffle=True,
        seed=args.seed)
    if distributed:
        model = MMDistributedDataParallel(
            model.cuda(),
            device_ids=[torch.cuda.current_device()],
            broadcast_buffers=False)
    else:
        model = MMDataParallel(model, device_ids=[0])

    table_info = dict(
        train_cfg=osp.basename(args.config),
        ckpt=osp.basename(args.checkpoint),
        sample_model=sample_model)
    # the toolbox samples with table_info['sample_model']
    if args.samples_path:
        offline_evaluation(model, data_loader, metrics, logger, table_info,
                           args.batch_size, args.samples_path)
    else:
        online_evaluation(model, data_loader, metrics, logger, table_info,
                          args.batch_size)
    if rank == 0:
        results = dict(
            config=args.config,
            checkpoint=args.checkpoint,
            sample_model=sample_model,
            world_size=world_size,
            metrics={
                m.name: {
                    k: float(v)
                    for k, v in m._result_dict.items() if mmcv.is_str(k)
                    and getattr(v, 'ndim', 0) == 0
                }
                for m in metrics
            },
            num_images={m.name: m.num_images for m in metrics})
        out = stem + '_eval.json'
        with open(out, 'w') as f:
            json.dump(results, f, indent=2)
        logger.info(f'Results written to {out}')
    leave_process_group()


if __name__ == '__main__':
    main()
