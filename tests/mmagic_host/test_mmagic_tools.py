"""The MMagic host's configs and tools: every config builds its model, one
trains through tools/mmagic/train.py (alone and as a 2-rank gloo group),
a resumed run continues exactly, bad input is refused before anything is
written."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REASON = ('MMagic tier: runs in the MMagic environment (./setup.sh --host '
          'mmagic; .venv-mmagic/bin/python -m pytest tests -m mmagic)')
pytest.importorskip('mmagic', reason=REASON)
pytestmark = pytest.mark.mmagic

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import mmgen_adv.mmagic  # noqa: E402,F401  (first: compat)
from mmagic.registry import MODELS  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

from conftest import ROOT  # noqa: E402

CONFIGS = sorted(str(p.relative_to(ROOT))
                 for p in (ROOT / 'configs' / 'mmagic').rglob('*.py'))
TOOLS = ROOT / 'tools' / 'mmagic'
DCGAN = 'configs/mmagic/asgan/dcgan_celeba-cropped_64.py'


@pytest.mark.parametrize('config', CONFIGS)
def test_every_config_builds_its_model(config):
    cfg = Config.fromfile(ROOT / config)
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(cfg.model)
    assert type(model).__module__ == 'mmgen_adv.mmagic.models'
    if cfg.model.get('adv_cfg') is None:
        assert model.adv is None
    else:
        assert type(model.adv).__name__ == cfg.model.adv_cfg.type


@pytest.fixture(scope='module')
def image_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp('images')
    rng = np.random.default_rng(0)
    for i in range(16):
        cv2.imwrite(str(root / f'{i:02d}.png'),
                    rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    return root


def small_run(data_root, iters):
    """cfg-options for a few CPU iterations of the DCGAN config on
    ``data_root``: small networks, no evaluation or sample grids."""
    return [
        '--cfg-options', f'train_dataloader.dataset.data_root={data_root}',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
        'test_cfg=None', 'test_dataloader=None', 'test_evaluator=None',
        f'train_cfg.max_iters={iters}', 'default_hooks.checkpoint.interval=2',
        'default_hooks.checkpoint.save_best=None',
        'default_hooks.logger.interval=1', 'custom_hooks=[]',
        'model.generator.base_channels=64',
        'model.discriminator.base_channels=16', 'randomness.seed=0']


def run(args, **kwargs):
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                          timeout=900, **kwargs)


def weights(work_dir, iteration):
    state = torch.load(Path(work_dir) / f'iter_{iteration}.pth',
                       map_location='cpu')['state_dict']
    return {k: v for k, v in state.items() if 'discriminator' in k or
            'generator' in k}


def test_train_then_resume_continues_exactly(image_folder, tmp_path):
    train = [sys.executable, str(TOOLS / 'train.py'), DCGAN]
    whole, cut = tmp_path / 'whole', tmp_path / 'cut'
    done = run(train + ['--work-dir', str(whole)] +
               small_run(image_folder, 4))
    assert done.returncode == 0, done.stderr[-3000:]
    log = (next(whole.rglob('*.log'))).read_text()
    assert 'loss_disc_adv_real' in log or 'asgan' in log.lower(), log[-2000:]
    first = run(train + ['--work-dir', str(cut)] + small_run(image_folder, 2))
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = run(train + ['--work-dir', str(cut), '--resume'] +
                  small_run(image_folder, 4))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected, got = weights(whole, 4), weights(cut, 4)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key


def test_two_rank_gloo_launch(image_folder, tmp_path):
    done = run(['bash', str(TOOLS / 'dist_train.sh'), DCGAN, '2',
                '--work-dir', str(tmp_path)] + small_run(image_folder, 2),
               env=dict(PYTHON=sys.executable, PORT='29531',
                        PATH='/usr/bin:/bin'))
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / 'iter_2.pth').exists()


def test_a_launched_rank_ends_its_process_group(image_folder, tmp_path):
    """tools/mmagic/train.py as a launcher's rank (here of 1) destroys its
    gloo group before it returns: one left to the interpreter's exit can
    abort a rank (SIGABRT) after its training is done."""
    code = ('import sys, torch.distributed as dist\n'
            "sys.path.insert(0, 'tools/mmagic')\n"
            'from train import main\n'
            'status = main(sys.argv[1:])\n'
            "print('group left behind:', dist.is_initialized())\n"
            'sys.exit(status)\n')
    env = dict(os.environ, RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
               MASTER_ADDR='127.0.0.1', MASTER_PORT='29533')
    done = run([sys.executable, '-c', code, DCGAN, '--launcher', 'pytorch',
                '--work-dir', str(tmp_path)] + small_run(image_folder, 2),
               env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / 'iter_2.pth').exists()
    assert 'group left behind: False' in done.stdout, done.stdout[-2000:]


def test_bad_adv_cfg_is_refused_before_anything_is_written(tmp_path):
    work_dir = tmp_path / 'run'
    done = run([sys.executable, str(TOOLS / 'train.py'), DCGAN,
                '--work-dir', str(work_dir), '--cfg-options',
                'model.adv_cfg.epss=2'])
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(
        'error: model.adv_cfg.epss is not an option of ASGAN')
    assert not work_dir.exists()


def test_amp_makes_both_optimizers_amp(monkeypatch):
    """--amp reaches G's and D's wrappers under MMagic's per-model
    constructor (whose entries carry no ``type``)."""
    monkeypatch.syspath_prepend(str(TOOLS))
    import train as mmagic_train
    cfg = mmagic_train.load_config(mmagic_train.parse_args([DCGAN, '--amp']))
    for name in ('generator', 'discriminator'):
        assert cfg.optim_wrapper[name].type == 'AmpOptimWrapper'
        assert cfg.optim_wrapper[name].loss_scale == 'dynamic'
