"""AdvEpsScheduleHook, DiscRobustnessProbeHook and tools/plot_log.py."""
import json
import math
from pathlib import Path
from types import SimpleNamespace

import cv2
import pytest
import torch
import torch.nn as nn
from mmgen.models import build_model

from mmgen_adv.errors import ConfigError
from mmgen_adv.models.hooks import AdvEpsScheduleHook, DiscRobustnessProbeHook
from mmgen_adv.models.hooks.robustness_probe import (gradient_picture,
                                                     gradient_stats,
                                                     steps_to_fool)

from conftest import DEVICES, ROOT, run_tool, write_config

DEMO = ROOT / 'configs/demo/dcgan_digits.py'


# -- eps schedule ---------------------------------------------------------
def test_linear_schedule_values():
    hook = AdvEpsScheduleHook(start_iter=10, ramp_iters=20, target_eps=2.0)
    assert [hook.eps_at(i) for i in (0, 5, 9)] == [0.0, 0.0, 0.0]
    assert hook.eps_at(10) == pytest.approx(2.0 / 20)
    assert hook.eps_at(19) == pytest.approx(1.0)
    assert hook.eps_at(29) == pytest.approx(2.0)
    assert hook.eps_at(1000) == pytest.approx(2.0)


def test_cosine_and_step_schedules():
    cosine = AdvEpsScheduleHook(start_iter=0, ramp_iters=10, target_eps=4.0,
                                ramp='cosine')
    assert cosine.eps_at(4) == pytest.approx(2.0)  # halfway: progress 0.5
    assert cosine.eps_at(0) == pytest.approx(4.0 * (0.5 - 0.5 * math.cos(
        math.pi / 10)))
    values = [cosine.eps_at(i) for i in range(12)]
    assert values == sorted(values) and values[-1] == pytest.approx(4.0)
    step = AdvEpsScheduleHook(start_iter=3, ramp_iters=0, target_eps=1.0)
    assert [step.eps_at(i) for i in range(5)] == [0, 0, 0, 1.0, 1.0]


def tiny_dcgan(type='AdvUnconditionalGAN', **kwargs):
    return build_model(dict(
        type=type,
        generator=dict(type='DCGANGenerator', output_scale=16,
                       base_channels=16),
        discriminator=dict(type='DCGANDiscriminator', input_scale=16,
                           output_scale=4, out_channels=1),
        gan_loss=dict(type='GANLoss', gan_type='vanilla'),
        **kwargs))


def fake_runner(model, iteration=0):
    logged = {}
    return SimpleNamespace(
        model=model, iter=iteration,
        log_buffer=SimpleNamespace(update=logged.update), logged=logged)


def test_schedule_drives_the_regularizer():
    model = tiny_dcgan(adv_cfg=dict(type='ASGAN', eps=3.0))
    hook = AdvEpsScheduleHook(start_iter=2, ramp_iters=3)
    runner = fake_runner(model)
    hook.before_run(runner)
    assert hook.target_eps == 3.0  # from adv_cfg
    seen = []
    for it in range(6):
        runner.iter = it
        hook.before_train_iter(runner)
        seen.append((model.adv.eps, runner.logged['adv_eps']))
    assert [eps for eps, _ in seen] == pytest.approx([0, 0, 1, 2, 3, 3])
    assert all(eps == logged for eps, logged in seen)


@pytest.mark.parametrize('kwargs, message', [
    (dict(ramp='exp'), r"ramp must be one of \['linear', 'cosine'\], got "
     "'exp'"),
    (dict(start_iter=-1), 'start_iter must be an int >= 0, got -1'),
    (dict(ramp_iters=2.5), 'ramp_iters must be an int >= 0'),
    (dict(target_eps=-2), r'target_eps must be in \[0.0, 255.0\], got -2'),
])
def test_bad_schedule_is_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        AdvEpsScheduleHook(**kwargs)


@pytest.mark.parametrize('adv_cfg, refused', [
    (dict(type='DAT', variant='paper'), True),  # sign steps: at most 64
    (dict(type='DAT', variant='reference'), False),  # a clamp: up to 255
])
def test_schedule_target_within_the_regularizers_limit(adv_cfg, refused):
    model = tiny_dcgan(adv_cfg=adv_cfg)
    hook = AdvEpsScheduleHook(target_eps=100.0)
    if refused:
        with pytest.raises(ConfigError, match=r'target_eps=100.0 is above '
                           r'what DAT accepts \(64.0\)'):
            hook.before_run(fake_runner(model))
    else:
        hook.before_run(fake_runner(model))


def test_schedule_needs_adv_training():
    model = tiny_dcgan(type='StaticUnconditionalGAN')
    with pytest.raises(ConfigError, match='needs a model trained with an '
                       'attack in adv_cfg'):
        AdvEpsScheduleHook().before_run(fake_runner(model))


def read_json_log(work_dir):
    log = sorted(Path(work_dir).glob('*.log.json'))[-1]
    return [json.loads(line) for line in log.read_text().splitlines()
            if '"mode"' in line]


def demo_config(tmp_path, name, hooks, adv_cfg="dict(type='ASGAN', eps=2.0)"):
    return write_config(
        tmp_path / f'{name}.py', f"_base_ = ['{DEMO}']\n"
        f"model = dict(type='AdvUnconditionalGAN', adv_cfg={adv_cfg}, "
        'generator=dict(base_channels=32), '
        'discriminator=dict(base_channels=16))\n'
        'data = dict(samples_per_gpu=8)\n'
        'total_iters = 6\n'
        "log_config = dict(interval=1, hooks=[dict(type='TextLoggerHook'), "
        "dict(type='TensorboardLoggerHook')])\n"
        'checkpoint_config = dict(interval=3)\n'
        f'custom_hooks = {hooks}\n')


def test_schedule_through_training_and_resume(tmp_path):
    hooks = "[dict(type='AdvEpsScheduleHook', start_iter=2, ramp_iters=3)]"
    config = demo_config(tmp_path, 'sched', hooks)
    run_tool('train.py', config, '--work-dir', tmp_path / 'a')
    records = read_json_log(tmp_path / 'a')
    eps = [r['adv_eps'] for r in records]
    assert eps == pytest.approx([0, 0, 2 / 3, 4 / 3, 2, 2], abs=1e-4)
    # at eps 0 the base model's update, without an attack; then the attack
    # really uses the scheduled eps: |delta| is eps where the range allows
    for r in records:
        if r['adv_eps'] == 0:
            assert 'loss_disc_adv_real' not in r and 'adv_delta_real' not in r
        else:
            assert 0 < r['adv_delta_real'] <= r['adv_eps'] + 1e-4
    assert records[-1]['adv_delta_real'] > 1.0
    run_tool('train.py', config, '--work-dir', tmp_path / 'b',
             '--resume-from', tmp_path / 'a/ckpt/a/iter_3.pth')
    resumed = read_json_log(tmp_path / 'b')
    assert [r['iter'] for r in resumed] == [4, 5, 6]
    assert [r['adv_eps'] for r in resumed] == pytest.approx(eps[3:], abs=1e-4)
    a = torch.load(tmp_path / 'a/ckpt/a/iter_6.pth')['state_dict']
    b = torch.load(tmp_path / 'b/ckpt/b/iter_6.pth')['state_dict']
    assert all(torch.equal(a[k], b[k]) for k in a)


# -- robustness probe -----------------------------------------------------
class StepDisc(nn.Module):
    """Robust by construction: +1 on bright images, -1 on dark ones, and no
    gradient anywhere (locally constant), so no attack moves it."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        bright = x.mean(dim=(1, 2, 3), keepdim=False) > 0
        return torch.where(bright, 1.0, -1.0).unsqueeze(1) + 0 * self.dummy


class MeanDisc(nn.Module):
    """Fragile: a steep linear function of the image mean."""

    def __init__(self, slope=10.0):
        super().__init__()
        self.slope = nn.Parameter(torch.tensor(slope))

    def forward(self, x):
        return self.slope * x.mean(dim=(1, 2, 3)).unsqueeze(1)


def test_attack_count_hits_the_cap_on_a_robust_disc():
    bright = torch.full((4, 3, 8, 8), 0.5)
    dark = torch.full((4, 3, 8, 8), -0.5)
    steps = steps_to_fool(StepDisc(), dark, torch.tensor(1.0), 0.01,
                          max_steps=30, tol=0.02)
    assert steps.tolist() == [30] * 4
    steps = steps_to_fool(StepDisc(), bright, torch.tensor(-1.0), 0.01,
                          max_steps=30, tol=0.02)
    assert steps.tolist() == [30] * 4


@pytest.mark.parametrize('device', DEVICES)
def test_attack_count_is_small_on_a_fragile_disc(device):
    # D = 10 * mean: a sign step of s moves D by 10 s; from 0.1 away,
    # steps of 0.004 reach 0.04 and 0.08: two steps to land within 0.025
    # (a tolerance clear of float rounding on any device)
    disc = MeanDisc().to(device)
    fakes = torch.zeros(4, 3, 8, 8, device=device)
    target = torch.tensor(0.1, device=device)
    steps = steps_to_fool(disc, fakes, target, 0.004, max_steps=30,
                          tol=0.025)
    assert steps.tolist() == [2, 2, 2, 2]
    assert steps_to_fool(disc, fakes + 0.01, target, 0.004, 30,
                         0.025).tolist() == [0] * 4


@pytest.mark.parametrize('device', DEVICES)
def test_gradient_statistics_and_picture(device):
    dense = torch.ones(2, 3, 4, 4, device=device)
    sparse = torch.zeros(2, 3, 4, 4, device=device)
    sparse[:, 0, 0, 0] = 5.0
    assert gradient_stats(dense) == pytest.approx((48.0, 0.0), abs=1e-6)
    assert gradient_stats(sparse) == pytest.approx((5.0, 1.0), abs=1e-6)
    grad = torch.randn(2, 3, 8, 8, device=device)
    grad[0, 0, 0, 0] = 1000.0  # an outlier is clipped to +-3 std
    picture = gradient_picture(grad)
    assert picture.shape == (2, 3, 8, 8)
    assert picture.min() >= 0 and picture.max() <= 1
    assert (picture[0] > 0.5).float().mean() > 0.01  # not washed out


@pytest.mark.parametrize('kwargs, message', [
    (dict(interval=0), 'interval must be an int >= 1, got 0'),
    (dict(num_images=1), 'num_images must be an int >= 2'),
    (dict(step_size=0), 'step_size must be > 0.0, got 0'),
    (dict(mode='test'), r"mode must be one of \['eval', 'train'\]"),
])
def test_bad_probe_settings_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        DiscRobustnessProbeHook(**kwargs)


def test_probe_outputs_and_no_effect_on_training(tmp_path):
    probe = ("[dict(type='DiscRobustnessProbeHook', interval=2, "
             'num_images=6, max_steps=5)]')
    with_probe = demo_config(tmp_path, 'probe', probe)
    without = demo_config(tmp_path, 'plain', '[]')
    run_tool('train.py', with_probe, '--work-dir', tmp_path / 'p')
    run_tool('train.py', without, '--work-dir', tmp_path / 'n')
    a = torch.load(tmp_path / 'p/ckpt/p/iter_6.pth')['state_dict']
    b = torch.load(tmp_path / 'n/ckpt/n/iter_6.pth')['state_dict']
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)

    records = read_json_log(tmp_path / 'p')
    probed = [r for r in records if 'probe_xi_real' in r]
    assert [r['iter'] for r in probed][:1] == [2]
    for r in probed:
        assert 0 <= r['probe_xi_real'] <= 5 and 0 <= r['probe_xi_fake'] <= 5
        assert r['probe_grad_l1'] > 0 and 0 <= r['probe_grad_sparsity'] <= 1
    text = next((tmp_path / 'p').glob('*.log')).read_text()
    assert 'probe_xi_fake' in text
    out = tmp_path / 'p/robustness_probe'
    png = cv2.imread(str(out / 'iter_6.png'))
    # 6 images above their 6 gradient pictures, 32 px, 2 px padding
    assert png.shape == (2 * 34 + 2, 6 * 34 + 2, 3)
    data = json.loads((out / 'iter_6.json').read_text())
    assert len(data['xi_real_per_image']) == 6
    assert sum(data['grad_histogram']['counts']) == 6 * 3 * 32 * 32
    # and TensorBoard: the scalars and the gradient histogram
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    events = EventAccumulator(str(next((tmp_path / 'p').rglob('tf_logs'))))
    events.Reload()
    assert 'train/probe_xi_fake' in events.Tags()['scalars']
    assert 'probe/input_gradient' in events.Tags()['histograms']


@pytest.mark.cuda
def test_schedule_and_probe_train_on_the_gpu(tmp_path):
    """The eps schedule and the probe in a GPU run of tools/train.py."""
    hooks = ("[dict(type='AdvEpsScheduleHook', start_iter=2, ramp_iters=3), "
             "dict(type='DiscRobustnessProbeHook', interval=3, num_images=6, "
             'max_steps=5)]')
    config = demo_config(tmp_path, 'gpu', hooks)
    result = run_tool('train.py', config, '--work-dir', tmp_path / 'g',
                      device='cuda')
    assert 'CUDA available: True' in result.stdout + result.stderr
    records = read_json_log(tmp_path / 'g')
    eps = [r['adv_eps'] for r in records]
    assert eps == pytest.approx([0, 0, 2 / 3, 4 / 3, 2, 2], abs=1e-4)
    probed = [r for r in records if 'probe_xi_real' in r]
    assert [r['iter'] for r in probed][:1] == [3]
    for r in probed:
        assert 0 <= r['probe_xi_real'] <= 5 and 0 <= r['probe_xi_fake'] <= 5
        assert r['probe_grad_l1'] > 0
    assert (tmp_path / 'g/robustness_probe/iter_6.png').is_file()


# -- plot_log -------------------------------------------------------------
def write_log(path, values):
    lines = [json.dumps(dict(env_info='x', seed=0))]
    for it, value in enumerate(values, 1):
        lines.append(json.dumps(dict(mode='train', iter=it, loss_disc=value,
                                     adv_eps=it / 10)))
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def test_plot_log_overlays_runs(tmp_path):
    base = write_log(tmp_path / 'base.log.json', [1.0, 0.8, 0.6])
    dat = write_log(tmp_path / 'dat.log.json', [1.0, 0.9, 0.7])
    out = tmp_path / 'cmp.png'
    run_tool('plot_log.py', 'plot_curve', base, dat, '--keys', 'loss_disc',
             'adv_eps', '--legend', 'base', 'DAT', '--out', out)
    two_panels = cv2.imread(str(out))
    run_tool('plot_log.py', 'plot_curve', base, dat, '--keys', 'loss_disc',
             '--out', tmp_path / 'one.png')
    one_panel = cv2.imread(str(tmp_path / 'one.png'))
    assert two_panels.shape[1] == one_panel.shape[1]
    assert two_panels.shape[0] == 2 * one_panel.shape[0]
    result = run_tool('plot_log.py', 'plot_curve', base, '--keys', 'fid',
                      '--out', out, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: no log has key 'fid'; available: adv_eps, loss_disc")
    listing = run_tool('plot_log.py', 'keys', base).stdout
    assert 'loss_disc (3 points, iterations 1-3)' in listing


# -- log window ------------------------------------------------------------
def test_windowed_log_buffer_logs_what_each_window_measured():
    from mmgen_adv.runs.hooks import WindowedLogBuffer
    buffer = WindowedLogBuffer()
    for iteration in range(1, 7):
        buffer.iteration = iteration
        buffer.update(dict(loss=float(iteration)), count=2)
        if iteration in (3, 6):  # a sparse key, e.g. a probe
            buffer.update(dict(probe=10.0 * iteration))
        if iteration % 2 == 0:  # two loggers average at a window's end
            buffer.average(2)
            first = dict(buffer.output)
            buffer.average(2)
            assert buffer.output == first
            outputs = dict(buffer.output)
            buffer.clear_output()
            if iteration == 2:
                assert outputs == dict(loss=1.5)  # no probe measured yet
            if iteration == 4:  # mmcv: mean of the last 2 entries
                assert outputs == dict(loss=3.5, probe=30.0)
            if iteration == 6:  # mmcv: (30 + 60) / 2
                assert outputs == dict(loss=5.5, probe=60.0)
    assert all(not v for v in buffer.val_history.values())  # forgotten


def test_windowed_log_buffer_restores_the_unlogged_window():
    from mmgen_adv.runs.hooks import WindowedLogBuffer
    saved = WindowedLogBuffer()
    for iteration in (5, 6, 7):  # logged every 2: window 5-6 is done
        saved.iteration = iteration
        saved.update(dict(loss=float(iteration)))
    restored = WindowedLogBuffer()
    restored.restore(saved.state(), after_iteration=6)
    restored.iteration = 8
    restored.update(dict(loss=8.0))
    restored.average(2)
    assert restored.output == dict(loss=7.5)
