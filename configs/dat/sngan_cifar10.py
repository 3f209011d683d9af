# DAT on unconditional SNGAN, CIFAR-10. The official code's form of the
# attack ('reference': raw gradient step clamped to 1, adversarial loss only)
# is the one behind the paper's SNGAN/SSGAN numbers; variant='paper' gives
# Eq. 8-10 with an eps sign step and lambda_clean = lambda_adv = 1.
_base_ = ['../_base_/sngan_cifar10.py']

model = dict(adv_cfg=dict(type='DAT', variant='reference'))
