"""The overhead benchmarks run end to end: in-process
(tools/benchmark_overhead.py), through the runner (benchmark_runner.py),
fp16 on and off (benchmark_fp16.py); quick mode: tiny networks, numbers
meaningless, nothing timed is asserted."""
import importlib.util
import json
from types import SimpleNamespace

import pytest

from mmgen_adv.runs.config import load_config

from conftest import DEVICES, ROOT, run_tool

from mmgen_adv.evidence import overhead
from mmgen_adv.evidence.runner_timing import read_log, runner_config


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, ROOT / 'tools' / f'{name}.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


runner = load_tool('benchmark_runner')
fp16_tool = load_tool('benchmark_fp16')


def test_rounds_are_whole_cycles_of_at_least_the_minimum():
    # a GPU's 5-iteration cycle of 0.15 s: 4 cycles make a 0.5 s round
    assert overhead.repeats_for(0.15, 0.5) == 4
    assert overhead.repeats_for(0.125, 0.5) == 4
    # a CPU's 15 s cycle is long enough alone
    assert overhead.repeats_for(15.0, 0.5) == 1


@pytest.mark.parametrize('device', DEVICES)
def test_in_process_quick(tmp_path, device):
    out = tmp_path / 'bench.json'
    args = ['--quick', '--device', device, '--json', out]
    if device == 'cpu':
        args.append('--no-memory')  # CPU memory sampling: fresh processes
    result = run_tool('benchmark_overhead.py', *args, device=device)
    report = json.loads(out.read_text())
    rows = {row['variant']: row for row in report['rows']}
    assert list(rows) == list(overhead.VARIANTS)
    assert report['iterations_per_round'] % overhead.DISC_STEPS == 0
    for row in rows.values():
        assert row['fastest'] <= row['seconds'] <= row['slowest']
        assert len(row['rounds']) == 2
        assert f"| {row['variant']} | {row['seconds']:.4f} |" in \
            result.stdout
    assert rows['base']['x_base'] == 1
    asgan = rows['ASGAN']
    ratios = [a / b for a, b in zip(asgan['rounds'], rows['base']['rounds'])]
    assert min(ratios) <= asgan['x_base'] <= max(ratios)
    assert asgan['x_floor'] == pytest.approx(asgan['x_base'] /
                                             asgan['floor_x_base'])
    # the floor adds one D pass for ASGAN's reals, two for DAT's, and as
    # many again where the attack direction takes a separate pass (hinge)
    extra = report['extra_d_seconds'] / rows['base']['seconds']
    floors = {'ASGAN (score=loss)': 1, 'ASGAN': 2, 'DAT (score=loss)': 2,
              'DAT': 4}
    for variant, passes in floors.items():
        assert rows[variant]['floor_x_base'] == pytest.approx(
            1 + passes * extra)
        assert rows[variant]['target_x_floor'] == 1.10
    assert rows['gradient penalty']['x_floor'] is None
    if device == 'cuda':  # CUDA's peak allocation, in this process
        assert all(row['peak_mib'] > 0 for row in rows.values())
        assert 'peak memory: CUDA peak allocated over the steady state' \
            in result.stdout


@pytest.mark.parametrize('device', DEVICES)
def test_through_the_runner_quick(tmp_path, device):
    out = tmp_path / 'runner.json'
    result = run_tool('benchmark_runner.py', '--quick', '--device', device,
                      '--work-dir', tmp_path / 'runs', '--json', out,
                      device=device)
    report = json.loads(out.read_text())['results']
    assert list(report) == ['base', 'ASGAN', 'DAT']
    for name, config in runner.RUNNER_CONFIGS.items():
        # the timed iterations of each config's own JSON log
        assert report[name]['config'] == config
        assert len(report[name]['times']) == runner.QUICK['iters']
        assert (tmp_path / 'runs' / name / 'run0').is_dir()
    assert report['base']['x_base'] == 1
    assert report['ASGAN']['target_x_base'] == 1.25
    assert report['DAT']['target_x_base'] == 1.45
    assert '| DAT (`configs/dat/sngan_cifar10.py`) |' in result.stdout
    assert '<= 1.45 |' in result.stdout
    for name in report:  # the runner's log has memory on CUDA only
        assert (report[name]['peak_mib'] is not None) == (device == 'cuda')


def test_fp16_runs_are_the_recipe_with_fp16_on_and_off(tmp_path):
    """benchmark_fp16's configs: the toolbox's StyleGAN2 recipe per model,
    fp32 and fp16; the fp32 ones train here, the fp16 ones need CUDA."""
    args = SimpleNamespace(image_size=32, batch_size=2, warmup=0, iters=2)
    runs = fp16_tool.fp16_runs(args)
    models = [(model, precision) for model in ('base', 'ASGAN', 'DAT')
              for precision in ('fp32', 'fp16')]
    assert list(runs) == [f'{m}_{p}' for m, p in models]
    configs = {}
    for model, precision in models:
        base, override = runs[f'{model}_{precision}']
        configs[model, precision] = runner_config(
            base, override, args, tmp_path, f'{model}_{precision}')
        cfg = load_config(configs[model, precision])
        fp16 = precision == 'fp16'
        assert ('fp16_loss_scaler' in cfg.get('runner', {})) == fp16
        assert (cfg.model.generator.get('num_fp16_scales') == 4) == fp16
        assert (cfg.model.discriminator.get('num_fp16_scales') == 4) == fp16
        assert cfg.model.type == ('StaticUnconditionalGAN' if model == 'base'
                                  else 'AdvUnconditionalGAN')
        assert cfg.model.get('adv_cfg') == fp16_tool.FP16_MODELS[model]
        assert cfg.model.generator.out_size == 32
        assert cfg.model.discriminator.in_size == 32
        assert cfg.data.train.type == 'QuickTestImageDataset'
        assert cfg.data.samples_per_gpu == 2 and cfg.total_iters == 2
    work_dir = tmp_path / 'dat_fp32'
    run_tool('train.py', configs['DAT', 'fp32'], '--work-dir', work_dir,
             '--no-validate')
    times, memory = read_log(work_dir)
    assert len(times) == 2 and memory is None  # no CUDA, no memory logged
    refused = run_tool('train.py', configs['DAT', 'fp16'], '--work-dir',
                       tmp_path / 'dat_fp16', '--no-validate', check=False)
    assert refused.returncode == 2
    assert 'half-precision training needs CUDA' in refused.stderr
    assert not (tmp_path / 'dat_fp16').exists()


@pytest.mark.cuda
def test_fp16_on_and_off_quick(tmp_path):
    out = tmp_path / 'fp16.json'
    result = run_tool('benchmark_fp16.py', '--quick', '--work-dir',
                      tmp_path / 'runs', '--json', out, device='cuda')
    report = json.loads(out.read_text())['results']
    assert list(report) == [f'{model}_{precision}'
                            for model in ('base', 'ASGAN', 'DAT')
                            for precision in ('fp32', 'fp16')]
    for name, row in report.items():
        assert len(row['times']) == fp16_tool.QUICK['iters']
        assert row['fastest_cycle'] <= row['slowest_cycle']
        assert row['peak_mib'] > 0
        assert row['config'] == fp16_tool.FP16_BASES[row['precision']]
        if row['precision'] == 'fp32':
            assert row['x_fp32'] == 1
        if row['model'] == 'base':
            assert row['x_base'] == 1
        assert (tmp_path / 'runs' / name / 'run0').is_dir()
    assert '| DAT | fp16 |' in result.stdout


def test_bad_runner_settings_are_refused():
    result = run_tool('benchmark_runner.py', '--iters', 12, check=False)
    assert result.returncode == 2
    assert '--iters and --warmup must be multiples of disc_steps (5)' in \
        result.stderr


@pytest.mark.parametrize('args, message', [
    (['--iters', 20, '--device', 'cpu'],
     "--iters and --warmup must be multiples of R1's interval (16)"),
    (['--device', 'cpu'],
     "the toolbox's fp16 runs on CUDA only, and --device is cpu"),
    (['--channels', 64, 64], 'unrecognized arguments: --channels'),
])
def test_bad_fp16_settings_are_refused(args, message):
    result = run_tool('benchmark_fp16.py', *args, check=False)
    assert result.returncode == 2
    assert message in result.stderr
