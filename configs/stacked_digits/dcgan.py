# DCGAN on stacked digits (1000 modes; scikit-learn's bundled digits, no
# download), evaluated with mode coverage, KL from uniform and a classifier
# Frechet distance. Base of tools/benchmark_quality.py's DCGAN runs.
_base_ = ['../_base_/dcgan_cifar10.py', '../_base_/stacked_digits.py']

model = dict(
    generator=dict(base_channels=128), discriminator=dict(base_channels=64))
train_cfg = dict(real_img_key='real_img')
total_iters = 1500

# the shared stacked-digits settings, over those of the DCGAN base
data = {{_base_.stacked_digits.data}}
log_config = {{_base_.stacked_digits.log_config}}
checkpoint_config = {{_base_.stacked_digits.checkpoint_config}}
custom_hooks = {{_base_.stacked_digits.custom_hooks}}
evaluation = {{_base_.stacked_digits.evaluation}}
metrics = {{_base_.stacked_digits.metrics}}
