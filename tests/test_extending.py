"""The guide's example regularizer (docs/examples/instance_noise.py): a
new regularizer in one file, registered by importing it, trains through
tools/train.py and is refused like the shipped ones."""
import importlib
import json
import sys

import pytest
import torch

from mmgen_adv.errors import ConfigError
from mmgen_adv.methods.attacks import gray_levels
from mmgen_adv.methods.regularizers import REGULARIZERS

from conftest import ROOT, run_tool
from gan_fixtures import build, dcgan, optimizers

EXAMPLES = ROOT / 'docs' / 'examples'


@pytest.fixture(scope='module', autouse=True)
def instance_noise():
    """Imported while this module's tests run, not at collection, so that
    other tests still see only the shipped regularizers."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield importlib.import_module('instance_noise')
    finally:
        REGULARIZERS.module_dict.pop('InstanceNoise', None)
        sys.modules.pop('instance_noise', None)
        sys.path.remove(str(EXAMPLES))


def test_the_example_is_registered_by_importing_it(instance_noise):
    assert REGULARIZERS.get('InstanceNoise') is instance_noise.InstanceNoise


def test_d_sees_both_sides_with_noise_of_the_set_level(instance_noise):
    model = build(dcgan(dict(type='InstanceNoise', sigma=32.0),
                        train_cfg=dict(disc_steps=100)))
    seen = []
    model.discriminator.register_forward_hook(
        lambda module, args, out: seen.append(args[0].detach().clone()))
    fakes = []
    model.generator.register_forward_hook(
        lambda module, args, out: fakes.append(out.detach().clone()))
    real = torch.rand(64, 3, 16, 16) * 2 - 1
    out = model.train_step(dict(real_img=real), optimizers(model),
                           running_status=dict(iteration=0))
    fake_seen, real_seen = seen  # the toolbox's order: fakes first
    for noisy, clean in ((real_seen, real), (fake_seen, fakes[0])):
        noise = noisy - clean
        assert noise.std().item() == pytest.approx(gray_levels(32.0),
                                                   rel=0.05)
        assert abs(noise.mean().item()) < 0.01
    assert out['log_vars']['instance_noise_sigma'] == 32.0
    # annealed: half the level halfway, none after
    reg = instance_noise.InstanceNoise(sigma=16.0, anneal_iters=100)
    assert reg.sigma_at(50) == 8.0 and reg.sigma_at(150) == 0.0


def test_its_options_are_checked_like_the_shipped_ones():
    with pytest.raises(ConfigError, match=r'adv_cfg \(InstanceNoise\).sigma '
                       r'must be in \[0.0, 255.0\], got -1'):
        build(dcgan(dict(type='InstanceNoise', sigma=-1)))
    with pytest.raises(ConfigError, match=r"adv_cfg.eps is not an option of "
                       r"InstanceNoise; allowed: \['sigma', 'anneal_iters'\] "
                       r'\(eps is an option of ASGAN, DAT, PGD\)'):
        build(dcgan(dict(type='InstanceNoise', eps=1.0)))


def test_the_example_trains_through_the_train_tool(tmp_path):
    config = EXAMPLES / 'instance_noise_digits.py'
    options = ['--cfg-options', 'total_iters=4', 'data.samples_per_gpu=8',
               'log_config.interval=1', 'model.adv_cfg.anneal_iters=4']
    run_tool('train.py', config, '--work-dir', tmp_path, '--no-validate',
             *options, pythonpath=[EXAMPLES])
    log = next(tmp_path.glob('*.log.json')).read_text().splitlines()
    records = [json.loads(line) for line in log if '"mode"' in line]
    assert [r['instance_noise_sigma'] for r in records] == \
        [16.0, 12.0, 8.0, 4.0]
    assert all('loss_disc_real' in r for r in records)
    assert (tmp_path / 'ckpt' / tmp_path.name / 'iter_4.pth').is_file()
    # a bad option: refused in one line before anything is written
    refused = run_tool('train.py', config, '--work-dir', tmp_path / 'bad',
                       '--cfg-options', 'model.adv_cfg.sigma=-1',
                       check=False, pythonpath=[EXAMPLES])
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        'error: AdvUnconditionalGAN: adv_cfg (InstanceNoise).sigma must be '
        'in [0.0, 255.0], got -1')
    assert not (tmp_path / 'bad').exists()


def test_the_example_joins_a_study_without_editing_the_tool(tmp_path):
    """--add-method NAME=CONFIG: a regularizer of one's own is trained
    beside the shipped methods and paired with the base model."""
    result = run_tool(
        'benchmark_quality.py', '--methods', 'base', '--seeds', 0,
        '--iters', 2, '--evals', 1, '--num-images', 200, '--add-method',
        f"noise={EXAMPLES / 'instance_noise_study.py'}", '--work-dir',
        tmp_path, pythonpath=[EXAMPLES])
    assert '| noise - base |' in result.stdout
    data = json.loads((tmp_path / 'results_dcgan.json').read_text())
    assert list(data['results']) == ['base', 'noise']
    config = (tmp_path / 'dcgan' / 'noise' / 'seed0' / 'config.py')
    assert "type='InstanceNoise'" in config.read_text()
    taken = run_tool('benchmark_quality.py', '--add-method',
                     f"dat={EXAMPLES / 'instance_noise_study.py'}",
                     '--work-dir', tmp_path / 'x', check=False)
    assert taken.returncode == 2
    assert "--add-method: the name 'dat' is taken" in taken.stderr
