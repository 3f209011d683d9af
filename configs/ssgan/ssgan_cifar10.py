# SSGAN on CIFAR-10 (unconditional): the SNGAN ResNet with a rotation head,
# rotation loss 1.0 for D on reals and 0.2 for G on fakes. Optimizer and
# schedule as the SSGAN baselines of mimicry (the DAT paper's code base):
# Adam 2e-4, betas (0, 0.9), linear decay to 0 over 100k G steps.
_base_ = ['../_base_/sngan_cifar10.py']

model = dict(
    type='SSGAN',
    discriminator=dict(type='SSGANDiscriminator'),
    disc_rotation_weight=1.0,
    gen_rotation_weight=0.2)
optimizer = dict(
    generator=dict(betas=(0.0, 0.9)), discriminator=dict(betas=(0.0, 0.9)))
lr_config = dict(
    _delete_=True, policy='LinearAnnealing', by_epoch=False, min_lr=0)
