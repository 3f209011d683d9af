"""fp16 through the runner's ``fp16_loss_scaler`` (CUDA tier): the toolbox's
fp16 StyleGAN2 recipe, tiny, as the base model, with ASGAN and with DAT,
trained by tools/train.py."""
import json
import math

import pytest
from test_configs import read_log

from conftest import run_tool, write_config

FP16 = 'mmgen::styleganv2/stylegan2_c2_fp16_quicktest_ffhq_256_b4x8_800k.py'
ITERS = 6  # R1 (every 16 iterations) at 0, path length (every 4) at 0 and 4

ADV_CFGS = {
    'base': None,
    'ASGAN': "dict(type='ASGAN', eps=1.0)",
    'DAT': "dict(type='DAT', eps=1.0)",
}
# GradScaler.update() calls per runner iteration. The runner calls it once
# after train_step. ASGAN's default update='second_step' makes two D
# optimizer steps, and a GradScaler unscales and steps an optimizer once per
# update(), so the model calls update() between its two steps: 2. DAT (one
# D step on the clean + adversarial loss) and the base model: 1.
SCALER_UPDATES = {'base': 1, 'ASGAN': 2, 'DAT': 1}


def fp16_config(tmp_path, adv_cfg):
    model = "type='StaticUnconditionalGAN'" if adv_cfg is None else \
        f"type='AdvUnconditionalGAN', adv_cfg={adv_cfg}"
    return write_config(
        tmp_path / 'fp16.py', f"_base_ = ['{FP16}']\n"
        "custom_imports = dict(imports=['mmgen_adv', 'scaler_update_hook'])\n"
        f'model = dict({model}, generator=dict(out_size=32), '
        'discriminator=dict(in_size=32))\n'
        # random images, no files
        "data = dict(samples_per_gpu=2, workers_per_gpu=0, train=dict("
        "_delete_=True, type='QuickTestImageDataset', size=(32, 32)))\n"
        "custom_hooks = [dict(type='CountScalerUpdatesHook')]\n"
        f'total_iters = {ITERS}\nlog_config = dict(interval=1)\n')


@pytest.mark.cuda
@pytest.mark.parametrize('variant', list(ADV_CFGS))
def test_fp16_stylegan2_through_the_runner(variant, tmp_path):
    config = fp16_config(tmp_path, ADV_CFGS[variant])
    work_dir = tmp_path / 'work'
    run_tool('train.py', config, '--work-dir', work_dir, '--no-validate',
             device='cuda')
    records = read_log(work_dir)
    assert [r['iter'] for r in records] == list(range(1, ITERS + 1))
    counts = json.loads((work_dir / 'scaler_updates.json').read_text())
    assert counts['per_iteration'] == [SCALER_UPDATES[variant]] * ITERS
    assert all(0 < scale <= 512 for scale in counts['scales'])
    # an fp16 overflow is allowed only where the scaler saw it: it skipped
    # that step and lowered its scale; every other iteration is finite
    scales = [512.0] + counts['scales']
    for i, record in enumerate(records):
        losses = {k: v for k, v in record.items() if k.startswith('loss')}
        assert losses, record
        if not all(map(math.isfinite, losses.values())):
            assert scales[i + 1] < scales[i], (record, scales)
    assert sum(all(math.isfinite(v) for k, v in r.items()
                   if k.startswith('loss')) for r in records) >= ITERS - 2
    assert 'loss_r1_gp' in records[0] and 'loss_path_regular' in records[0]
    if variant != 'base':
        assert all('loss_disc_adv_real' in r for r in records)
