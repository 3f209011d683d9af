# DAT on the toolbox's conditional BigGAN, CIFAR-10 (EMA generator kept).
_base_ = ['mmgen::biggan/biggan_cifar10_32x32_b25x2_500k.py']
custom_imports = dict(imports=['mmgen_adv'], allow_failed_imports=False)

model = dict(
    type='AdvConditionalGAN', adv_cfg=dict(type='DAT', variant='reference'))
