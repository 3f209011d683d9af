# Rob-GAN on scikit-learn's bundled handwritten digits (32x32, labelled,
# stratified train/test split): the offline, CPU-sized version of the
# CIFAR-10 recipe, used for the README's accuracy-under-attack table.
_base_ = ['./robgan_cifar10.py']

model = dict(
    generator=dict(base_channels=32),
    discriminator=dict(base_channels=32),
    adv_cfg=dict(eps=4.0, step_size=1.0, steps=5))

digits = dict(
    type='DigitsDataset', img_size=32, img_key='img', with_label=True)
data = dict(
    _delete_=True,
    samples_per_gpu=32,
    workers_per_gpu=0,
    train=dict(split='train', **digits),
    val=dict(split='test', **digits),
    test=dict(split='test', **digits))

total_iters = 1500
log_config = dict(interval=100)
checkpoint_config = dict(interval=500, by_epoch=False, max_keep_ckpts=3)
custom_hooks = [
    dict(
        type='VisualizeUnconditionalSamples',
        output_dir='training_samples',
        num_samples=100,
        nrow=10,
        padding=2,
        interval=500)
]
evaluation = None
