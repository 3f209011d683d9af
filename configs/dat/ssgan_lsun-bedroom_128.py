# SSGAN + DAT on LSUN-bedroom 128x128 (the DAT paper: 13.2% lower FID).
_base_ = ['../ssgan/ssgan_lsun-bedroom_128.py']

model = dict(adv_cfg=dict(type='DAT', variant='reference'))
find_unused_parameters = True  # see configs/dat/ssgan_cifar10.py
