# SSGAN on CIFAR-10 on MMagic: MMagic's SNGAN ResNet (the recipe the mmgen
# host's configs/ssgan/ssgan_cifar10.py uses), unconditional, with a rotation
# head; rotation loss 1.0 for D on reals and 0.2 for G on fakes. Optimizer
# and schedule as the SSGAN baselines of mimicry (the DAT paper's code base):
# Adam 2e-4, betas (0, 0.9), linear decay to 0.
_base_ = 'mmagic::sngan_proj/sngan-proj_woReLUinplace_lr2e-4-ndisc5-1xb64_cifar10-32x32.py'  # noqa: E501
custom_imports = dict(imports=['mmgen_adv.mmagic'], allow_failed_imports=False)

num_classes = 0
model = dict(
    type='SSGAN',
    num_classes=num_classes,
    generator=dict(num_classes=num_classes, use_cbn=False),
    discriminator=dict(type='SSGANDiscriminator', num_classes=num_classes),
    disc_rotation_weight=1.0,
    gen_rotation_weight=0.2)
optim_wrapper = dict(
    generator=dict(optimizer=dict(betas=(0.0, 0.9))),
    discriminator=dict(optimizer=dict(betas=(0.0, 0.9))))
param_scheduler = dict(
    type='LinearLR',
    start_factor=1.0,
    end_factor=0.0,
    by_epoch=False,
    begin=0,
    end={{_base_.train_cfg.max_iters}})
