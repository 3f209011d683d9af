# AS-GAN on DCGAN, CIFAR-10: the paper's main setting (eps = 1/255, a second
# D step on the adversarial reals).
_base_ = ['../_base_/dcgan_cifar10.py']

model = dict(adv_cfg=dict(type='ASGAN', eps=1.0))
