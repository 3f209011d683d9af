# A real GAN in a few minutes on 2 CPU cores, with no download: the toolbox's
# DCGAN (CelebA config) at 32x32 on scikit-learn's bundled handwritten digits.
_base_ = ['mmgen::dcgan/dcgan_celeba-cropped_64_b128x1_300k.py']
custom_imports = dict(imports=['mmgen_adv'], allow_failed_imports=False)

model = dict(
    generator=dict(output_scale=32, base_channels=256),
    discriminator=dict(input_scale=32, base_channels=64))

data = dict(
    _delete_=True,
    samples_per_gpu=64,
    workers_per_gpu=0,
    train=dict(type='DigitsDataset', img_size=32),
    val=dict(type='DigitsDataset', img_size=32))

total_iters = 1200
log_config = dict(interval=50)
checkpoint_config = dict(interval=600, by_epoch=False, max_keep_ckpts=2)
custom_hooks = [
    dict(
        type='VisualizeUnconditionalSamples',
        output_dir='training_samples',
        num_samples=64,
        nrow=8,
        padding=2,
        interval=600)
]
dist_params = dict(backend='nccl')  # gloo is picked by itself on CPU
