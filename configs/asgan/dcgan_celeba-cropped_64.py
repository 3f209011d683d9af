# AS-GAN on the toolbox's DCGAN CelebA 64x64 recipe.
_base_ = ['mmgen::dcgan/dcgan_celeba-cropped_64_b128x1_300k.py']
custom_imports = dict(imports=['mmgen_adv'], allow_failed_imports=False)

model = dict(type='AdvUnconditionalGAN', adv_cfg=dict(type='ASGAN', eps=1.0))
