# AS-GAN on the toolbox's StyleGAN2 LSUN-church 256 recipe (R1 and path
# length regularization kept; whole-model DDP as in the toolbox).
_base_ = ['mmgen::styleganv2/stylegan2_c2_lsun-church_256_b4x8_800k.py']
custom_imports = dict(imports=['mmgen_adv'], allow_failed_imports=False)

model = dict(type='AdvUnconditionalGAN', adv_cfg=dict(type='ASGAN', eps=1.0))
