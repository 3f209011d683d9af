# DAT on the toolbox's conditional BigGAN, CIFAR-10 (EMA generator kept).
_base_ = ['mmgen::biggan/biggan_cifar10_32x32_b25x2_500k.py']
custom_imports = dict(imports=['mmgen_adv'], allow_failed_imports=False)

model = dict(
    type='AdvConditionalGAN', adv_cfg=dict(type='DAT', variant='reference'))
# the base config's hooks (samples, EMA) and the robustness probe
custom_hooks = [
    dict(
        type='VisualizeUnconditionalSamples',
        output_dir='training_samples',
        interval=5000),
    dict(
        type='ExponentialMovingAverageHook',
        module_keys=('generator_ema', ),
        interval=4,
        start_iter=4000,
        interp_cfg=dict(momentum=0.9999),
        priority='VERY_HIGH'),
    dict(type='DiscRobustnessProbeHook', interval=5000)
]
