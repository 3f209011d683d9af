# AS-GAN on the toolbox's DCGAN LSUN-bedroom 64x64 recipe (whole-model DDP).
_base_ = ['mmgen::dcgan/dcgan_lsun-bedroom_64x64_b128x1_5e.py']
custom_imports = dict(imports=['mmgen_adv'], allow_failed_imports=False)

model = dict(type='AdvUnconditionalGAN', adv_cfg=dict(type='ASGAN', eps=1.0))
