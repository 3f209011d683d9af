# SSGAN + DAT on STL-10 at 48x48 (the DAT paper: 10.5% lower FID than SSGAN).
_base_ = ['../ssgan/ssgan_stl10_48.py']

model = dict(adv_cfg=dict(type='DAT', variant='reference'))
find_unused_parameters = True  # see configs/dat/ssgan_cifar10.py
