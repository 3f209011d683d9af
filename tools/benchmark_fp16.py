"""fp16 on and off through the toolbox's runner, for the base model, ASGAN
and DAT (CUDA only, as the toolbox's fp16).

    python tools/benchmark_fp16.py [--iters 64 --warmup 32]
    python tools/benchmark_fp16.py --quick            # smoke test

On the toolbox's StyleGAN2 config-f recipe: its fp16 quick-test config
against the fp32 config it derives from, 4 images per GPU at 256x256,
random images. Printed: s / iteration, x base within a precision, fp16 x
fp32 within a model, and peak memory (the largest ``memory`` the log
records). Iterations are timed in whole 16-iteration cycles, the period of
StyleGAN2's R1 (the path-length regularizer's, 4, divides it).
"""
import argparse

import mmgen_adv  # noqa: F401  (first: makes mmgen importable)
import torch

from mmgen_adv.evidence.overhead import fmt
from mmgen_adv.evidence.runner_timing import (add_runner_arguments,
                                              apply_defaults,
                                              check_runner_arguments, ratio,
                                              settings_line, summary,
                                              time_runs, write_json)

FP16_BASES = {
    'fp32': 'mmgen::styleganv2/stylegan2_c2_ffhq_256_b4x8_800k.py',
    'fp16':
    'mmgen::styleganv2/stylegan2_c2_fp16_quicktest_ffhq_256_b4x8_800k.py',
}
FP16_MODELS = {
    'base': None,
    'ASGAN': dict(type='ASGAN', eps=1.0),
    'DAT': dict(type='DAT', eps=1.0),
}
# StyleGAN2's lazy regularizers: R1 every 16 iterations, path length every 4
FP16_CYCLE = 16
DEFAULTS = dict(batch_size=4, image_size=256)
# --quick: a smoke test of the tool (tiny images, few iterations)
QUICK = dict(batch_size=2, image_size=32, iters=16, warmup=16)


def fp16_name(model, precision):
    return f'{model}_{precision}'


def fp16_runs(args):
    """The StyleGAN2 recipe per model and precision: ``fp16_name`` ->
    (base, override); fp32 and fp16 of one model run back to back."""
    size = args.image_size
    runs = {}
    for model, adv_cfg in FP16_MODELS.items():
        adv = '' if adv_cfg is None else \
            f"type='AdvUnconditionalGAN', adv_cfg={adv_cfg!r}, "
        override = (f'model = dict({adv}generator=dict(out_size={size}), '
                    f'discriminator=dict(in_size={size}))\n')
        for precision, base in FP16_BASES.items():
            runs[fp16_name(model, precision)] = (base, override)
    return runs


def fp16_on_off(args, device):
    """The StyleGAN2 recipe with fp16 on and off, per model, through
    tools/train.py; print s / iteration, ratios and peak memory."""
    work_root, timed = time_runs(fp16_runs(args), args, device, FP16_CYCLE)
    results = {}
    for model in FP16_MODELS:
        for precision in FP16_BASES:
            name = fp16_name(model, precision)
            results[name] = dict(
                model=model,
                precision=precision,
                config=FP16_BASES[precision],
                x_base=ratio(timed, name, fp16_name('base', precision)),
                x_fp32=ratio(timed, name, fp16_name(model, 'fp32')),
                **summary(timed[name]))

    print('\nfp16 on and off: ' + settings_line(
        args, "tools/train.py, the toolbox's StyleGAN2 config-f at "
        f'{args.image_size}x{args.image_size} (fp32: {FP16_BASES["fp32"]}; '
        f'fp16: {FP16_BASES["fp16"]})', FP16_CYCLE) + '\n')
    print('| model | precision | s / iteration | fastest - slowest cycle | '
          'x base | fp16 x fp32 | peak memory (MiB) |')
    print('|' + '---|' * 7)
    for result in results.values():
        print(f"| {result['model']} | {result['precision']} | "
              f"{result['seconds']:.4f} | {result['fastest_cycle']:.4f} - "
              f"{result['slowest_cycle']:.4f} | {result['x_base']:.2f} | "
              f"{result['x_fp32']:.2f} | {fmt(result['peak_mib'], '.0f')} |")
    return dict(mode='fp16', work_dir=work_root, results=results)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_runner_arguments(parser, FP16_CYCLE, iters=64, warmup=32,
                         what="R1's interval")
    parser.add_argument(
        '--image-size', type=int,
        help="the image size (default 256, the recipe's)")
    args = parser.parse_args(argv)
    apply_defaults(args, DEFAULTS, QUICK)
    check_runner_arguments(parser, args, FP16_CYCLE, "R1's interval")
    if args.device != 'cuda':
        parser.error("the toolbox's fp16 runs on CUDA only, and --device is "
                     f'{args.device}')
    return args


def main(argv=None):
    args = parse_args(argv)
    write_json(args, fp16_on_off(args, torch.device(args.device)))


if __name__ == '__main__':
    main()
