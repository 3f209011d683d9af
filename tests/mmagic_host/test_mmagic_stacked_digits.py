"""Stacked digits on the MMagic host: its dataset gives the mmgen host's
stacks, its metric the mmgen metric's numbers for the same images (in
either channel order the model works in), and the config trains and
evaluates through tools/mmagic/train.py."""
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REASON = ('MMagic tier: runs in the MMagic environment (./setup.sh --host '
          'mmagic; .venv-mmagic/bin/python -m pytest tests -m mmagic)')
pytest.importorskip('mmagic', reason=REASON)
pytestmark = pytest.mark.mmagic

import numpy as np  # noqa: E402
import torch  # noqa: E402

import mmgen_adv.mmagic  # noqa: E402,F401  (first: compat)
from mmagic.models.data_preprocessors import DataPreprocessor  # noqa: E402
from mmagic.registry import MODELS  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

from conftest import ROOT  # noqa: E402
from mmgen_adv.evidence.digits.images import (  # noqa: E402
    load_digits_images)
from mmgen_adv.evidence.digits.stacks import (  # noqa: E402
    sample_stacks, stack_images)
from mmgen_adv.mmagic.stacked_digits import (StackedDigits,  # noqa: E402
                                             StackedDigitsDataset)

MMGEN_PYTHON = ROOT / '.venv' / 'bin' / 'python'
CONFIGS = ROOT / 'configs' / 'mmagic' / 'stacked_digits'
NUM_REAL = 2000  # held-out stacks behind the metric's Frechet distance

# the mmgen host's dataset and metric, in its own environment: the stacks
# of a seed, and the metric over the images in an .npz (uint8, NHWC)
MMGEN_SIDE = '''
import json, sys
import numpy as np, torch
import mmgen_adv
from mmgen_adv.evidence.datasets.stacked_digits import StackedDigitsDataset
from mmgen_adv.evidence.datasets.digits import to_model_input
from mmgen_adv.evidence.metrics import StackedDigits
data = StackedDigitsDataset(num_images=50, split='train', seed=3)
out = dict(stacks=data.stacks.tolist(), modes=data.modes.tolist(),
           first=torch.stack([data[i]['real_img'] for i in range(5)]).tolist())
if len(sys.argv) > 1:
    images = to_model_input(np.load(sys.argv[1])['images'])
    metric = StackedDigits(num_images=len(images), num_real=int(sys.argv[2]))
    for start in range(0, len(images), 64):
        metric.feed(images[start:start + 64], 'fakes')
    out['scores'] = metric.summary()
print(json.dumps(out))
'''


def subprocess_env(threads=1):
    """The environment of a subprocess: ``threads`` threads, no GPU, this
    tree."""
    return dict(os.environ, PYTHONPATH=str(ROOT),
                OMP_NUM_THREADS=str(threads), CUDA_VISIBLE_DEVICES='')


def mmgen_side(tmp_path, images_uint8=None):
    """The mmgen host's stacks (seed 3) and its metric over
    ``images_uint8`` (if given)."""
    if not MMGEN_PYTHON.exists():
        pytest.skip(f'{MMGEN_PYTHON} is missing: comparing with the mmgen '
                    'host needs its environment (./setup.sh)')
    args = []
    if images_uint8 is not None:
        args = [tmp_path / 'images.npz', NUM_REAL]
        np.savez(args[0], images=images_uint8)
    done = subprocess.run(
        [str(MMGEN_PYTHON), '-c', MMGEN_SIDE, *map(str, args)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        # this process's thread count: float reductions in the same order
        env=subprocess_env(torch.get_num_threads()))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def held_out_stacks(num, seed, noisy=0):
    """``num`` held-out real stacks (uint8, NHWC); the last ``noisy`` of
    them with integer noise, so they are images no real stack is, yet the
    same numbers in [0, 255] and in [-1, 1] on both hosts."""
    images, _ = load_digits_images(32)
    stacks = stack_images(images, sample_stacks('test', num, seed))
    if noisy:
        rng = np.random.RandomState(0)
        noise = rng.randint(-60, 61, size=stacks[-noisy:].shape)
        stacks[-noisy:] = np.clip(stacks[-noisy:] + noise, 0, 255)
    return stacks


def score(metric, images_uint8, model_order):
    """Evaluate ``metric`` as MMagic's val loop does on a model working in
    ``model_order`` that generated ``images_uint8`` (the stacks, RGB): the
    samples it gets are in that order and in [0, 255]."""
    module = SimpleNamespace(data_preprocessor=DataPreprocessor(
        output_channel_order=model_order))
    metric.prepare(module, None)
    fakes = torch.from_numpy(images_uint8).permute(0, 3, 1, 2).float()
    if model_order == 'BGR':
        fakes = fakes.flip(1)
    for start in range(0, len(fakes), 64):
        metric.process({}, [dict(fake_img=img, sample_model='orig')
                            for img in fakes[start:start + 64]])
    return metric.evaluate()


def test_dataset_gives_the_mmgen_stacks_as_gt_img(tmp_path):
    data = StackedDigitsDataset(num_images=50, split='train', seed=3)
    expected = mmgen_side(tmp_path)
    assert data.stacks.tolist() == expected['stacks']
    assert data.modes.tolist() == expected['modes']
    images, labels = load_digits_images(32)
    samples = [data[i] for i in range(50)]
    for i, sample in enumerate(samples):
        gt = sample['data_samples'].gt_img
        assert gt.dtype == torch.uint8 and gt.shape == (3, 32, 32)
        for channel in range(3):  # channel c is the stack's c-th digit
            assert torch.equal(
                gt[channel], torch.from_numpy(images[data.stacks[i, channel]]))
        assert data.modes[i] == 100 * labels[data.stacks[i, 0]] + \
            10 * labels[data.stacks[i, 1]] + labels[data.stacks[i, 2]]
    # the config's preprocessor: the mmgen sample, in BGR, in [-1, 1] as
    # (x - 127.5) / 127.5 (mmgen's x / 127.5 - 1 differs in the last bit)
    batch = DataPreprocessor(output_channel_order='BGR')(
        pseudo_collate(samples[:5]), training=True)
    torch.testing.assert_close(batch['data_samples'].gt_img.flip(1),
                               torch.tensor(expected['first']),
                               atol=1e-7, rtol=0)
    labelled = StackedDigitsDataset(num_images=5, with_label=True)
    assert labelled[2]['data_samples'].gt_label.label.item() == \
        labelled.modes[2]


def test_metric_gives_the_mmgen_metrics_numbers(tmp_path):
    """The same images, generated by a model working in BGR (the config's)
    and scored by each host's metric: the same numbers to the last bit."""
    images = held_out_stacks(3000, 11, noisy=1000)
    expected = mmgen_side(tmp_path, images)['scores']
    metric = StackedDigits(fake_nums=len(images), num_real=NUM_REAL)
    got = score(metric, images, 'BGR')
    assert got == {f'StackedDigits/{k}': v for k, v in expected.items()}
    assert 800 < expected['modes'] < 990  # the noisy ones count


def test_real_stacks_score_ideal_in_either_channel_order():
    """Held-out real stacks cover nearly every mode, close to uniform and
    to the real statistics, whichever order the model works in (read in
    the wrong order they would be other stacks: the same figures but for
    the Frechet distance's last digits)."""
    images = held_out_stacks(10000, 12)
    metric = StackedDigits(fake_nums=len(images), num_real=NUM_REAL)
    scores = [score(metric, images, order) for order in ('BGR', None)]
    assert scores[0] == scores[1]
    assert scores[0]['StackedDigits/modes'] >= 990
    assert scores[0]['StackedDigits/kl'] < 0.1
    assert scores[0]['StackedDigits/fd'] < 5.0


@pytest.mark.parametrize('name', ['dcgan', 'dcgan_asgan', 'dcgan_dat'])
def test_configs_build_the_mmgen_setting(name):
    cfg = Config.fromfile(CONFIGS / f'{name}.py')
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(cfg.model)
    adv = cfg.model.get('adv_cfg')
    assert (model.adv is None) == (adv is None)
    if adv is not None:
        assert type(model.adv).__name__ == adv.type and adv.eps == 1.0
    # configs/stacked_digits/dcgan.py's sizes, batch, budget, evaluation
    assert model.generator.noise_size == 100
    assert cfg.model.generator.base_channels == 128
    assert cfg.model.discriminator.base_channels == 64
    assert cfg.train_dataloader.batch_size == 64
    train = cfg.train_cfg
    assert (train.max_iters, train.val_interval) == (1500, 375)
    assert cfg.val_evaluator.metrics == [
        dict(type='StackedDigits', fake_nums=10000, sample_model='orig')]


def test_config_trains_and_evaluates_through_the_tool(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'mmagic' / 'train.py'),
         str(CONFIGS / 'dcgan_dat.py'), '--work-dir', str(tmp_path),
         '--cfg-options', 'train_cfg.max_iters=4', 'train_cfg.val_interval=2',
         'val_evaluator.metrics.0.fake_nums=200',
         f'val_evaluator.metrics.0.num_real={NUM_REAL}',
         'train_dataloader.batch_size=8', 'val_dataloader.batch_size=50',
         'train_dataloader.dataset.num_images=100',
         'default_hooks.checkpoint.interval=2',
         'default_hooks.logger.interval=1', 'randomness.seed=0'],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=subprocess_env())
    assert done.returncode == 0, done.stderr[-3000:]
    scalars = next(Path(tmp_path).glob('*/vis_data/scalars.json'))
    records = [json.loads(line) for line in scalars.read_text().splitlines()]
    evaluated = {r['step']: r for r in records if 'StackedDigits/fd' in r}
    assert sorted(evaluated) == [2, 4]
    for record in evaluated.values():
        assert 1 <= record['StackedDigits/modes'] <= 200
        assert 0 <= record['StackedDigits/kl'] <= np.log(1000) + 1e-6
        assert record['StackedDigits/fd'] > 0
    # DAT trained D on attacked reals and fakes
    trained = [r for r in records if 'loss_disc_adv_fake' in r]
    assert [r['step'] for r in trained] == [1, 2, 3, 4]
    assert (tmp_path / 'iter_4.pth').exists()


def results_file(settings, finals, iters=(2, )):
    """A study's results, as tools/benchmark_quality.py writes them: per
    method, one curve per seed ending at ``finals[method][i]`` (FD)."""
    curves, results = {}, {}
    for method, fds in finals.items():
        curves[method] = [[[it, dict(modes=500, kl=1.0, fd=fd)]
                           for it in iters] for fd in fds]
        results[method] = dict(fd=dict(
            values=fds, mean_std=[float(np.mean(fds)), float(np.std(fds))]))
        for metric, value in (('modes', 500), ('kl', 1.0)):
            results[method][metric] = dict(values=[value] * len(fds),
                                           mean_std=[value, 0.0])
    env = dict(versions=dict(torch='x'), device='cpu', cpu='a cpu',
               threads_per_run=1, deterministic=True, commit='abc')
    return dict(settings=settings, environment=env, results=results,
                curves=curves)


STUDY = dict(study='dcgan', arch='dcgan', iters=2, evals=1, num_images=200,
             device='cpu', threads=1, deterministic=True)


def test_host_comparison_pairs_runs_of_both_hosts():
    from mmgen_adv.errors import UserInputError
    from mmgen_adv.evidence.host_comparison import compare, markdown
    metrics = {'modes': ('modes (of 1000)', True, 1),
               'kl': ('KL to uniform', False, 3),
               'fd': ('classifier FD', False, 2)}
    mmgen = results_file(dict(STUDY, seeds=[0, 1, 2]),
                         {'base': [30.0, 40.0, 50.0], 'dat': [1.0] * 3})
    mmagic = results_file(dict(STUDY, seeds=[1]),
                          {'base': [45.0], 'asgan': [2.0]})
    comparison = compare(mmgen, mmagic, 'results_dcgan.json')
    # only what trained on both: base, seed 1
    assert list(comparison['curves']) == ['base']
    assert list(comparison['curves']['base']) == ['1']
    pair = comparison['curves']['base']['1']
    assert pair['mmgen'][-1][1]['fd'] == 40.0
    assert pair['mmagic'][-1][1]['fd'] == 45.0
    text = markdown(comparison, metrics)
    assert '| base | 1 | 2 | 500 | 500 | 1.000 | 1.000 | 40.00 | 45.00 |' \
        in text
    assert '+5.00 | 40.00 +- 8.16 (30.00 - 50.00)' in text  # vs 3 seeds
    assert '--methods base --seeds 1 --iters 2 --evals 1' in text
    with pytest.raises(UserInputError, match='the mmgen results have iters '
                       '2, these 4; compare the same study and budget'):
        compare(mmgen, results_file(dict(STUDY, iters=4, seeds=[1]),
                                    {'base': [1.0]}))
    with pytest.raises(UserInputError, match='no method and seed'):
        compare(mmgen, results_file(dict(STUDY, seeds=[7]), {'base': [1.0]}))


def benchmark(*args):
    if not MMGEN_PYTHON.exists():
        pytest.skip(f'{MMGEN_PYTHON} is missing: the study driver runs in '
                    'the mmgen environment (./setup.sh)')
    return subprocess.run(
        [str(MMGEN_PYTHON), str(ROOT / 'tools' / 'benchmark_quality.py'),
         '--host', 'mmagic', '--mmagic-python', sys.executable,
         *map(str, args)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env=subprocess_env())


def test_study_trains_on_mmagic_and_compares_with_mmgen(tmp_path):
    mmgen = tmp_path / 'results_dcgan.json'
    mmgen.write_text(json.dumps(results_file(
        dict(STUDY, methods=['base'], seeds=[0]), {'base': [900.0]})))
    args = ['--methods', 'base', '--seeds', 0, '--iters', 2, '--evals', 1,
            '--num-images', 200, '--work-dir', tmp_path,
            '--compare-with', mmgen]
    done = benchmark(*args)
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / 'mmagic' / 'dcgan' / 'base' / 'seed0'
    config = (run / 'config.py').read_text()
    assert 'randomness = dict(seed=0, deterministic=True)' in config
    assert 'configs/mmagic/stacked_digits/dcgan.py' in config
    data = json.loads((tmp_path / 'results_dcgan_mmagic.json').read_text())
    assert data['settings']['host'] == 'mmagic'
    assert data['environment']['versions']['mmagic'] == '1.2.0'
    [[(iteration, scores)]] = data['curves']['base']
    assert iteration == 2 and 1 <= scores['modes'] <= 200
    assert str(tmp_path) not in json.dumps(data)  # no machine paths
    hosts = json.loads((tmp_path / 'results_hosts.json').read_text())
    assert hosts['curves']['base']['0']['mmagic'] == [[2, scores]]
    assert hosts['curves']['base']['0']['mmgen'][0][1]['fd'] == 900.0
    assert (tmp_path / 'hosts_dcgan.png').stat().st_size > 10000
    assert '--compare-with results_dcgan.json' in \
        (tmp_path / 'results_hosts.md').read_text()
    assert 'reusing finished run' in benchmark(*args).stdout


@pytest.mark.parametrize('args, message', [
    (['--study', 'sngan', '--methods', 'base'], '--host mmagic: the sngan '
     'setting has no MMagic config yet (configs/mmagic/stacked_digits/'
     'sngan.py)'),
    (['--compare-with', 'nowhere.json'], "--compare-with 'nowhere.json' "
     'does not exist'),
])
def test_study_refuses_what_the_mmagic_host_cannot_run(tmp_path, args,
                                                       message):
    done = benchmark(*args, '--work-dir', tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f'error: {message}'
    assert not list(tmp_path.iterdir())
