# The demo DCGAN on the bundled digits with the example regularizer of
# docs/extending.md (run with docs/examples on PYTHONPATH).
_base_ = ['../../configs/demo/dcgan_digits.py']
custom_imports = dict(
    imports=['mmgen_adv', 'instance_noise'], allow_failed_imports=False)

model = dict(
    type='AdvUnconditionalGAN',
    adv_cfg=dict(type='InstanceNoise', sigma=16.0, anneal_iters=600))
