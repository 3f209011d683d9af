"""Rob-GAN's second stage: fine-tune a trained discriminator into a robust
classifier; or train the same network as a plain PGD adversarially trained
classifier (Madry), the baseline.

    # Rob-GAN: from the GAN checkpoint, attacked reals + lam * attacked fakes
    python tools/robgan_finetune.py CONFIG CKPT --work-dir DIR --lam 0.3
    # baseline: a fresh discriminator, attacked reals only, same budget
    python tools/robgan_finetune.py CONFIG --from-scratch --work-dir DIR

Trains on the config's ``data.train`` (labelled). Writes
``DIR/finetuned.pth`` (a checkpoint of the whole model, loadable by
``tools/robust_eval.py`` and mmcv) and ``DIR/finetune_log.json``.
"""
import argparse
import json
import os.path as osp
import time

import mmgen_adv  # noqa: F401  (first: makes mmgen importable)
import mmcv
import torch
from mmcv import DictAction
from mmcv.runner import save_checkpoint
from mmgen.apis import set_random_seed
from mmgen.datasets import build_dataset
from mmgen.models import build_model

from mmgen_adv.checkpoints import load_weights, read_checkpoint
from mmgen_adv.cli import one_line_errors
from mmgen_adv.config import load_config
from mmgen_adv.data_checks import check_dataset_paths
from mmgen_adv.errors import UserInputError
from mmgen_adv.robust import adversarial_finetune, labelled_batches


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config of the (Rob-GAN) model')
    parser.add_argument(
        'checkpoint', nargs='?', help='trained GAN checkpoint')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument(
        '--from-scratch',
        action='store_true',
        help='baseline: a freshly initialised discriminator and no '
        'generated images (PGD adversarial training)')
    parser.add_argument('--iters', type=int, default=2000)
    parser.add_argument(
        '--lam',
        type=float,
        default=0.3,
        help='weight of attacked generated images (official 0.3-0.8)')
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument(
        '--eps', type=float, default=4.0, help='PGD budget, gray levels')
    parser.add_argument('--attack-steps', type=int, default=5)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--log-interval', type=int, default=50)
    parser.add_argument(
        '--partial-load',
        action='store_true',
        help='load only the tensors whose name and shape fit the model, '
        'naming the others (default: refuse a checkpoint that does not fit)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    if args.from_scratch == bool(args.checkpoint):
        raise UserInputError(
            'give a GAN checkpoint to fine-tune, or --from-scratch for the '
            'adversarial-training baseline (not both)')
    checkpoint = read_checkpoint(args.checkpoint) if args.checkpoint \
        else None
    for name in ('iters', 'attack_steps', 'batch_size'):
        if getattr(args, name) < 1:
            raise UserInputError(f'--{name.replace("_", "-")} must be >= 1')
    if not 0 <= args.eps <= 64:
        raise UserInputError(f'--eps must be in [0, 64] gray levels, got '
                             f'{args.eps}')
    if args.lam < 0:
        raise UserInputError(f'--lam must be >= 0, got {args.lam}')
    cfg = load_config(args.config, args.cfg_options)
    check_dataset_paths(cfg.data.train, 'data.train')
    set_random_seed(args.seed)
    model = build_model(
        cfg.model, train_cfg=cfg.train_cfg, test_cfg=cfg.test_cfg)
    if not hasattr(model.discriminator, 'num_aux_classes'):
        raise UserInputError(
            'fine-tuning needs a discriminator with a class head '
            f"(ACDiscriminator); {args.config} has "
            f'{type(model.discriminator).__name__}')
    if args.checkpoint:
        load_weights(model, args.checkpoint, 'checkpoint', args.partial_load,
                     checkpoint=checkpoint)
    model.to('cuda' if torch.cuda.is_available() else 'cpu')
    generator = None if args.from_scratch else model.generator
    if generator is not None:
        generator.eval()

    mmcv.mkdir_or_exist(args.work_dir)
    log_path = osp.join(args.work_dir, 'finetune_log.json')
    start = time.time()

    def log(stats):
        stats = dict(stats, time=round(time.time() - start, 1))
        print(json.dumps(stats), flush=True)
        with open(log_path, 'a') as f:
            f.write(json.dumps(stats) + '\n')

    dataset = build_dataset(cfg.data.train)
    adversarial_finetune(
        model.discriminator,
        labelled_batches(dataset, args.batch_size, seed=args.seed),
        args.iters,
        args.eps,
        attack_steps=args.attack_steps,
        lr=args.lr,
        generator=generator,
        num_classes=model.num_classes,
        lam=0.0 if args.from_scratch else args.lam,
        log=log,
        log_interval=args.log_interval)
    out = osp.join(args.work_dir, 'finetuned.pth')
    save_checkpoint(
        model,
        out,
        meta=dict(
            finetune=dict(
                vars(args), stage='madry' if args.from_scratch else
                'robgan_finetune')))
    print(f'checkpoint written to {out}')


if __name__ == '__main__':
    main()
