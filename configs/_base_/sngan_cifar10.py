# Unconditional SNGAN on CIFAR-10, as in the DAT paper: the toolbox's
# SNGAN-proj CIFAR-10 recipe with its classes switched off.
_base_ = ['mmgen::sngan_proj/sngan_proj_32_woReLUinplace_lr-2e-4_ndisc5_cifar10_b64x1.py']  # noqa: E501
custom_imports = dict(imports=['mmgen_adv'], allow_failed_imports=False)

num_classes = 0
model = dict(
    type='AdvUnconditionalGAN',
    num_classes=num_classes,
    generator=dict(num_classes=num_classes, use_cbn=False),
    discriminator=dict(num_classes=num_classes))
train_cfg = dict(real_img_key='img')  # mmcls.CIFAR10 names images 'img'
