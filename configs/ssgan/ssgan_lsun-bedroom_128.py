# SSGAN on LSUN-bedroom at 128x128, the DAT paper's LSUN baseline, with
# mimicry's LSUN-bedroom settings (2 D steps per G step, linear decay).
# The images are read from a folder: see docs/reproduction.md.
_base_ = ['./ssgan_cifar10.py']

model = dict(
    generator=dict(output_scale=128, base_channels=64),
    discriminator=dict(input_scale=128, base_channels=64))
train_cfg = dict(disc_steps=2, real_img_key='real_img')

bedroom_pipeline = [
    dict(type='LoadImageFromFile', key='real_img', io_backend='disk'),
    dict(type='Resize', keys=['real_img'], scale=(128, 128)),
    dict(
        type='Normalize',
        keys=['real_img'],
        mean=[127.5] * 3,
        std=[127.5] * 3,
        to_rgb=False),
    dict(type='ImageToTensor', keys=['real_img']),
    dict(type='Collect', keys=['real_img'], meta_keys=['real_img_path'])
]
bedroom = dict(
    type='UnconditionalImageDataset',
    imgs_root='data/lsun/bedroom_train',
    pipeline=bedroom_pipeline)
data = dict(
    _delete_=True,
    samples_per_gpu=64,
    workers_per_gpu=4,
    train=bedroom,
    val=bedroom,
    test=bedroom)

total_iters = 200000  # 100k generator steps
inception_pkl = './work_dirs/inception_pkl/lsun-bedroom-128.pkl'
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
