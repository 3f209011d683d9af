"""The eps schedule and the robustness probe as mmengine hooks on the MMagic
host: the schedule gives the mmgen hook's values and drives the
regularizer (MMagic's own update while it is off, the scheduled eps after,
also after ``--resume``); the probe writes and logs its measurement and
leaves D, G and every random generator as they were; bad settings are
refused as on the mmgen host."""
import itertools
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

REASON = ('MMagic tier: runs in the MMagic environment (./setup.sh --host '
          'mmagic; .venv-mmagic/bin/python -m pytest tests -m mmagic)')
pytest.importorskip('mmagic', reason=REASON)
pytestmark = pytest.mark.mmagic

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import mmgen_adv.mmagic  # noqa: E402,F401  (first: compat)
from mmagic.registry import DATASETS, HOOKS  # noqa: E402
from mmagic.structures import DataSample  # noqa: E402
from mmengine import MessageHub  # noqa: E402
from mmengine.model import MMSeparateDistributedDataParallel  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmengine.visualization import Visualizer  # noqa: E402

from mmgen_adv.errors import ConfigError  # noqa: E402
from mmgen_adv.mmagic.hooks import (AdvEpsScheduleHook,  # noqa: E402
                                    DiscRobustnessProbeHook)
from mmgen_adv.random_state import capture_random_state  # noqa: E402

from conftest import ROOT  # noqa: E402
from cross_host_probe import MMGEN_PYTHON  # noqa: E402
from process_group import one_rank_group  # noqa: E402
from test_mmagic_host import (assert_same_parameters, batches,  # noqa: E402
                              dcgan, optim_wrappers, same_weights, sngan)
from test_mmagic_tools import TOOLS, DCGAN, run, small_run  # noqa: E402


RUNNERS = itertools.count()


def fake_runner(model, tmp_path=None, dataset=None, iteration=0,
                visualizer=None):
    """What the hooks read of mmengine's Runner (a message hub of its
    own)."""
    hub = MessageHub.get_instance(f'hooks-test-{next(RUNNERS)}')
    no_backends = SimpleNamespace(get_backend=lambda name: None)
    return SimpleNamespace(
        model=model, iter=iteration, message_hub=hub, work_dir=str(tmp_path),
        train_dataloader=SimpleNamespace(dataset=dataset),
        visualizer=visualizer or no_backends)


def logged(runner, key):
    return runner.message_hub.get_scalar(f'train/{key}').current()


# -- eps schedule ---------------------------------------------------------
SCHEDULES = [
    dict(start_iter=10, ramp_iters=20, target_eps=2.0),
    dict(start_iter=0, ramp_iters=10, target_eps=4.0, ramp='cosine'),
    dict(start_iter=3, ramp_iters=0, target_eps=1.0),
    dict(start_iter=2, ramp_iters=3, target_eps=3.0),
]
ITERATIONS = [0, 1, 2, 3, 4, 5, 9, 10, 11, 19, 29, 30, 1000]


def mmgen_schedule_values():
    """The mmgen hook's eps at ITERATIONS for every SCHEDULES entry, from
    the mmgen environment."""
    if not MMGEN_PYTHON.exists():
        pytest.skip(f'{MMGEN_PYTHON} is missing: comparing the hosts needs '
                    'the mmgen environment too (./setup.sh)')
    script = ('import json, sys\n'
              'from mmgen_adv.models.hooks import AdvEpsScheduleHook\n'
              'cases, its = json.loads(sys.argv[1])\n'
              'print(json.dumps([[AdvEpsScheduleHook(**c).eps_at(i) '
              'for i in its] for c in cases]))\n')
    done = subprocess.run(
        [str(MMGEN_PYTHON), '-c', script, json.dumps([SCHEDULES,
                                                      ITERATIONS])],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(PYTHONPATH=str(ROOT), PATH='/usr/bin:/bin'))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_schedule_values_are_the_mmgen_hooks():
    ours = [[AdvEpsScheduleHook(**c).eps_at(i) for i in ITERATIONS]
            for c in SCHEDULES]
    assert ours == mmgen_schedule_values()
    # and what they are: the first schedule's linear ramp, the step
    assert ours[0][:8] == [0.0] * 7 + [pytest.approx(0.1)]
    assert ours[0][-4:] == pytest.approx([1.0, 2.0, 2.0, 2.0])
    assert ours[2][:5] == [0, 0, 0, 1.0, 1.0]


def test_hooks_are_registered_in_mmagics_registry():
    assert HOOKS.get('AdvEpsScheduleHook') is AdvEpsScheduleHook
    assert HOOKS.get('DiscRobustnessProbeHook') is DiscRobustnessProbeHook
    hook = HOOKS.build(dict(type='AdvEpsScheduleHook', start_iter=4))
    assert hook.start_iter == 4


def test_schedule_drives_the_regularizer():
    model = dcgan('AdvDCGAN', adv_cfg=dict(type='ASGAN', eps=3.0))
    hook = AdvEpsScheduleHook(start_iter=2, ramp_iters=3)
    runner = fake_runner(model)
    hook.before_run(runner)
    assert hook.target_eps == 3.0  # from adv_cfg
    seen = []
    for it in range(6):
        runner.iter = it
        hook.before_train_iter(runner, it)
        seen.append((model.adv.eps, model.adv.active))
        assert logged(runner, 'adv_eps') == model.adv.eps
    assert [eps for eps, _ in seen] == pytest.approx([0, 0, 1, 2, 3, 3])
    assert [active for _, active in seen] == [False] * 2 + [True] * 4


def test_the_switched_off_phase_is_mmagics_update():
    """While the schedule holds the regularizer off the update is MMagic's
    own DCGAN's, bit for bit; from start_iter on, ASGAN's."""
    torch.manual_seed(0)
    reference = dcgan('DCGAN')
    model = dcgan('AdvDCGAN', adv_cfg=dict(type='ASGAN', eps=2.0))
    same_weights(reference, model)
    hook = AdvEpsScheduleHook(start_iter=2, ramp_iters=1)
    runner = fake_runner(model)
    hook.before_run(runner)
    wrappers = dict(reference=optim_wrappers(reference),
                    model=optim_wrappers(model))
    hub = MessageHub.get_current_instance()
    for it, data in enumerate(batches(3)):
        hub.update_info('iter', it)
        runner.iter = it
        hook.before_train_iter(runner, it)
        torch.manual_seed(it)
        log_ref = reference.train_step(data, wrappers['reference'])
        torch.manual_seed(it)
        log = model.train_step(data, wrappers['model'])
        if it < 2:
            assert model.adv.active is False
            assert log.keys() == log_ref.keys()
            assert all(log[k].item() == log_ref[k].item() for k in log)
            assert_same_parameters(reference, model)
    assert model.adv.eps == 2.0
    assert 'loss_disc_adv_real' in log and 0 < log['adv_delta_real'] <= 2.0
    assert any(not torch.equal(a, b) for a, b in zip(
        reference.discriminator.state_dict().values(),
        model.discriminator.state_dict().values()))


@pytest.mark.parametrize('kwargs, message', [
    (dict(ramp='exp'), r"AdvEpsScheduleHook.ramp must be one of "
     r"\['linear', 'cosine'\], got 'exp'"),
    (dict(start_iter=-1), 'AdvEpsScheduleHook.start_iter must be an int '
     '>= 0, got -1'),
    (dict(ramp_iters=2.5), 'AdvEpsScheduleHook.ramp_iters must be an int '
     '>= 0, got 2.5'),
    (dict(target_eps=-2), r'AdvEpsScheduleHook.target_eps must be in '
     r'\[0.0, 255.0\], got -2'),
])
def test_bad_schedule_is_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        AdvEpsScheduleHook(**kwargs)


def test_schedule_needs_an_attack_within_its_limit():
    with pytest.raises(ConfigError, match='needs a model trained with an '
                       r'attack in adv_cfg \(got DCGAN without one\)'):
        AdvEpsScheduleHook().before_run(fake_runner(dcgan('DCGAN')))
    paper = dcgan('AdvDCGAN', adv_cfg=dict(type='DAT', variant='paper'))
    with pytest.raises(ConfigError, match=r'target_eps=100.0 is above what '
                       r'DAT accepts \(64.0\)'):
        AdvEpsScheduleHook(target_eps=100.0).before_run(fake_runner(paper))


# -- robustness probe -----------------------------------------------------
@pytest.fixture(scope='module')
def image_dataset(tmp_path_factory):
    """Six 32 px images through MMagic's loading pipeline (BGR), with a
    random flip (NumPy's generator: the probe must restore it)."""
    root = tmp_path_factory.mktemp('probe_images')
    rng = np.random.default_rng(1)
    for i in range(6):
        cv2.imwrite(str(root / f'{i}.png'),
                    rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    with DefaultScope.overwrite_default_scope('mmagic'):
        return DATASETS.build(dict(
            type='BasicImageDataset', data_root=str(root),
            data_prefix=dict(gt=''),
            pipeline=[dict(type='LoadImageFromFile', key='gt'),
                      dict(type='Flip', keys='gt', flip_ratio=0.5),
                      dict(type='PackInputs')]))


def labelled_dataset(num, labelled=True):
    """``num`` 32 px samples as MMagic packs them, with class labels."""
    items = []
    for batch in batches(1, batch_size=num, seed=3):
        for sample in batch['data_samples']:
            if not labelled:
                sample = DataSample(gt_img=sample.gt_img)
            items.append(dict(inputs=dict(), data_samples=sample))
    return items


def state_of(module):
    """Everything a probe must not change: weights, buffers, gradients,
    each submodule's mode."""
    return (
        {k: v.clone() for k, v in module.state_dict().items()},
        [None if p.grad is None else p.grad.clone()
         for p in module.parameters()],
        [m.training for m in module.modules()])


def assert_same_state(before, after):
    assert before[0].keys() == after[0].keys()
    for key in before[0]:
        assert torch.equal(before[0][key], after[0][key]), key
    for a, b in zip(before[1], after[1]):  # gradients
        assert (a is None and b is None) or (
            a is not None and b is not None and torch.equal(a, b))
    assert before[2] == after[2]


def assert_same_random_state(before, after):
    assert before['python'] == after['python']
    assert all(np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
               for a, b in zip(before['numpy'], after['numpy']))
    assert torch.equal(before['torch'], after['torch'])


def probe_once(hook, runner, iteration):
    """The hook as the runner calls it after ``iteration`` (0-based)."""
    runner.iter = iteration
    hook.after_train_iter(runner, iteration)


def test_probe_writes_logs_and_leaves_training_untouched(image_dataset,
                                                         tmp_path):
    torch.manual_seed(0)
    model = dcgan('AdvDCGAN', adv_cfg=dict(type='DAT'))
    model.train()
    visualizer = Visualizer(
        name=f'probe-{tmp_path.name}', save_dir=str(tmp_path / 'vis'),
        vis_backends=[dict(type='TensorboardVisBackend')])
    runner = fake_runner(model, tmp_path, image_dataset,
                         visualizer=visualizer)
    hook = DiscRobustnessProbeHook(interval=2, num_images=4, max_steps=3,
                                   tol=1e-3)
    disc, gen = state_of(model.discriminator), state_of(model.generator)
    random_state = capture_random_state()

    probe_once(hook, runner, 0)  # takes the batch, does not probe
    assert not (tmp_path / 'robustness_probe').exists()
    probe_once(hook, runner, 1)  # iteration 2: probes

    assert_same_state(disc, state_of(model.discriminator))
    assert_same_state(gen, state_of(model.generator))
    assert_same_random_state(random_state, capture_random_state())
    out = tmp_path / 'robustness_probe'
    data = json.loads((out / 'iter_2.json').read_text())
    assert data['iter'] == 2
    for key in ('probe_xi_real', 'probe_xi_fake', 'probe_grad_l1',
                'probe_grad_sparsity'):
        assert logged(runner, key) == data[key], key
    for side in ('real', 'fake'):
        counts = data[f'xi_{side}_per_image']
        assert len(counts) == 4 and all(0 <= c <= 3 for c in counts)
        assert data[f'probe_xi_{side}'] == pytest.approx(np.mean(counts))
    assert data['probe_grad_l1'] > 0
    assert 0 <= data['probe_grad_sparsity'] <= 1
    assert sum(data['grad_histogram']['counts']) == 4 * 3 * 32 * 32
    # the reals above their gradient pictures, 32 px, 2 px padding; the
    # reals in RGB (PNG), so OpenCV reads back the BGR files as written
    # (or flipped)
    png = cv2.imread(str(out / 'iter_2.png'))
    assert png.shape == (2 * 34 + 2, 4 * 34 + 2, 3)
    first = cv2.imread(image_dataset.get_data_info(0)['gt_path'])
    assert any(np.array_equal(png[2:34, 2:34], image)
               for image in (first, first[:, ::-1]))
    # the gradient's histogram in TensorBoard
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    events = EventAccumulator(str(next((tmp_path / 'vis').rglob(
        'events.out.tfevents*')).parent))
    events.Reload()
    assert 'probe/input_gradient' in events.Tags()['histograms']


def test_probe_of_a_conditional_gan_through_either_call(tmp_path):
    """A conditional GAN is probed with the reals' labels and fixed fake
    labels; MMagic's own SNGAN (D called as MMagic calls it) measures what
    the host of AdvSNGAN measures with the same weights."""
    torch.manual_seed(0)
    reference, model = sngan('SNGAN'), sngan('AdvSNGAN',
                                             adv_cfg=dict(type='DAT'))
    same_weights(reference, model)
    results = []
    for name, gan in (('own', reference), ('adv', model)):
        hook = DiscRobustnessProbeHook(interval=1, num_images=4,
                                       max_steps=3, tol=1e-3,
                                       out_dir=name)
        probe_once(hook, fake_runner(gan, tmp_path, labelled_dataset(4)), 0)
        assert hook.fake_labels.shape == (4, )
        assert torch.equal(hook.real_labels,
                           torch.stack([s['data_samples'].gt_label.label
                                        for s in labelled_dataset(4)]
                                       ).view(-1))
        results.append(json.loads((tmp_path / name / 'iter_1.json')
                                  .read_text()))
    assert results[0] == results[1]


def test_probe_of_a_conditional_gan_needs_labels(tmp_path):
    hook = DiscRobustnessProbeHook(interval=1, num_images=2)
    runner = fake_runner(sngan('AdvSNGAN', adv_cfg=dict(type='DAT')),
                         tmp_path, labelled_dataset(2, labelled=False))
    with pytest.raises(ConfigError, match='the conditional AdvSNGAN needs '
                       "labelled data \\(samples with 'gt_label'\\)"):
        probe_once(hook, runner, 0)


def test_probe_needs_two_images(tmp_path):
    hook = DiscRobustnessProbeHook(interval=1)
    runner = fake_runner(dcgan('DCGAN'), tmp_path, labelled_dataset(1))
    with pytest.raises(ConfigError, match='DiscRobustnessProbeHook needs a '
                       'dataset of at least 2 images'):
        probe_once(hook, runner, 0)


@pytest.fixture
def process_group(tmp_path):
    """A one-rank gloo group, so mmengine's DDP wrappers can be built."""
    with one_rank_group(tmp_path):
        yield


def test_hooks_see_through_mmengines_ddp_wrappers(process_group, tmp_path):
    """Under MMSeparateDistributedDataParallel (runner.model and its G and D
    wrapped) the schedule finds the regularizer and the probe measures the
    bare D as without wrappers."""
    torch.manual_seed(0)
    bare = dcgan('AdvDCGAN', adv_cfg=dict(type='ASGAN', eps=2.0))
    model = dcgan('AdvDCGAN', adv_cfg=dict(type='ASGAN', eps=2.0))
    same_weights(bare, model)
    wrapped = MMSeparateDistributedDataParallel(model)
    assert type(model.discriminator).__name__ == 'MMDistributedDataParallel'
    schedule = AdvEpsScheduleHook(start_iter=1)
    runner = fake_runner(wrapped, tmp_path / 'wrapped', labelled_dataset(4))
    schedule.before_run(runner)
    schedule.before_train_iter(runner, 0)
    assert model.adv.active is False
    results = []
    for gan, work_dir in ((wrapped, 'wrapped'), (bare, 'bare')):
        hook = DiscRobustnessProbeHook(interval=1, num_images=4,
                                       max_steps=3, tol=1e-3)
        probe_once(hook, fake_runner(gan, tmp_path / work_dir,
                                     labelled_dataset(4)), 0)
        results.append(json.loads(
            (tmp_path / work_dir / 'robustness_probe/iter_1.json')
            .read_text()))
    assert results[0] == results[1]


@pytest.mark.parametrize('kwargs, message', [
    (dict(interval=0), 'DiscRobustnessProbeHook.interval must be an int '
     '>= 1, got 0'),
    (dict(num_images=1), 'DiscRobustnessProbeHook.num_images must be an int '
     '>= 2, got 1'),
    (dict(step_size=0), 'DiscRobustnessProbeHook.step_size must be > 0.0, '
     'got 0'),
    (dict(mode='test'), r"DiscRobustnessProbeHook.mode must be one of "
     r"\['eval', 'train'\], got 'test'"),
])
def test_bad_probe_settings_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        DiscRobustnessProbeHook(**kwargs)


# -- through tools/mmagic/train.py ------------------------------------------
SCHEDULE = "dict(type='AdvEpsScheduleHook', start_iter=1, ramp_iters=3)"
PROBE = ("dict(type='DiscRobustnessProbeHook', interval=2, num_images=4, "
         'max_steps=3, tol=1e-3)')


@pytest.fixture(scope='module')
def training_images(tmp_path_factory):
    root = tmp_path_factory.mktemp('train_images')
    rng = np.random.default_rng(0)
    for i in range(16):
        cv2.imwrite(str(root / f'{i:02d}.png'),
                    rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    return root


def train(tmp_path, name, hooks, images, iters, resume=False):
    """The DCGAN config (ASGAN, eps 1) with these hooks through
    tools/mmagic/train.py, shrunk to ``iters`` CPU iterations; returns the
    work dir."""
    config = tmp_path / f'{name}.py'
    config.write_text(f"_base_ = '{ROOT / DCGAN}'\n"
                      f"custom_hooks = [{', '.join(hooks)}]\n")
    work_dir = tmp_path / name
    options = [o for o in small_run(images, iters)
               if not o.startswith('custom_hooks=')]
    done = run([sys.executable, str(TOOLS / 'train.py'), str(config),
                '--work-dir', str(work_dir)] + (['--resume'] if resume
                                                else []) + options)
    assert done.returncode == 0, done.stderr[-3000:]
    return work_dir


def json_log(work_dir):
    """The logged records of every run in ``work_dir``, by iteration."""
    records = {}
    for log in sorted(Path(work_dir).glob('*/vis_data/2*.json')):
        for line in log.read_text().splitlines():
            record = json.loads(line)
            records[record['iter']] = record
    return records


def model_weights(work_dir, iteration):
    state = torch.load(Path(work_dir) / f'iter_{iteration}.pth',
                       map_location='cpu')['state_dict']
    return {k: v for k, v in state.items()
            if k.startswith(('generator', 'discriminator'))}


def assert_same_weights(a, b):
    assert a.keys() == b.keys() and a
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope='module')
def probed_run(training_images, tmp_path_factory):
    """4 iterations with the schedule and the probe."""
    return train(tmp_path_factory.mktemp('probed'), 'probed',
                 [SCHEDULE, PROBE], training_images, 4)


def test_schedule_through_train_py(probed_run):
    records = json_log(probed_run)
    assert sorted(records) == [1, 2, 3, 4]
    eps = [records[it]['adv_eps'] for it in (1, 2, 3, 4)]
    assert eps == pytest.approx([0, 1 / 3, 2 / 3, 1])
    # off: MMagic's update, no attack; then the attack uses the scheduled
    # eps (|delta| is eps where the image range allows)
    assert 'loss_disc_adv_real' not in records[1]
    for it in (2, 3, 4):
        assert 0 < records[it]['adv_delta_real'] <= records[it]['adv_eps']
    assert records[4]['adv_delta_real'] > 0.9


def test_probe_through_train_py(probed_run, training_images,
                                tmp_path_factory):
    records = json_log(probed_run)
    out = probed_run / 'robustness_probe'
    assert sorted(p.name for p in out.iterdir()) == [
        'iter_2.json', 'iter_2.png', 'iter_4.json', 'iter_4.png']
    assert 'probe_xi_real' not in records[1]
    for it in (2, 4):
        data = json.loads((out / f'iter_{it}.json').read_text())
        for key in ('probe_xi_real', 'probe_xi_fake', 'probe_grad_l1',
                    'probe_grad_sparsity'):
            assert records[it][key] == pytest.approx(data[key], abs=1e-12)
        assert cv2.imread(str(out / f'iter_{it}.png')).shape == (
            2 * 66 + 2, 4 * 66 + 2, 3)
    text = next(probed_run.glob('*/*.log')).read_text()
    assert 'probe_grad_l1' in text
    # a run without the probe trains the same weights and buffers
    plain = train(tmp_path_factory.mktemp('plain'), 'plain', [SCHEDULE],
                  training_images, 4)
    assert_same_weights(model_weights(probed_run, 4),
                        model_weights(plain, 4))


def test_resume_continues_on_the_schedule(probed_run, training_images,
                                          tmp_path):
    train(tmp_path, 'cut', [SCHEDULE, PROBE], training_images, 2)
    resumed = train(tmp_path, 'cut', [SCHEDULE, PROBE], training_images, 4,
                    resume=True)
    whole, records = json_log(probed_run), json_log(resumed)
    assert sorted(records) == [1, 2, 3, 4]
    for it in (3, 4):
        assert records[it]['adv_eps'] == whole[it]['adv_eps']
    assert records[3]['adv_eps'] == pytest.approx(2 / 3)
    assert_same_weights(model_weights(probed_run, 4),
                        model_weights(resumed, 4))
