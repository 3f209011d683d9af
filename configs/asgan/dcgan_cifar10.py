# AS-GAN on DCGAN, CIFAR-10: the paper's main setting (eps = 1/255, a second
# D step on the adversarial reals).
_base_ = ['../_base_/dcgan_cifar10.py']

model = dict(adv_cfg=dict(type='ASGAN', eps=1.0))
custom_hooks = [
    dict(
        type='VisualizeUnconditionalSamples',
        output_dir='training_samples',
        interval=5000),
    # AS-GAN advises starting without perturbation while D is weak
    dict(type='AdvEpsScheduleHook', start_iter=1000, ramp_iters=1000),
    # DAT's attack count and AS-GAN's gradient pictures, every 5000 its
    dict(type='DiscRobustnessProbeHook', interval=5000)
]
