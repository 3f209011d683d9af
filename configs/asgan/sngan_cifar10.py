# AS-GAN on the ResNet (unconditional SNGAN) architecture, CIFAR-10.
_base_ = ['../_base_/sngan_cifar10.py']

model = dict(adv_cfg=dict(type='ASGAN', eps=1.0))
