# The example regularizer as a method of a stacked-digits study:
#   PYTHONPATH=docs/examples .venv/bin/python tools/benchmark_quality.py \
#       --study dcgan --add-method noise=docs/examples/instance_noise_study.py
custom_imports = dict(
    imports=['mmgen_adv', 'instance_noise'], allow_failed_imports=False)
model = dict(adv_cfg=dict(type='InstanceNoise', sigma=16.0))
