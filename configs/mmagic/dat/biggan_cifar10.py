# DAT on MMagic's BigGAN CIFAR-10 config (conditional, hinge loss, EMA):
# only the model type and adv_cfg differ.
_base_ = 'mmagic::biggan/biggan_2xb25-500kiters_cifar10-32x32.py'
custom_imports = dict(imports=['mmgen_adv.mmagic'], allow_failed_imports=False)
model = dict(type='AdvBigGAN', adv_cfg=dict(type='DAT', eps=1.0))
