"""What the MMagic compat module fixes, each against the failure it fixes
(mmgen_adv/mmagic/compat.py)."""
import pytest
import torch

REASON = ('MMagic tier: runs in the MMagic environment (./setup.sh --host '
          'mmagic; .venv-mmagic/bin/python -m pytest tests -m mmagic)')
pytest.importorskip('mmagic', reason=REASON)
pytestmark = pytest.mark.mmagic

import numpy as np  # noqa: E402

import mmgen_adv.mmagic  # noqa: E402,F401  (first: compat)
from mmagic.models import DataPreprocessor  # noqa: E402
from mmagic.registry import MODELS  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.logging import HistoryBuffer  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402


def test_checkpoints_with_history_buffers_load_weights_only(tmp_path):
    buffer = HistoryBuffer()
    buffer.update(1.5)
    torch.save(dict(message_hub=dict(log_scalars=dict(loss=buffer))),
               tmp_path / 'ok.pth')
    loaded = torch.load(tmp_path / 'ok.pth', weights_only=True)
    assert loaded['message_hub']['log_scalars']['loss'].current() == 1.5


class Sneaky:
    """Pickles as getattr(HistoryBuffer, '__init__') (not a statistics
    method): the allowlisted getattr must refuse it."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


def test_getattr_is_allowed_for_history_buffer_methods_only(tmp_path):
    torch.save(dict(x=Sneaky()), tmp_path / 'bad.pth')
    with pytest.raises(Exception, match='only HistoryBuffer'):
        torch.load(tmp_path / 'bad.pth', weights_only=True)


def test_stylegan2_betas_build():
    model = torch.nn.Linear(2, 2)
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='Adam', lr=1e-3, betas=(0, 0.99**0.5))))
    assert wrapper.optimizer.defaults['betas'] == (0.0, 0.99**0.5)


def test_hyphenated_mmagic_paths_load(tmp_path):
    config = tmp_path / 'wgangp.py'
    config.write_text("_base_ = 'mmagic::wgan-gp/"
                      "wgangp_GN_1xb64-160kiters_celeba-cropped-128x128.py'\n")
    assert Config.fromfile(config).model.type == 'WGANGP'


def test_numpy_bool8_and_the_dcgan_discriminator_init():
    assert np.bool8 is np.bool_
    model = MODELS.build(dict(
        type='DCGAN', noise_size=8, data_preprocessor=DataPreprocessor(),
        generator=dict(type='DCGANGenerator', output_scale=32,
                       base_channels=16),
        discriminator=dict(type='DCGANDiscriminator', input_scale=32,
                           output_scale=4, out_channels=1, base_channels=8)))
    model.init_weights()  # as the runner does; MMagic's D raised here
    conv = model.discriminator.downsamples[0].conv
    assert abs(conv.weight.std().item() - 0.02) < 0.01
