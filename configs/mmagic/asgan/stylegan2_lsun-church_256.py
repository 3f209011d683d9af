# AS-GAN on MMagic's StyleGAN2 config-f LSUN-church 256x256 (the
# non-saturating loss, R1 every 16 iterations, path length, EMA): only the
# model type and adv_cfg differ.
_base_ = 'mmagic::styleganv2/stylegan2_c2_8xb4-800kiters_lsun-church-256x256.py'  # noqa: E501
custom_imports = dict(imports=['mmgen_adv.mmagic'], allow_failed_imports=False)
model = dict(type='AdvStyleGAN2', adv_cfg=dict(type='ASGAN', eps=1.0))
