# DAT on the toolbox's conditional SNGAN-proj, CIFAR-10: attacks pass each
# image's label to the projection discriminator.
_base_ = ['mmgen::sngan_proj/sngan_proj_32_woReLUinplace_lr-2e-4_ndisc5_cifar10_b64x1.py']  # noqa: E501
custom_imports = dict(imports=['mmgen_adv'], allow_failed_imports=False)

model = dict(
    type='AdvConditionalGAN', adv_cfg=dict(type='DAT', variant='reference'))
