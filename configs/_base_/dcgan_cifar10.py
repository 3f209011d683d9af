# DCGAN on CIFAR-10 (AS-GAN's and DAT's DCGAN setting): the toolbox's DCGAN
# model and CIFAR-10 data configs at 32x32.
_base_ = [
    'mmgen::_base_/models/dcgan/dcgan_64x64.py',
    'mmgen::_base_/datasets/cifar10_nopad.py',
    'mmgen::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmgen_adv'], allow_failed_imports=False)

model = dict(
    type='AdvUnconditionalGAN',
    generator=dict(output_scale=32, base_channels=512),
    discriminator=dict(input_scale=32, base_channels=128))
train_cfg = dict(real_img_key='img')
data = dict(samples_per_gpu=64)

lr_config = None
total_iters = 100000
checkpoint_config = dict(interval=10000, by_epoch=False, max_keep_ckpts=10)
custom_hooks = [
    dict(
        type='VisualizeUnconditionalSamples',
        output_dir='training_samples',
        interval=5000)
]
# DCGAN's batch-norm D trains per GPU: one DDP per module, as the toolbox's
# DCGAN CelebA config
use_ddp_wrapper = True
find_unused_parameters = False
runner = dict(is_dynamic_ddp=False)

inception_pkl = './work_dirs/inception_pkl/cifar10.pkl'
evaluation = dict(
    type='GenerativeEvalHook',
    interval=10000,
    metrics=[
        dict(
            type='FID',
            num_images=50000,
            inception_pkl=inception_pkl,
            bgr2rgb=True,
            inception_args=dict(type='StyleGAN')),
        dict(type='IS', num_images=50000)
    ],
    best_metric=['fid', 'is'],
    sample_kwargs=dict(sample_model='orig'))
# for tools/evaluation.py (--eval fid50k IS50k), as the toolbox's SNGAN config
metrics = dict(
    fid50k=dict(
        type='FID',
        num_images=50000,
        inception_pkl=inception_pkl,
        inception_args=dict(type='StyleGAN')),
    IS50k=dict(type='IS', num_images=50000))
