# Rob-GAN on CIFAR-10: the toolbox's conditional SNGAN generator with an
# auxiliary-classifier D (real/fake + class logits) over its SNGAN ResNet
# discriminator (without spectral norm), trained against a 5-step PGD attacker on real images. As
# the official CIFAR-10 script: eps 0.07 and step 0.0078 in [-1, 1] units
# (8.9 and 1 gray levels), one D step per G step, Adam 2e-4 / (0, 0.9),
# vanilla (BCE) loss, lam 0.5, no class loss on fakes.
_base_ = ['mmgen::sngan_proj/sngan_proj_32_woReLUinplace_lr-2e-4_ndisc5_cifar10_b64x1.py']  # noqa: E501
custom_imports = dict(imports=['mmgen_adv'], allow_failed_imports=False)

model = dict(
    type='RobGAN',
    # as the official ResNetAC: no spectral norm (it also caps how fast the
    # class head can learn)
    discriminator=dict(type='ACDiscriminator', with_spectral_norm=False),
    gan_loss=dict(gan_type='vanilla'),
    adv_cfg=dict(
        type='PGD', eps=0.07 * 127.5, step_size=1.0, steps=5,
        attack_mode='eval'),
    lam=0.5,
    fake_class_loss=False)
train_cfg = dict(disc_steps=1)
optimizer = dict(
    generator=dict(betas=(0.0, 0.9)), discriminator=dict(betas=(0.0, 0.9)))
total_iters = 80000  # about 100 epochs of CIFAR-10 at batch 64
