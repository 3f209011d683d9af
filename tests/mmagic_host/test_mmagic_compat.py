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

from process_group import one_rank_group  # noqa: E402


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


# -- FID and IS on a local TorchScript Inception (the offline stand-in) --
def real_images(folder, count=20):
    """MMagic's image dataset over ``count`` random PNGs, and a loader."""
    import cv2
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from torch.utils.data import DataLoader

    from mmagic.registry import DATASETS
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        cv2.imwrite(str(folder / f'{i:02d}.png'),
                    rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    with DefaultScope.overwrite_default_scope('mmagic'):
        dataset = DATASETS.build(dict(
            type='BasicImageDataset', data_root=str(folder),
            data_prefix=dict(gt=''),
            pipeline=[dict(type='LoadImageFromFile', key='gt'),
                      dict(type='PackInputs')]))
    return DataLoader(dataset, batch_size=8, collate_fn=pseudo_collate)


def fid_metric(inception_path, inception_pkl=None):
    from mmagic.registry import METRICS
    return METRICS.build(dict(type='FID', fake_nums=8, inception_path=str(
        inception_path), inception_pkl=inception_pkl and str(inception_pkl)))


def test_fid_prepares_real_statistics_without_grad(tmp_path):
    """The stand-in's parameters require grad (as any freshly scripted
    network's): MMagic's FID.prepare then failed on ``Tensor.numpy()``."""
    from inception_standin import save_standin

    from mmgen_adv.runs.compat import ORIGINALS
    loader = real_images(tmp_path / 'images')
    module = torch.nn.Module()
    module.data_preprocessor = DataPreprocessor()
    standin = save_standin(tmp_path / 'standin.pt')
    metric = fid_metric(standin, tmp_path / 'before.pkl')
    with pytest.raises(RuntimeError, match='requires grad'):
        ORIGINALS['mmagic.FrechetInceptionDistance.prepare'](metric, module,
                                                             loader)
    metric = fid_metric(standin, tmp_path / 'after.pkl')
    metric.prepare(module, loader)
    assert metric.real_mean.shape == (16, ) and np.isfinite(
        metric.real_cov).all()


def test_a_local_inception_that_does_not_load_is_an_error(tmp_path):
    """MMagic logged the failure and then tried the local path as a URL
    (taking a same-named file from its download cache, if any)."""
    from mmgen_adv.runs.compat import ORIGINALS
    not_torchscript = tmp_path / 'inception-2015-12-05.pt'
    torch.save(dict(weight=torch.zeros(2)), not_torchscript)
    assert ORIGINALS['mmagic._load_inception_from_path'](
        str(not_torchscript)) is None
    with pytest.raises(RuntimeError,
                       match="cannot load the Inception .* TorchScript"):
        fid_metric(not_torchscript)


def test_fid_statistics_cache_names_the_inception_file(tmp_path):
    """Without ``inception_pkl`` the real statistics are cached under a key
    of the dataset: MMagic's key was the same for two Inception files."""
    from inception_standin import save_standin

    from mmagic.evaluation.functional.inception_utils import \
        get_inception_feat_cache_name_and_args as cache_name
    loader = real_images(tmp_path / 'images')
    one, other = (fid_metric(save_standin(tmp_path / f'{seed}.pt', seed))
                  for seed in (0, 1))
    names = [cache_name(loader, metric, -1, True, False)[0]
             for metric in (one, other)]
    assert names[0] != names[1]
    for metric in (one, other):
        del metric.inception_args  # as MMagic's FID has it
    assert cache_name(loader, one, -1, True, False)[0] == cache_name(
        loader, other, -1, True, False)[0]


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason='the fix is for CPU ranks only')
def test_sngan_in_a_cpu_process_group_can_be_wrapped(tmp_path):
    """Built in a process group, MMagic's SNGAN generator has SyncBatchNorm
    (``auto_sync_bn``), which DDP refuses on a CPU module; wrapped as the
    runner wraps it, on a CPU rank, it gets plain BatchNorm and trains."""
    from mmengine.model import MMSeparateDistributedDataParallel
    with one_rank_group(tmp_path):
        model = MODELS.build(dict(
            type='SNGAN', noise_size=8, num_classes=10,
            data_preprocessor=DataPreprocessor(),
            generator=dict(type='SNGANGenerator', output_scale=32,
                           base_channels=8, num_classes=10),
            discriminator=dict(type='ProjDiscriminator', input_scale=32,
                               base_channels=8, num_classes=10)))
        assert any(isinstance(m, torch.nn.SyncBatchNorm)
                   for m in model.generator.modules())
        wrapper = MMSeparateDistributedDataParallel(
            module=model, broadcast_buffers=False, device_ids=[0])
        generator = wrapper.module.generator.module
        assert not any(isinstance(m, torch.nn.SyncBatchNorm)
                       for m in generator.modules())
        fake = generator(torch.randn(4, 8), label=torch.arange(4))
        assert fake.shape == (4, 3, 32, 32)
