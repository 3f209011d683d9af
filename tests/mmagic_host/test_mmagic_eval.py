"""Evaluation on the MMagic host (tools/mmagic/test.py, dist_test.sh): a
DCGAN trained 2 iterations through tools/mmagic/train.py, scored by MMagic's
own FID and IS on the TorchScript Inception stand-in (through MMagic's
loading of ``inception_path``, offline), and checkpoints of another model,
missing or corrupt ones, refused in one line before anything is written."""
import importlib.util
import json
import math
import os
import pickle
import re
import subprocess
import sys

import pytest
import torch

REASON = ('MMagic tier: runs in the MMagic environment (./setup.sh --host '
          'mmagic; .venv-mmagic/bin/python -m pytest tests -m mmagic)')
pytest.importorskip('mmagic', reason=REASON)
pytestmark = pytest.mark.mmagic

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import mmgen_adv.mmagic  # noqa: E402,F401  (first: compat)
from mmagic.models import DataPreprocessor  # noqa: E402
from mmagic.registry import DATASETS, METRICS, MODELS  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from conftest import ROOT  # noqa: E402
from inception_standin import save_standin  # noqa: E402
from mmgen_adv.errors import EXIT_INPUT_ERROR  # noqa: E402
from mmgen_adv.mmagic.evaluation import check_checkpoint_fits  # noqa: E402
from mmgen_adv.runs.checkpoints import CheckpointError  # noqa: E402
from test_mmagic_tools import small_run  # noqa: E402

TOOLS = ROOT / 'tools' / 'mmagic'
DCGAN = 'configs/mmagic/asgan/dcgan_celeba-cropped_64.py'
NUM_IMAGES = 48  # more than the stand-in's 16 features: full-rank statistics
FAKES = 32
# MMagic's FID and IS with their real loading path, the file given by
# --cfg-options (without it they would download the StyleGAN Inception)
EVAL_CONFIG = f"""_base_ = {str(ROOT / DCGAN)!r}
test_evaluator = dict(_delete_=True, type='Evaluator', metrics=[
    dict(type='FID', prefix='FID-{FAKES}', fake_nums={FAKES},
         sample_model='orig'),
    dict(type='IS', prefix='IS-{FAKES}', fake_nums={FAKES}, splits=2,
         sample_model='orig')])
"""
# any download fails at once (a refused local port), never hangs
OFFLINE = {name: 'http://127.0.0.1:9' for name in (
    'http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY')}


def run(args, **env):
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, **OFFLINE, 'NO_PROXY': '', 'no_proxy': '',
             'OMP_NUM_THREADS': '1', **env})


def small_eval(data_root, standin, inception_pkl):
    """cfg-options evaluating the model of ``small_run`` on ``data_root``
    with the stand-in; the real statistics go to ``inception_pkl``."""
    return [
        '--cfg-options', f'test_dataloader.dataset.data_root={data_root}',
        'test_dataloader.batch_size=8', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'model.generator.base_channels=64',
        'model.discriminator.base_channels=16', 'custom_hooks=[]',
        'randomness.seed=0',
        f'test_evaluator.metrics.0.inception_path={standin}',
        f'test_evaluator.metrics.0.inception_pkl={inception_pkl}',
        f'test_evaluator.metrics.1.inception_path={standin}']


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Images, the stand-in, the evaluation config and a 2-iteration DCGAN
    checkpoint (shared by the tests of this module)."""
    root = tmp_path_factory.mktemp('eval')
    images = root / 'images'
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(NUM_IMAGES):
        cv2.imwrite(str(images / f'{i:02d}.png'),
                    rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    config = root / 'dcgan_fid_is.py'
    config.write_text(EVAL_CONFIG)
    train = run([sys.executable, str(TOOLS / 'train.py'), DCGAN,
                 '--work-dir', str(root / 'train')] + small_run(images, 2))
    assert train.returncode == 0, train.stderr[-3000:]
    return dict(root=root, images=images, config=config,
                standin=save_standin(root / 'standin.pt'),
                checkpoint=root / 'train' / 'iter_2.pth')


@pytest.fixture(scope='module')
def evaluated(setup):
    work_dir = setup['root'] / 'test'
    out, pkl = work_dir / 'metrics.json', setup['root'] / 'real_1.pkl'
    done = run([sys.executable, str(TOOLS / 'test.py'), str(setup['config']),
                str(setup['checkpoint']), '--work-dir', str(work_dir),
                '--out', str(out)] +
               small_eval(setup['images'], setup['standin'], pkl))
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(done=done, work_dir=work_dir, out=out, pkl=pkl)


def test_fid_and_is_run_offline_on_the_standin(evaluated):
    done = evaluated['done']
    assert 'download' not in (done.stdout + done.stderr).lower()
    metrics = json.loads(evaluated['out'].read_text())
    # where mmengine's LoggerHook writes them: <work dir>/<timestamp>/
    logged = [json.loads(line) for path in
              evaluated['work_dir'].glob('*/*.json')
              for line in path.read_text().splitlines()]
    assert logged and {k: logged[-1][k] for k in metrics} == metrics
    fid, inception_score = metrics[f'FID-{FAKES}/fid'], \
        metrics[f'IS-{FAKES}/is']
    assert math.isfinite(fid) and fid > 0
    # IS lies between 1 and the classifier's number of classes (10)
    assert math.isfinite(inception_score)
    assert 1 - 1e-6 <= inception_score <= 10
    with open(evaluated['pkl'], 'rb') as f:
        real = pickle.load(f)
    assert real['real_mean'].shape == (16,)  # the stand-in's features


def real_set_metric(setup, inception_pkl):
    """MMagic's FID built from the stand-in, its real statistics prepared
    (in process) on the images of ``setup`` by MMagic's own code."""
    cfg = Config.fromfile(setup['config'])
    with DefaultScope.overwrite_default_scope('mmagic'):
        dataset = DATASETS.build(
            dict(cfg.test_dataloader.dataset, data_root=str(setup['images'])))
        metric = METRICS.build(dict(
            type='FID', fake_nums=NUM_IMAGES, sample_model='orig',
            inception_path=setup['standin'], inception_pkl=inception_pkl))
    module = torch.nn.Module()
    module.data_preprocessor = DataPreprocessor()
    loader = DataLoader(dataset, batch_size=8, collate_fn=pseudo_collate)
    metric.prepare(module, loader)
    return metric, module, loader


def test_fid_of_the_real_set_against_itself(setup, evaluated, tmp_path):
    metric, module, loader = real_set_metric(setup, str(tmp_path / 'r.pkl'))
    # the tool's run scored against the same real statistics
    with open(evaluated['pkl'], 'rb') as f:
        from_tool = pickle.load(f)
    np.testing.assert_allclose(from_tool['real_mean'], metric.real_mean,
                               rtol=1e-5, atol=1e-7)
    with torch.no_grad():  # as MMagic's test loop runs the metrics
        for batch in loader:
            reals = module.data_preprocessor(batch,
                                             False)['data_samples'].gt_img
            metric.process(batch, [dict(fake_img=img) for img in reals])
    fid = metric.compute_metrics(metric.fake_results)['fid']
    tool_fid = json.loads(evaluated['out'].read_text())[f'FID-{FAKES}/fid']
    assert abs(fid) < 1e-3 * tool_fid


def test_two_rank_gloo_evaluation_gathers_the_same_statistics(
        setup, evaluated):
    pkl = setup['root'] / 'real_2.pkl'
    done = run(['bash', str(TOOLS / 'dist_test.sh'), str(setup['config']),
                str(setup['checkpoint']), '2', '--work-dir',
                str(setup['root'] / 'test2')] +
               small_eval(setup['images'], setup['standin'], pkl),
               PYTHON=sys.executable, PORT='29541')
    assert done.returncode == 0, done.stderr[-3000:]
    with open(pkl, 'rb') as f, open(evaluated['pkl'], 'rb') as g:
        two_ranks, one = pickle.load(f), pickle.load(g)
    for key in ('real_mean', 'real_cov'):
        np.testing.assert_allclose(two_ranks[key], one[key], rtol=1e-4,
                                   atol=1e-8)


def tiny_sngan_checkpoint(path):
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(dict(
            type='SNGAN', noise_size=8, num_classes=10,
            data_preprocessor=DataPreprocessor(),
            generator=dict(type='SNGANGenerator', output_scale=32,
                           base_channels=16, noise_size=8),
            discriminator=dict(type='ProjDiscriminator', input_scale=32,
                               base_channels=16)))
    torch.save(dict(meta=dict(iter=2), state_dict=model.state_dict()), path)
    return path


def test_checkpoint_of_another_model_is_refused_before_writing(
        setup, tmp_path):
    checkpoint = tiny_sngan_checkpoint(tmp_path / 'sngan.pth')
    work_dir = tmp_path / 'run'
    done = run([sys.executable, str(TOOLS / 'test.py'), str(setup['config']),
                str(checkpoint), '--work-dir', str(work_dir)] +
               small_eval(setup['images'], setup['standin'],
                          tmp_path / 'r.pkl'))
    assert done.returncode == EXIT_INPUT_ERROR, done.stderr[-3000:]
    assert 'Traceback' not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(
        f"error: checkpoint '{checkpoint}' does not fit the model of "
        f"'{setup['config']}' (AdvDCGAN): 'generator.")
    assert 'is in the model but not in the checkpoint; ' in line
    assert 'is in the checkpoint but not in the model; ' in line
    counts = re.search(r'\((\d+) differences: (\d+) missing, (\d+) '
                       r'unexpected; the model has \d+ tensors, the '
                       r'checkpoint (\d+)\)$', line)
    total, missing, unexpected, in_file = map(int, counts.groups())
    assert total == missing + unexpected
    assert in_file == len(torch.load(checkpoint)['state_dict'])
    assert not work_dir.exists() and not (tmp_path / 'r.pkl').exists()


def small_dcgan_cfg(**model):
    cfg = Config.fromfile(ROOT / DCGAN)
    cfg.merge_from_dict({'model.generator.base_channels': 64,
                         'model.discriminator.base_channels': 16, **model})
    return cfg


def test_another_width_and_a_missing_ema_generator_are_refused(
        setup, tmp_path):
    with pytest.raises(CheckpointError, match=(
            r"'generator\.noise2feat\.conv\.weight' is \(100, 64, 4, 4\) in "
            r'the checkpoint and \(100, 1024, 4, 4\) in the model; .* '
            r'differences: \d+ of another shape;')):
        check_checkpoint_fits(Config.fromfile(ROOT / DCGAN),
                              str(setup['checkpoint']), DCGAN)
    # the EMA generator is part of the model; a run's weights without it
    # would leave it untrained
    cfg = small_dcgan_cfg(**{'model.ema_config': dict(momentum=0.001)})
    with DefaultScope.overwrite_default_scope('mmagic'):
        state = MODELS.build(cfg.model).state_dict()
    without_ema = {k: v for k, v in state.items()
                   if not k.startswith('generator_ema.')}
    torch.save(dict(state_dict=without_ema), tmp_path / 'no_ema.pth')
    with pytest.raises(CheckpointError,
                       match=r"'generator_ema\.steps' \(\) is in the model "
                       'but not in the checkpoint'):
        check_checkpoint_fits(cfg, str(tmp_path / 'no_ema.pth'), DCGAN)
    # a wrapped model's save: mmengine strips the prefix when loading
    torch.save(dict(state_dict={f'module.{k}': v for k, v in state.items()}),
               tmp_path / 'wrapped.pth')
    check_checkpoint_fits(cfg, str(tmp_path / 'wrapped.pth'), DCGAN)


@pytest.fixture
def tool():
    """tools/mmagic/test.py as a module (its name would clash with the
    standard library's ``test`` package)."""
    spec = importlib.util.spec_from_file_location('mmagic_test_tool',
                                                  TOOLS / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corrupt_and_missing_checkpoints_are_refused(setup, tmp_path, tool,
                                                     capsys):
    truncated = tmp_path / 'truncated.pth'
    data = setup['checkpoint'].read_bytes()
    truncated.write_bytes(data[:len(data) // 2])
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    cases = [(truncated, 'it is truncated or not a PyTorch file'),
             (empty, 'it is empty'),
             (tmp_path / 'absent.pth', 'does not exist')]
    for checkpoint, reason in cases:
        status = tool.main([str(setup['config']), str(checkpoint),
                            '--work-dir', str(tmp_path / 'run')])
        lines = capsys.readouterr().err.strip().splitlines()
        assert status == EXIT_INPUT_ERROR
        assert len(lines) == 1 and lines[0].startswith(
            f"error: checkpoint '{checkpoint}'") and reason in lines[0]
    assert not (tmp_path / 'run').exists()


def test_a_missing_inception_file_and_a_bad_out_are_refused(
        setup, tmp_path, tool, capsys):
    checkpoint = str(setup['checkpoint'])
    absent = tmp_path / 'inception-2015-12-05.pt'
    status = tool.main(
        [str(setup['config']), checkpoint, '--work-dir',
         str(tmp_path / 'run')] +
        small_eval(setup['images'], absent, tmp_path / 'r.pkl'))
    assert status == EXIT_INPUT_ERROR
    assert capsys.readouterr().err.strip() == (
        f"error: test_evaluator: FID's inception_path '{absent}' is not a "
        'file (a TorchScript Inception, e.g. inception-2015-12-05.pt)')
    status = tool.main([str(setup['config']), checkpoint, '--out',
                        str(tmp_path / 'metrics.txt')])
    assert status == EXIT_INPUT_ERROR
    assert '--out' in capsys.readouterr().err
    assert not (tmp_path / 'run').exists()
