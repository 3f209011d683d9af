# DAT (the paper's form, eps 1 gray level) on MMagic's DCGAN, stacked digits.
_base_ = './dcgan.py'
model = dict(adv_cfg=dict(type='DAT', eps=1.0))
