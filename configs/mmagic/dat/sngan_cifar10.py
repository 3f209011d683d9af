# DAT on MMagic's SNGAN-proj CIFAR-10 config (projection D, hinge loss,
# 5 D steps per G step): only the model type and adv_cfg differ.
_base_ = 'mmagic::sngan_proj/sngan-proj_wReLUinplace_lr2e-4-ndisc5-1xb64_cifar10-32x32.py'  # noqa: E501
custom_imports = dict(imports=['mmgen_adv.mmagic'], allow_failed_imports=False)
model = dict(type='AdvSNGAN', adv_cfg=dict(type='DAT', eps=1.0))
