# Unconditional SNGAN (ResNet, spectral norm, hinge loss, 5 D steps per G
# step) on stacked digits; base of tools/benchmark_quality.py's SNGAN and
# SSGAN runs.
_base_ = ['../_base_/sngan_cifar10.py', '../_base_/stacked_digits.py']

model = dict(
    generator=dict(base_channels=32), discriminator=dict(base_channels=32))
train_cfg = dict(real_img_key='real_img')
total_iters = 1500  # 300 generator steps

# the shared stacked-digits settings, over those of the SNGAN base
data = {{_base_.stacked_digits.data}}
log_config = {{_base_.stacked_digits.log_config}}
checkpoint_config = {{_base_.stacked_digits.checkpoint_config}}
custom_hooks = {{_base_.stacked_digits.custom_hooks}}
evaluation = {{_base_.stacked_digits.evaluation}}
metrics = {{_base_.stacked_digits.metrics}}
