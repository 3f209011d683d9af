"""SSGAN on the MMagic host: without the rotation task it is MMagic's SNGAN
update to the bit; with it, D learns rotations on the clean reals and G on
its fakes at the configured weights; SSGAN + DAT trains through
tools/mmagic/train.py. (The D update's agreement with the mmgen host's
SSGAN, with and without DAT, is in test_mmagic_host.py's cross-host
test.)"""
import copy
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

REASON = ('MMagic tier: runs in the MMagic environment (./setup.sh --host '
          'mmagic; .venv-mmagic/bin/python -m pytest tests -m mmagic)')
pytest.importorskip('mmagic', reason=REASON)
pytestmark = pytest.mark.mmagic

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import mmgen_adv.mmagic  # noqa: E402,F401  (first: compat)
from mmagic.models import DataPreprocessor  # noqa: E402
from mmagic.registry import MODELS  # noqa: E402
from mmengine.optim import OptimWrapper  # noqa: E402

from conftest import ROOT  # noqa: E402
from mmgen_adv.errors import ConfigError  # noqa: E402
from mmgen_adv.methods.disc_step import DiscBatch  # noqa: E402
from mmgen_adv.methods.rotation import rotate_quarters  # noqa: E402
from test_mmagic_host import (assert_same_parameters, batches,  # noqa: E402
                              same_weights, train)


def build(type_='SSGAN', num_classes=0, disc_type='SSGANDiscriminator',
          **kwargs):
    """A small unconditional SNGAN at 32x32 with a rotation head."""
    return MODELS.build(dict(
        type=type_, noise_size=16, num_classes=num_classes,
        data_preprocessor=DataPreprocessor(),
        generator=dict(type='SNGANGenerator', output_scale=32,
                       base_channels=16, num_classes=num_classes,
                       use_cbn=bool(num_classes)),
        discriminator=dict(type=disc_type, input_scale=32, base_channels=16,
                           num_classes=num_classes),
        **kwargs))


def rotation_cross_entropy(disc, images):
    rotated, labels = rotate_quarters(images)
    return F.cross_entropy(disc(rotated, return_aux=True)[1], labels)


def test_without_the_rotation_task_it_is_mmagics_sngan():
    """Both rotation weights 0: 4 iterations (2 D steps per G step,
    accumulation 2) give MMagic's SNGAN (num_classes 0) update, every
    parameter and logged value equal."""
    torch.manual_seed(0)
    reference = build('SNGAN', discriminator_steps=2)
    model = build(discriminator_steps=2, disc_rotation_weight=0.0,
                  gen_rotation_weight=0.0)
    same_weights(reference, model)
    logs_ref, _ = train(reference, 4, accumulation=2)
    logs, _ = train(model, 4, accumulation=2)
    assert_same_parameters(reference, model)
    for log_ref, log in zip(logs_ref, logs):
        assert log_ref.keys() == log.keys()
        for key in log_ref:
            assert float(log_ref[key].detach()) == float(
                log[key].detach()), key


def test_d_learns_rotations_of_the_clean_reals():
    torch.manual_seed(0)
    model = build(disc_rotation_weight=0.5)
    model.discriminator.eval()  # spectral norm's power iteration held
    host = model.host_class(model, OptimWrapper(
        torch.optim.SGD(model.discriminator.parameters(), lr=0.1)))
    real, fake = torch.rand(2, 8, 3, 32, 32) * 2 - 1
    batch = DiscBatch(real, fake, None, None, 0)
    terms = host.disc_terms(batch, model.discriminator(fake),
                            model.discriminator(real))
    expected = 0.5 * rotation_cross_entropy(model.discriminator, real)
    assert torch.allclose(terms['loss_disc_rotation'], expected)
    assert 0 <= float(terms['rotation_acc_real']) <= 1
    assert {'loss_disc_fake', 'loss_disc_real'} <= terms.keys()


def test_g_is_trained_to_make_rotations_predictable():
    torch.manual_seed(0)
    model = build(gen_rotation_weight=0.2)
    before = copy.deepcopy(model)
    wrapper = OptimWrapper(
        torch.optim.SGD(model.generator.parameters(), lr=0.1))
    data = next(batches(1, batch_size=8))
    torch.manual_seed(1)
    log = model.train_generator({}, data['data_samples'], wrapper)
    torch.manual_seed(1)
    fake = before.generator(noise=before.noise_fn(num_batches=8),
                            return_noise=False)
    # in the update's order: spectral norm's power iteration steps with
    # every forward of D in train mode
    loss_gen = -before.discriminator(fake).mean().detach()
    expected = 0.2 * rotation_cross_entropy(before.discriminator, fake)
    logged = {k: float(v.detach()) for k, v in log.items()}
    assert logged['loss_gen'] == pytest.approx(float(loss_gen), rel=1e-6)
    assert logged['loss_gen_rotation'] == pytest.approx(
        float(expected.detach()), rel=1e-6)
    assert not torch.equal(
        next(model.generator.parameters()),
        next(before.generator.parameters()))  # G stepped


@pytest.mark.parametrize('kwargs,message', [
    (dict(num_classes=10), 'SSGAN is unconditional: num_classes must be 0'),
    (dict(disc_type='ProjDiscriminator'),
     'SSGAN needs a discriminator with a 4-way rotation head'),
    (dict(gen_rotation_weight=-1.0),
     'model (SSGAN).gen_rotation_weight must be >= 0'),
])
def test_refusals(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace('(', r'\(')
                       .replace(')', r'\)')):
        build(**kwargs)


def test_ssgan_dat_config_trains_through_the_tool(tmp_path):
    """configs/mmagic/dat/ssgan_cifar10.py, shrunk and on generated images:
    two iterations (the second with G's step) log the rotation and DAT
    terms and checkpoint the rotation head; the linear decay ran."""
    images = tmp_path / 'images'
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        cv2.imwrite(str(images / f'{i}.png'),
                    rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    config = tmp_path / 'tiny.py'
    config.write_text(f'''
_base_ = '{ROOT}/configs/mmagic/dat/ssgan_cifar10.py'
model = dict(discriminator_steps=2,
             generator=dict(base_channels=16),
             discriminator=dict(base_channels=16))
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type='BasicImageDataset',
                 data_root='{images}', data_prefix=dict(gt=''),
                 pipeline=[dict(type='LoadImageFromFile', key='gt'),
                           dict(type='PackInputs')]))
train_cfg = dict(max_iters=2)
param_scheduler = dict(end=2)
val_cfg = val_dataloader = val_evaluator = None
test_cfg = test_dataloader = test_evaluator = None
custom_hooks = []
default_hooks = dict(
    checkpoint=dict(_delete_=True, type='CheckpointHook', interval=2,
                    by_epoch=False),
    logger=dict(interval=1))
''')
    work_dir = tmp_path / 'run'
    done = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'mmagic' / 'train.py'),
         str(config), '--work-dir', str(work_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    log = next(work_dir.rglob('*.log')).read_text()
    for term in ('loss_disc_rotation', 'loss_disc_adv_real',
                 'loss_gen_rotation'):
        assert term in log, (term, log[-2000:])
    state = torch.load(work_dir / 'iter_2.pth', map_location='cpu',
                       weights_only=False)
    assert any('aux_head' in k for k in state['state_dict'])
    lrs = [g['lr'] for g in state['optimizer']['discriminator'][
        'param_groups']]
    assert lrs == [0.0]  # linear decay to 0 over max_iters
