# Unconditional SNGAN (ResNet, spectral norm, hinge loss, 5 D steps per G
# step) on stacked digits; base of tools/benchmark_quality.py's SNGAN and
# SSGAN runs.
_base_ = ['../_base_/sngan_cifar10.py']

model = dict(
    generator=dict(base_channels=32), discriminator=dict(base_channels=32))
train_cfg = dict(real_img_key='real_img')

stacked = dict(type='StackedDigitsDataset', img_size=32)
data = dict(
    _delete_=True,
    samples_per_gpu=64,
    workers_per_gpu=0,
    train=dict(num_images=10000, split='train', seed=0, **stacked),
    val=dict(num_images=64, split='test', seed=1, **stacked),
    test=dict(num_images=64, split='test', seed=1, **stacked))

total_iters = 1500  # 300 generator steps
log_config = dict(interval=100)
checkpoint_config = dict(interval=1500, by_epoch=False, max_keep_ckpts=1)
custom_hooks = [
    dict(
        type='VisualizeUnconditionalSamples',
        output_dir='training_samples',
        num_samples=64,
        nrow=8,
        padding=2,
        interval=1500)
]
evaluation = dict(
    _delete_=True,
    type='GenerativeEvalHook',
    interval=375,
    metrics=dict(type='StackedDigits', num_images=10000),
    sample_kwargs=dict(sample_model='orig'),
    save_best_ckpt=False)
metrics = dict(
    _delete_=True,
    stacked_digits=dict(type='StackedDigits', num_images=10000))
