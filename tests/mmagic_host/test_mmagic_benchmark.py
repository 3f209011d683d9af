"""The MMagic host's runner benchmark (tools/mmagic/benchmark_runner.py)
runs end to end on a handful of CPU iterations: MMagic's SNGAN, ASGAN and
DAT through tools/mmagic/train.py, the warm-up left out, ratios to the
base printed. Nothing timed is asserted."""
import importlib.util
import json
import subprocess
import sys

import pytest

REASON = ('MMagic tier: runs in the MMagic environment (./setup.sh --host '
          'mmagic; .venv-mmagic/bin/python -m pytest tests -m mmagic)')
pytest.importorskip('mmagic', reason=REASON)
pytestmark = pytest.mark.mmagic

import mmgen_adv.mmagic  # noqa: E402,F401  (first: compat)
from mmengine.config import Config  # noqa: E402

from conftest import ROOT  # noqa: E402

TOOL = ROOT / 'tools' / 'mmagic' / 'benchmark_runner.py'
ITERS, WARMUP = 5, 5  # one cycle of SNGAN's 5 D steps each


def test_through_mmagics_runner(tmp_path):
    runs, out = tmp_path / 'runs', tmp_path / 'runner.json'
    done = subprocess.run(
        [sys.executable, str(TOOL), '--device', 'cpu', '--iters', str(ITERS),
         '--warmup', str(WARMUP), '--channels', '16', '16', '--batch-size',
         '4', '--work-dir', str(runs), '--json', str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())['results']
    assert list(report) == ['base', 'ASGAN', 'DAT']
    for name, row in report.items():
        assert len(row['times']) == ITERS  # the warm-up left out
        assert row['fastest_cycle'] <= row['slowest_cycle']
        assert row['peak_mib'] is None  # mmengine logs memory on CUDA only
        assert f"| {name} (`{row['config']}`) | {row['seconds']:.4f} |" in \
            done.stdout
    assert report['base']['x_base'] == 1
    assert report['ASGAN']['target_x_base'] == 1.25
    assert report['DAT']['target_x_base'] == 1.45
    assert '| 1.00 | - | - |' in done.stdout  # the base row's ratio
    for name in ('ASGAN', 'DAT'):
        assert f"| {report[name]['x_base']:.2f} | <= " in done.stdout
    assert 'mean over iterations 6-10 (after 5 warm-up)' in done.stdout


def load_tool():
    spec = importlib.util.spec_from_file_location('mmagic_benchmark_runner',
                                                  TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_the_runs_are_mmagics_sngan_with_and_without_a_regularizer(
        tmp_path):
    """The configs the tool trains: MMagic's own SNGAN, ASGAN and the DAT
    config, on the tool's random images, with --channels."""
    tool = load_tool()
    args = tool.parse_args(['--channels', '16', '32', '--batch-size', '4',
                            '--iters', '5', '--warmup', '0'])
    args.image_root = tool.write_random_images(str(tmp_path / 'images'), 32)
    models = {}
    for name, (base, model) in tool.sngan_runs(args).items():
        cfg = Config.fromfile(
            tool.mmagic_config(base, model, args, str(tmp_path), name))
        assert cfg.train_dataloader.dataset.type == 'BasicConditionalDataset'
        assert cfg.train_dataloader.dataset.data_root == args.image_root
        assert cfg.train_dataloader.batch_size == 4
        assert cfg.train_cfg.max_iters == 5
        assert cfg.log_processor.window_size == 1
        assert cfg.model.generator.base_channels == 16
        assert cfg.model.discriminator.base_channels == 32
        models[name] = cfg.model
    assert models['base'].type == 'SNGAN' and 'adv_cfg' not in models['base']
    assert models['ASGAN'].type == 'AdvSNGAN'
    assert models['ASGAN'].adv_cfg == dict(type='ASGAN', eps=1.0)
    assert models['DAT'].adv_cfg == dict(type='DAT', eps=1.0)
