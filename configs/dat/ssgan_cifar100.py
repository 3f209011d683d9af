# SSGAN + DAT on CIFAR-100 (the DAT paper: 11.5% lower FID than SSGAN).
_base_ = ['../ssgan/ssgan_cifar100.py']

model = dict(adv_cfg=dict(type='DAT', variant='reference'))
find_unused_parameters = True  # see configs/dat/ssgan_cifar10.py
