# AS-GAN on MMagic's DCGAN CelebA-cropped 64x64 config (the non-saturating
# loss): only the model type and adv_cfg differ.
_base_ = 'mmagic::dcgan/dcgan_1xb128-300kiters_celeba-cropped-64.py'
custom_imports = dict(imports=['mmgen_adv.mmagic'], allow_failed_imports=False)
model = dict(type='AdvDCGAN', adv_cfg=dict(type='ASGAN', eps=1.0))
