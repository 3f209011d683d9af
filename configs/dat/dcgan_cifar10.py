# DAT on DCGAN, CIFAR-10 (the first DAT paper's DCGAN experiments).
_base_ = ['../_base_/dcgan_cifar10.py']

model = dict(adv_cfg=dict(type='DAT', variant='reference'))
