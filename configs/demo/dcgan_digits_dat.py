# The demo DCGAN with DAT (paper form, eps ramped in after 200 iterations)
# and the robustness probe: the README's base-vs-DAT comparison.
_base_ = ['./dcgan_digits_probe.py']

model = dict(
    type='AdvUnconditionalGAN', adv_cfg=dict(type='DAT', eps=2.0))
custom_hooks = [
    dict(
        type='VisualizeUnconditionalSamples',
        output_dir='training_samples',
        num_samples=64,
        nrow=8,
        padding=2,
        interval=600),
    dict(type='AdvEpsScheduleHook', start_iter=200, ramp_iters=200),
    dict(type='DiscRobustnessProbeHook', interval=100, num_images=16,
         step_size=0.5, max_steps=50)
]
