# SSGAN on CIFAR-100 (unconditional), the DAT paper's CIFAR-100 baseline.
_base_ = ['./ssgan_cifar10.py']

cifar100 = dict(type='mmcls.CIFAR100', data_prefix='data/cifar100')
data = dict(train=cifar100, val=cifar100, test=cifar100)

inception_pkl = './work_dirs/inception_pkl/cifar100.pkl'
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
