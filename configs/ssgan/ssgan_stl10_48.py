# SSGAN on STL-10 at 48x48 (unlabelled split), the DAT paper's STL-10
# baseline: mimicry's 48px SSGAN (G from 6x6 with 512 channels, D to 1024).
# The images are read from a folder: see docs/reproduction.md.
_base_ = ['./ssgan_cifar10.py']

model = dict(
    generator=dict(
        output_scale=48, input_scale=6, base_channels=64,
        channels_cfg=[8, 4, 2]),
    discriminator=dict(
        input_scale=48, base_channels=64, channels_cfg=[2, 4, 8, 16],
        downsample_cfg=[True, True, True, False]))
train_cfg = dict(real_img_key='real_img')

stl10_pipeline = [
    dict(type='LoadImageFromFile', key='real_img', io_backend='disk'),
    dict(type='Resize', keys=['real_img'], scale=(48, 48)),
    dict(
        type='Normalize',
        keys=['real_img'],
        mean=[127.5] * 3,
        std=[127.5] * 3,
        to_rgb=False),
    dict(type='ImageToTensor', keys=['real_img']),
    dict(type='Collect', keys=['real_img'], meta_keys=['real_img_path'])
]
stl10_data = dict(
    type='UnconditionalImageDataset',
    imgs_root='data/stl10/unlabeled',
    pipeline=stl10_pipeline)
data = dict(
    _delete_=True,
    samples_per_gpu=64,
    workers_per_gpu=4,
    train=stl10_data,
    val=stl10_data,
    test=stl10_data)

inception_pkl = './work_dirs/inception_pkl/stl10-48.pkl'
evaluation = dict(metrics=[
    dict(
        type='FID',
        num_images=50000,
        inception_pkl=inception_pkl,
        bgr2rgb=True,
        inception_args=dict(type='StyleGAN')),
    dict(type='IS', num_images=50000)
])
metrics = dict(fid50k=dict(inception_pkl=inception_pkl))
