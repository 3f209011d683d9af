# The demo DCGAN with the robustness probe: the baseline of the README's
# base-vs-DAT comparison.
_base_ = ['./dcgan_digits.py']

custom_hooks = [
    dict(
        type='VisualizeUnconditionalSamples',
        output_dir='training_samples',
        num_samples=64,
        nrow=8,
        padding=2,
        interval=600),
    dict(type='DiscRobustnessProbeHook', interval=100, num_images=16,
         step_size=0.5, max_steps=50)
]
