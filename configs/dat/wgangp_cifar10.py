# DAT on WGAN-GP, CIFAR-10: the toolbox's WGAN-GP model (GroupNorm D,
# gradient penalty kept on the clean batch) at 32x32. The paper finds DAT
# helps WGAN-GP with one D step per G step ('It=1'), hence disc_steps=1.
_base_ = [
    'mmgen::_base_/models/wgangp/wgangp_base.py',
    'mmgen::_base_/datasets/cifar10_nopad.py',
    'mmgen::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmgen_adv'], allow_failed_imports=False)

model = dict(
    type='AdvUnconditionalGAN',
    generator=dict(out_scale=32),
    discriminator=dict(in_scale=32),
    adv_cfg=dict(type='DAT', variant='reference'))
train_cfg = dict(disc_steps=1, real_img_key='img')
data = dict(samples_per_gpu=64)

lr_config = None
total_iters = 100000
checkpoint_config = dict(interval=10000, by_epoch=False, max_keep_ckpts=10)
