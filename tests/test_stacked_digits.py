"""Stacked digits: the dataset, the classifier metrics, the benchmark."""
import importlib.util
import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mmgen_adv.evidence.datasets.digits import (load_digits_images,
                                                split_indices)
from mmgen_adv.evidence.datasets.stacked_digits import (StackedDigitsDataset,
                                                        mode_of)
from mmgen_adv.evidence.digits.classifier import (RECIPE, cache_key,
                                                  held_out_accuracy,
                                                  train_classifier)
from mmgen_adv.evidence.metrics import (StackedDigits, load_classifier,
                                        mode_statistics)

from conftest import ROOT, run_tool


@pytest.fixture(scope='module')
def metric():
    return StackedDigits(num_images=10000, num_real=2000)


def test_dataset_is_deterministic_and_stacks_its_digits():
    a = StackedDigitsDataset(num_images=50, seed=3)
    b = StackedDigitsDataset(num_images=50, seed=3)
    c = StackedDigitsDataset(num_images=50, seed=4)
    assert np.array_equal(a.stacks, b.stacks)
    assert not np.array_equal(a.stacks, c.stacks)
    images, labels = load_digits_images(32)
    for i in range(50):
        img = a[i]['real_img']
        assert img.shape == (3, 32, 32)
        for channel in range(3):
            digit = images[a.stacks[i, channel]]
            expected = torch.from_numpy(digit).float() / 127.5 - 1
            assert torch.equal(img[channel], expected)
        assert a.modes[i] == 100 * labels[a.stacks[i, 0]] + \
            10 * labels[a.stacks[i, 1]] + labels[a.stacks[i, 2]]
    labelled = StackedDigitsDataset(num_images=5, with_label=True,
                                    img_key='img')
    assert labelled[2]['gt_label'].item() == labelled.modes[2]


def test_train_and_test_stacks_use_disjoint_digits():
    _, labels = load_digits_images(8)
    train = StackedDigitsDataset(num_images=3000, split='train')
    test = StackedDigitsDataset(num_images=3000, split='test')
    train_pool = set(split_indices(labels, 'train'))
    test_pool = set(split_indices(labels, 'test'))
    assert set(train.stacks.ravel()) <= train_pool
    assert set(test.stacks.ravel()) <= test_pool
    assert not set(train.stacks.ravel()) & set(test.stacks.ravel())
    assert len(set(test.modes)) > 900  # the held-out digits cover the modes


def test_classifier_is_accurate_and_cached(tmp_path):
    net, accuracy = load_classifier()
    assert accuracy >= 0.97
    assert held_out_accuracy(net) == accuracy  # the figure is the net's
    # a cache entry under the content hash is read, not retrained: plant
    # one with a marker accuracy in a fresh cache folder
    name = f'digit_classifier_{cache_key()}.pth'
    torch.save(dict(state_dict=net.state_dict(), held_out_accuracy=0.125),
               tmp_path / name)
    again, marker = load_classifier(tmp_path)
    assert marker == 0.125
    for a, b in zip(net.parameters(), again.parameters()):
        assert torch.equal(a, b)
    # a damaged cache entry is named in one line, not retrained over
    data = (tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(data[:len(data) // 2])
    from mmgen_adv.runs.checkpoints import CheckpointError
    with pytest.raises(CheckpointError, match=r"cached digit classifier "
                       r"\(delete it to train it again\) '.*' cannot be "
                       'used: it is truncated'):
        load_classifier(tmp_path)


def test_classifier_weights_do_not_depend_on_the_threads(monkeypatch):
    """The classifier trains on a fixed number of threads, so every metric
    read through it is the same on a machine with other cores."""
    monkeypatch.setitem(RECIPE, 'epochs', 1)
    before = torch.get_num_threads()
    nets = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        nets.append(train_classifier()[0])
        assert torch.get_num_threads() == threads  # and put back
    torch.set_num_threads(before)
    for a, b in zip(*(net.state_dict().values() for net in nets)):
        assert torch.equal(a, b)


def test_modes_of_stacks_are_read_back(metric):
    """By construction each stack's mode is known: the classifier reads it
    back for nearly all of them."""
    data = StackedDigitsDataset(num_images=1000, split='test', seed=7)
    images = torch.stack([data[i]['real_img'] for i in range(len(data))])
    modes, feats = metric.describe(images)
    assert feats.shape == (1000, 3 * 128)
    assert (modes.numpy() == data.modes).mean() > 0.9


def test_held_out_real_stacks_score_ideal(metric):
    data = StackedDigitsDataset(num_images=10000, split='test', seed=11)
    metric.clear()
    for start in range(0, 10000, 1000):
        batch = torch.stack(
            [data[i]['real_img'] for i in range(start, start + 1000)])
        metric.feed(batch, 'fakes')
    result = metric.summary()
    assert result['modes'] >= 990
    assert result['kl'] < 0.1
    assert result['fd'] < 5.0
    assert metric.result_str.startswith('modes ')
    # the classifier's own quality is reported beside its verdicts
    accuracy = metric.scorer.classifier_accuracy
    assert f'{accuracy:.1%} held-out' in metric.result_str


# one repeated image has a zero covariance: the toolbox's matrix square root
# says so, expectedly
@pytest.mark.filterwarnings('ignore:Matrix is singular')
@pytest.mark.filterwarnings('ignore:invalid value encountered')
def test_a_collapsed_generator_covers_one_mode(metric):
    data = StackedDigitsDataset(num_images=1, split='test', seed=5)
    one = data[0]['real_img']
    metric.clear()
    metric.feed(one.expand(10000, -1, -1, -1).clone(), 'fakes')
    result = metric.summary()
    assert result['modes'] == 1
    assert result['kl'] == pytest.approx(math.log(1000), rel=1e-6)
    assert result['fd'] > 50


def test_mode_statistics():
    assert mode_statistics(np.arange(1000)) == (1000, pytest.approx(0.0))
    covered, kl = mode_statistics(np.array([5, 5, 6, 6]))
    assert covered == 2 and kl == pytest.approx(math.log(500))
    assert mode_of([[1, 2, 3], [9, 0, 0]]).tolist() == [123, 900]


def test_benchmark_quick_runs_end_to_end(tmp_path):
    result = run_tool('benchmark_quality.py', '--quick', '--jobs', 2,
                      '--work-dir', tmp_path)
    assert '| base | ' in result.stdout and '| dat | ' in result.stdout
    assert 'dat vs base, modes (of 1000): ' in result.stdout
    data = json.loads((tmp_path / 'results_dcgan.json').read_text())
    for method in ('base', 'dat'):
        runs = data['curves'][method]
        assert [[it for it, _ in run] for run in runs] == [[20, 40]] * 2
        entry = data['results'][method]
        finals = [run[-1][1]['modes'] for run in runs]
        assert entry['modes']['values'] == finals
        assert entry['modes']['mean_std'][0] == pytest.approx(
            sum(finals) / 2)
        assert all(1 <= m <= 1000 for m in finals)
        assert all(s > 0 for s in entry['seconds'])
    # the paired comparison is of the same seeds' final values
    comparison = data['results']['dat']['fd']['vs_base']
    base_fd = data['results']['base']['fd']['values']
    dat_fd = data['results']['dat']['fd']['values']
    assert comparison['diffs'] == pytest.approx(
        [d - b for d, b in zip(dat_fd, base_fd)])
    assert comparison['low'] <= comparison['mean'] <= comparison['high']
    assert (tmp_path / 'metrics_dcgan.png').stat().st_size > 10000
    # runs live per arch, method and seed; each run's config is kept
    config = (tmp_path / 'dcgan' / 'dat' / 'seed1' / 'config.py').read_text()
    assert "adv_cfg=dict(type='DAT'" in config
    # a second call reuses the finished runs
    again = run_tool('benchmark_quality.py', '--quick', '--work-dir',
                     tmp_path)
    assert again.stdout.count('reusing finished run') == 4
    # what determines the numbers is written beside them
    env = data['environment']
    assert env['threads_per_run'] == 1 and env['deterministic'] is True
    assert env['versions']['torch'] == torch.__version__
    assert env['versions']['mmgen'] == '0.7.3' and env['commit']
    assert env['trained_at'] == [env['commit']]  # trained here, just now
    assert 'thread(s) per run, deterministic True' in result.stdout
    # ... and nothing of where this machine kept the runs
    assert 'work_dir' not in data['settings']
    assert str(tmp_path) not in json.dumps(data)
    # --jobs changes how fast a run trains, never its numbers: the same run
    # alone (--jobs 1, so all cores free) gives the same curve to the bit
    alone = tmp_path / 'alone'
    run_tool('benchmark_quality.py', '--methods', 'base', '--seeds', 1,
             '--iters', 40, '--evals', 2, '--num-images', 1000, '--jobs', 1,
             '--work-dir', alone)
    alone_data = json.loads((alone / 'results_dcgan.json').read_text())
    assert alone_data['curves']['base'][0] == data['curves']['base'][1]
    # a run folder trained with other threads is refused, not continued
    refused = run_tool('benchmark_quality.py', '--methods', 'base',
                       '--seeds', 1, '--iters', 40, '--evals', 2,
                       '--num-images', 1000, '--threads', 2,
                       '--work-dir', alone, check=False)
    assert refused.returncode == 2
    assert 'holds a run with other settings' in refused.stderr


def test_ssgan_dat_is_also_paired_with_ssgan(monkeypatch):
    """The DAT paper's claim for SSGAN + DAT is over SSGAN: the study pairs
    it with SSGAN as well as with the base model, seed by seed, whatever
    order the methods were given in."""
    spec = importlib.util.spec_from_file_location(
        'benchmark_quality', ROOT / 'tools/benchmark_quality.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    fd = {'base': [30.0, 32.0, 31.0], 'ssgan': [28.0, 29.0, 30.0],
          'ssgan_dat': [27.0, 30.0, 26.0], 'dat': [29.0, 31.0, 30.5]}

    class FinishedRun:
        def __init__(self, method, seed):
            self.path = Path(method) / str(seed)

        def timing(self):
            return {'train': 60.0}

    def evaluations(train_dir):
        method, seed = train_dir.parts[:2]
        value = fd[method][int(seed)]
        return [(4, dict(modes=900 - value, kl=value / 100, fd=value))]

    monkeypatch.setattr(tool, 'evaluations', evaluations)
    args = SimpleNamespace(methods=['ssgan_dat', 'dat', 'ssgan', 'base'],
                           seeds=[0, 1, 2], study='sngan', iters=4,
                           num_images=10, device='cpu', added={},
                           host='mmgen')
    runs = {(m, s): FinishedRun(m, s) for m in fd for s in args.seeds}
    results = tool.summarise(args, runs)
    assert list(results) == args.methods
    ssgan_dat = results['ssgan_dat']['fd']
    assert ssgan_dat['vs_ssgan']['diffs'] == [-1.0, 1.0, -4.0]
    assert ssgan_dat['vs_ssgan']['wins'] == 2  # lower FD is better
    assert ssgan_dat['vs_base']['diffs'] == [-3.0, -2.0, -5.0]
    assert 'vs_ssgan' not in results['dat']['fd']
    assert 'vs_base' not in results['base']['fd']
    env = dict(versions=dict(torch='x'), device='cpu', cpu='a cpu',
               threads_per_run=1, deterministic=True, commit='abc',
               digit_classifier=dict(cache_key='0123', held_out_accuracy=0.5))
    text = tool.markdown(args, results, env)
    assert 'Determined by: cpu (a cpu), 1 thread(s) per run' in text
    assert '| ssgan_dat - ssgan | ' in text and '| dat - base | ' in text
    assert 'ssgan_dat vs ssgan, classifier FD: ' in text
    # without SSGAN in the study, SSGAN + DAT is paired with the base only
    args.methods = ['base', 'ssgan_dat']
    results = tool.summarise(args, runs)
    assert 'vs_ssgan' not in results['ssgan_dat']['fd']


@pytest.mark.cuda
def test_benchmark_trains_its_runs_on_the_gpu(tmp_path):
    """--device cuda: two runs side by side on the GPU, CPU-sized."""
    run_tool('benchmark_quality.py', '--device', 'cuda', '--methods', 'base',
             'dat', '--seeds', 0, '--iters', 4, '--evals', 2,
             '--num-images', 200, '--jobs', 2, '--work-dir', tmp_path,
             device='cuda')
    for method in ('base', 'dat'):
        out = (tmp_path / 'dcgan' / method / 'seed0' / 'train.out')
        assert 'CUDA available: True' in out.read_text()
    data = json.loads((tmp_path / 'results_dcgan.json').read_text())
    assert data['settings']['device'] == 'cuda'
    assert [it for it, _ in data['curves']['dat'][0]] == [2, 4]


def test_benchmark_continues_an_interrupted_run(tmp_path):
    """A run stopped after its first evaluation continues from that
    checkpoint: the study finishes it without starting over, with the
    result of an uninterrupted run."""
    args = ['--methods', 'base', '--seeds', 0, '--iters', 4, '--evals', 2,
            '--num-images', 200, '--work-dir', tmp_path]
    run_tool('benchmark_quality.py', *args)
    final = json.loads((tmp_path / 'results_dcgan.json').read_text())
    # the same run, stopped at iteration 2, as a kill would leave it
    run = tmp_path / 'dcgan' / 'base' / 'seed0'
    train = run / 'train'
    shutil.rmtree(train)
    # as the study trains it: one thread, deterministic
    run_tool('train.py', run / 'config.py', '--work-dir', train, '--seed', 0,
             '--deterministic', '--cfg-options', 'total_iters=2', threads=1)
    ckpts = train / 'ckpt' / 'train'
    assert sorted(p.name for p in ckpts.glob('iter_*.pth')) == ['iter_2.pth']
    result = run_tool('benchmark_quality.py', *args)
    assert 'reusing finished run' not in result.stdout
    out = (run / 'train.out').read_text()
    assert f"auto-resume: resuming from {ckpts / 'iter_2.pth'}" in out
    # the second sitting trained iterations 3-4 only, and evaluated at 4
    newest = sorted(train.glob('*.log.json'))[-1].read_text().splitlines()
    iters = [json.loads(line)['iter'] for line in newest
             if 'iter' in json.loads(line)]
    assert iters and min(iters) > 2 and max(iters) == 4
    again = json.loads((tmp_path / 'results_dcgan.json').read_text())
    assert again['curves'] == final['curves']


def test_eps_study_plots_the_curve(tmp_path):
    args = ['--study', 'eps', '--methods', 'base', 'asgan_eps0', 'asgan',
            'asgan_gaussian', '--seeds', 0, '--iters', 2, '--evals', 1,
            '--num-images', 200, '--jobs', 2, '--work-dir', tmp_path]
    result = run_tool('benchmark_quality.py', *args)
    assert 'asgan_eps0 vs base' in result.stdout
    assert (tmp_path / 'eps.png').stat().st_size > 10000
    data = json.loads((tmp_path / 'results_eps.json').read_text())
    assert list(data['results']) == ['base', 'asgan_eps0', 'asgan',
                                     'asgan_gaussian']
    # eps 0 is the paper's two-step point, not the base model
    config = (tmp_path / 'dcgan' / 'asgan_eps0' / 'seed0' /
              'config.py').read_text()
    assert "type='ASGAN', eps=0.0" in config


@pytest.mark.parametrize('args, message', [
    (['--iters', 100, '--evals', 3], '--evals must be >= 1 and divide '
     '--iters; got --iters 100, --evals 3'),
    (['--study', 'dcgan', '--methods', 'base', 'ssgan'], "--methods: ssgan "
     "is not in the dcgan study; choose from ['base', 'asgan', 'dat']"),
    (['--methods', 'dat'], '--methods must include base: every method is '
     'compared with it'),
    (['--seeds', 1, 1], '--seeds repeats a seed: [1, 1]'),
    (['--jobs', 0], '--jobs must be >= 1, got 0'),
    (['--threads', 0], '--threads must be >= 1, got 0'),
    (['--iters', 0], '--iters must be >= 1, got 0'),
])
def test_benchmark_refuses_bad_settings(tmp_path, args, message):
    result = run_tool('benchmark_quality.py', *args, '--work-dir', tmp_path,
                      check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f'error: {message}'
    assert not list(tmp_path.iterdir())  # nothing was started


def test_evaluation_tool_computes_the_metrics(tmp_path):
    config = str(ROOT / 'configs/stacked_digits/dcgan.py')
    options = ['--cfg-options', 'total_iters=2', 'data.samples_per_gpu=8']
    run_tool('train.py', config, '--work-dir', tmp_path, '--no-validate',
             *options)
    ckpt = tmp_path / 'ckpt' / tmp_path.name / 'latest.pth'
    run_tool('evaluation.py', config, ckpt, '--eval', 'stacked_digits',
             '--num-samples', 500, '--batch-size', 100)
    results = json.loads((tmp_path / 'ckpt' / tmp_path.name /
                          'latest_eval.json').read_text())
    metrics = results['metrics']['StackedDigits']
    assert 1 <= metrics['modes'] <= 500 and metrics['fd'] > 0
    assert 0 <= metrics['kl'] <= math.log(1000) + 1e-6
