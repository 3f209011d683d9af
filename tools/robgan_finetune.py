"""Rob-GAN's second stage: fine-tune a trained discriminator into a robust
classifier; or train the same network as a plain PGD adversarially trained
classifier (Madry), the baseline.

    # Rob-GAN: from the GAN checkpoint, attacked reals + lam * attacked fakes
    python tools/robgan_finetune.py CONFIG CKPT --work-dir DIR --lam 0.3
    # baseline: a fresh discriminator, attacked reals only, same budget
    python tools/robgan_finetune.py CONFIG --from-scratch --work-dir DIR

Trains on the config's ``data.train`` (labelled). Writes
``DIR/finetuned.pth`` (a checkpoint of the whole model, loadable by
``tools/robust_eval.py`` and mmcv) and ``DIR/finetune_log.json``; every
``--checkpoint-interval`` steps, and on SIGTERM / SIGINT (then exit status
3), ``DIR/finetune_iter_N.pth``, from which the same command with
``--auto-resume`` continues exactly.
"""
import argparse
import json
import os
import os.path as osp
import time

import mmgen_adv  # noqa: F401  (first: makes mmgen importable)
import torch
from mmcv.runner import save_checkpoint
from mmgen.apis import set_random_seed
from mmgen.models import build_model

from mmgen_adv.errors import TrainingInterrupted, UserInputError
from mmgen_adv.evidence.labelled_data import labelled_batches
from mmgen_adv.methods.robust import adversarial_finetune
from mmgen_adv.random_state import capture_random_state, restore_random_state
from mmgen_adv.runs.checkpoints import (load_weights, read_checkpoint,
                                        save_atomically)
from mmgen_adv.runs.cli import add_config_args, exit_with, one_line_errors
from mmgen_adv.runs.config import load_config
from mmgen_adv.runs.data_checks import build_checked, check_dataset_paths
from mmgen_adv.runs.hooks.stop_on_signal import StopSignals
from mmgen_adv.runs.workdir import WorkDirLock, carry_out, plan_start

CHECKPOINT_NAME = 'finetune_iter_{}.pth'


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
        '--checkpoint-interval',
        type=int,
        default=500,
        help='write finetune_iter_N.pth every N steps (0: only the final '
        'finetuned.pth); SIGTERM / SIGINT write one and stop (exit 3)')
    parser.add_argument(
        '--auto-resume',
        action='store_true',
        help='continue from the newest complete finetune_iter_N.pth in the '
        'work dir (or start if there is none)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='start anew in a work dir holding an earlier fine-tuning: its '
        'files are deleted first')
    add_config_args(parser)
    return parser.parse_args(argv)


# arguments a resumed fine-tuning must share with the run it continues
RESUME_MUST_MATCH = ('checkpoint', 'from_scratch', 'lam', 'lr', 'eps',
                     'attack_steps', 'batch_size', 'seed')


def check_same_run(args, saved, path):
    for name in RESUME_MUST_MATCH:
        if saved.get(name) != getattr(args, name):
            raise UserInputError(
                f"--{name.replace('_', '-')} {getattr(args, name)!r} "
                f'conflicts with {saved.get(name)!r} of the fine-tuning being '
                f"resumed ('{path}'); repeat its arguments (--iters may "
                'grow)')


def plan_work_dir(args):
    """Where the run starts (see mmgen_adv.runs.workdir.plan_start); a finished
    run's finetuned.pth counts as a checkpoint not to overwrite."""
    start = plan_start(args.work_dir, CHECKPOINT_NAME, None,
                       args.auto_resume, args.overwrite)
    final = osp.join(args.work_dir, 'finetuned.pth')
    if osp.exists(final) and not args.auto_resume:
        if not args.overwrite:
            raise UserInputError(
                f"work dir '{args.work_dir}' holds the result of an earlier "
                'fine-tuning (finetuned.pth); continue it with --auto-resume '
                'or pass --overwrite to delete it')
        start.delete.append(final)
    return start


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
    start = plan_work_dir(args)
    resumed = None
    if start.resume_from:
        resumed = read_checkpoint(start.resume_from, 'resume checkpoint')
        check_same_run(args, resumed['meta']['finetune'], start.resume_from)
    set_random_seed(args.seed)
    model = build_model(
        cfg.model, train_cfg=cfg.train_cfg, test_cfg=cfg.test_cfg)
    if not hasattr(model.discriminator, 'num_aux_classes'):
        raise UserInputError(
            'fine-tuning needs a discriminator with a class head '
            f"(ACDiscriminator); {args.config} has "
            f'{type(model.discriminator).__name__}')
    if resumed is not None:  # the whole model, as the run left it
        load_weights(model, start.resume_from, 'resume checkpoint',
                     checkpoint=resumed)
    elif args.checkpoint:
        load_weights(model, args.checkpoint, 'checkpoint', args.partial_load,
                     checkpoint=checkpoint)
    dataset = build_checked(cfg.data.train, 'data.train')
    batches = labelled_batches(dataset, args.batch_size, seed=args.seed)

    # -- every check passed: the work dir is this run's --------------------
    lock = WorkDirLock(args.work_dir).acquire()  # noqa: F841 (until exit)
    for line in start.warnings + start.notes:
        print(line, flush=True)
    carry_out(start, _Quiet())
    log_path = osp.join(args.work_dir, 'finetune_log.json')
    done = 0
    optimizer_state = None
    if resumed is not None:
        state = resumed['meta']['finetune_state']
        done, optimizer_state = resumed['meta']['iter'], \
            resumed['optimizer']['discriminator']
        batches.restore(state['batches'])
        restore_random_state(state['random'])
        keep_log_until(log_path, done)
    elif osp.exists(log_path):
        os.remove(log_path)  # --overwrite
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model.to(device)
    print(f'training on {device}', flush=True)
    generator = None if args.from_scratch else model.generator
    if generator is not None:
        generator.eval()
    begin = time.time()
    meta = dict(
        finetune=dict(
            vars(args),
            stage='madry' if args.from_scratch else 'robgan_finetune'))

    def log(stats):
        stats = dict(stats, time=round(time.time() - begin, 1))
        print(json.dumps(stats), flush=True)
        with open(log_path, 'a') as f:
            f.write(json.dumps(stats) + '\n')

    def save(path, steps, optimizer):
        state = dict(batches=batches.state(), random=capture_random_state())
        save_atomically(
            lambda temporary: save_checkpoint(
                model, temporary, optimizer=dict(discriminator=optimizer),
                meta=dict(meta, iter=steps, finetune_state=state)), path)

    def after_step(steps, optimizer):
        interval = args.checkpoint_interval
        stop = signals.received and steps < args.iters
        if stop or (interval and steps % interval == 0
                    and steps < args.iters):
            path = osp.join(args.work_dir, CHECKPOINT_NAME.format(steps))
            save(path, steps, optimizer)
            print(f'checkpoint written to {path}', flush=True)
            if stop:
                raise TrainingInterrupted(
                    f'stopped by {signals.name} after step {steps}, '
                    f'checkpoint written: {path}; the same command with '
                    '--auto-resume continues')

    with StopSignals() as signals:
        try:
            adversarial_finetune(
                model.discriminator,
                batches,
                args.iters,
                args.eps,
                attack_steps=args.attack_steps,
                lr=args.lr,
                generator=generator,
                num_classes=model.num_classes,
                lam=0.0 if args.from_scratch else args.lam,
                log=log,
                log_interval=args.log_interval,
                start=done,
                optimizer_state=optimizer_state,
                after_step=after_step)
        except TrainingInterrupted as err:
            exit_with(err.exit_status, err, prefix='stopped')
    out = osp.join(args.work_dir, 'finetuned.pth')
    save_atomically(lambda temporary: save_checkpoint(model, temporary,
                                                      meta=meta), out)
    print(f'checkpoint written to {out}')


class _Quiet:
    """carry_out's logger: the lines were printed already."""

    def info(self, line):
        pass

    warning = info


def keep_log_until(path, steps):
    """Drop the log lines of steps after ``steps`` (a run killed after
    logging them is resumed from ``steps``)."""
    if not osp.exists(path):
        return
    with open(path) as f:
        lines = [line for line in f
                 if line.strip() and json.loads(line)['iter'] <= steps]

    def write(temporary):
        with open(temporary, 'w') as f:
            f.writelines(lines)

    save_atomically(write, path)


if __name__ == '__main__':
    main()
