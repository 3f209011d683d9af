# SSGAN + DAT on CIFAR-10 on MMagic: the DAT paper's headline model. The
# rotation loss stays on clean reals, as in the official code.
_base_ = '../ssgan/ssgan_cifar10.py'

model = dict(adv_cfg=dict(type='DAT', variant='reference'))
# DAT's adversarial backward does not reach the rotation head; DDP must look
# for parameters without gradients
model_wrapper_cfg = dict(find_unused_parameters=True)
