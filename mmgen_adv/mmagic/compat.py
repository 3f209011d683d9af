"""What MMagic 1.2 and mmengine 0.10.7 need to run on the pinned stack.

Applied by ``import mmgen_adv.mmagic``, each fix once:

* ``safe_checkpoints``: PyTorch now loads checkpoints with
  ``weights_only=True``; mmengine's resume then fails on the message hub's
  ``HistoryBuffer`` (and numpy values). Kept on, with those allowlisted.
* ``adam_betas``: MMagic's StyleGAN2 configs give Adam
  ``betas=(0, 0.99**r)``, a mixed int/float pair PyTorch refuses.
* ``mmengine_hyphenated_paths``: ``mmagic::wgan-gp/...`` is refused by
  mmengine's path parser (shared with the mmgen host).
* ``numpy_bool8``: ``np.bool8``, removed in NumPy 2, is used by MMagic's
  ``trans_utils``.
* ``dcgan_discriminator_init``: ``DCGANDiscriminator.init_weights`` reads
  its log message before setting it for modules that are neither conv nor
  BatchNorm (the discriminator itself comes first), so the runner cannot
  initialize MMagic's DCGAN; the same initialization, message set always.
* ``cpu_process_group`` (only where PyTorch sees no GPU): mmengine's
  ``pytorch`` launcher calls ``torch.cuda.set_device`` and its DDP wrappers
  get ``device_ids=[LOCAL_RANK]``; on CPU ranks neither can work, so the
  device is not set, CPU modules get no device ids, and the configs'
  ``nccl`` backend (GPU-only) becomes ``gloo``. Built in a process group,
  MMagic's SNGAN, SAGAN and BigGAN generators make their BatchNorms
  SyncBatchNorm, which DDP refuses on CPU: a CPU module's are reverted to
  BatchNorm (each CPU rank keeps its own statistics).
* ``fid_prepare_without_grad``: FID's ``prepare`` extracts the real
  images' Inception features with autograd on (its sibling
  ``PrecisionAndRecall.prepare`` runs under ``no_grad``); with a TorchScript
  Inception whose parameters require grad it then fails on
  ``Tensor.numpy()``. Features are extracted under ``no_grad``.
* ``local_inception_path``: when a local ``inception_path`` fails to load,
  MMagic logs why and then tries the path as a URL, which quietly picks a
  file of the same name from its download cache (or fails without the
  reason). A local file that does not load is now an error that says why.
* ``fid_feature_cache_key``: without ``inception_pkl``, FID caches the real
  images' statistics under a key of the dataset alone, so statistics made
  with one Inception file are reused with another. The key now includes
  the local Inception file given (path, size, modification time).
"""
import functools
import os
import pickle

import numpy as np
import torch

from ..runs.compat import (ORIGINALS, apply_once, checkpoint_safe_globals,
                           fix_mmengine_hyphenated_paths)


@apply_once('mmagic_safe_checkpoints')
def fix_safe_checkpoints():
    """Keep ``weights_only=True``; allowlist what mmengine's checkpoints
    hold besides tensors. A ``HistoryBuffer`` pickles its statistics
    methods as ``getattr(HistoryBuffer, name)``: ``getattr`` is allowed
    under that name for those public methods alone, never in general."""
    from mmengine.logging import HistoryBuffer

    def history_buffer_method(cls, name):
        if cls is not HistoryBuffer or name.startswith('_'):
            raise pickle.UnpicklingError(
                f'checkpoint asks for getattr({cls!r}, {name!r}); only '
                "HistoryBuffer's statistics methods are allowed")
        return getattr(cls, name)

    torch.serialization.add_safe_globals(
        checkpoint_safe_globals() +
        [HistoryBuffer, (history_buffer_method, 'builtins.getattr')])


@apply_once('mmagic_adam_betas')
def fix_adam_betas():
    """Float betas for every optimizer mmengine builds."""
    from mmengine.optim import DefaultOptimWrapperConstructor
    original = DefaultOptimWrapperConstructor.__init__

    def __init__(self, optim_wrapper_cfg, paramwise_cfg=None):
        original(self, optim_wrapper_cfg, paramwise_cfg)
        betas = self.optimizer_cfg.get('betas')
        if isinstance(betas, (tuple, list)):
            self.optimizer_cfg['betas'] = tuple(float(b) for b in betas)

    DefaultOptimWrapperConstructor.__init__ = __init__


@apply_once('numpy_bool8')
def fix_numpy_bool8():
    if not hasattr(np, 'bool8'):
        np.bool8 = np.bool_


@apply_once('mmagic_cpu_process_group')
def fix_cpu_process_group():
    if torch.cuda.is_available():
        return
    import mmengine.dist.utils as dist_utils
    from mmengine.model import (MMDistributedDataParallel,
                                revert_sync_batchnorm)
    original_init_dist = dist_utils._init_dist_pytorch
    original_ddp_init = MMDistributedDataParallel.__init__

    def _init_dist_pytorch(backend, init_backend='torch', **kwargs):
        if init_backend != 'torch':
            return original_init_dist(backend, init_backend, **kwargs)
        torch.distributed.init_process_group(
            backend='gloo' if backend == 'nccl' else backend, **kwargs)

    def ddp_init(self, module, device_ids=None, output_device=None, **kw):
        if all(p.device.type == 'cpu' for p in module.parameters()):
            device_ids = output_device = None
            # built in a process group, MMagic's SNGAN/SAGAN/BigGAN
            # generators turn BatchNorm into SyncBatchNorm (auto_sync_bn),
            # which DDP refuses on a CPU module: each CPU rank keeps its own
            module = revert_sync_batchnorm(module)
        original_ddp_init(self, module, device_ids=device_ids,
                          output_device=output_device, **kw)

    dist_utils._init_dist_pytorch = _init_dist_pytorch
    MMDistributedDataParallel.__init__ = ddp_init


@apply_once('mmagic_dcgan_discriminator_init')
def fix_dcgan_discriminator_init():
    from mmagic.models.editors.dcgan import DCGANDiscriminator
    from mmengine.model import BaseModule, normal_init, update_init_info
    from torch import nn
    from torch.nn.modules.batchnorm import _BatchNorm

    def init_weights(self):
        if self.init_cfg is not None and self.init_cfg['type'] == 'Pretrained':
            BaseModule.init_weights(self)
            return
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                normal_init(m, 0, 0.02)
            elif isinstance(m, _BatchNorm):
                nn.init.normal_(m.weight.data)
                nn.init.constant_(m.bias.data, 0)
            update_init_info(m, f'Initialize {type(m).__name__} as DCGAN')

    DCGANDiscriminator.init_weights = init_weights


@apply_once('mmagic_fid_prepare_without_grad')
def fix_fid_prepare_without_grad():
    from mmagic.evaluation.metrics import FrechetInceptionDistance
    original = FrechetInceptionDistance.prepare
    ORIGINALS['mmagic.FrechetInceptionDistance.prepare'] = original
    FrechetInceptionDistance.prepare = torch.no_grad()(original)


def is_local_inception_path(path):
    """A path MMagic's ``load_inception`` reads from disk (not a URL)."""
    return isinstance(path, str) and 'http' not in path


@apply_once('mmagic_local_inception_path')
def fix_local_inception_path():
    from mmagic.evaluation.functional import inception_utils
    from mmengine import print_log
    ORIGINALS['mmagic._load_inception_from_path'] = \
        inception_utils._load_inception_from_path

    def _load_inception_from_path(inception_path):
        print_log(f"Load Tero's Inception Model from '{inception_path}'.",
                  'current')
        try:
            # the metrics move it to their device in ``prepare``
            return torch.jit.load(inception_path, map_location='cpu')
        except Exception as err:  # noqa: BLE001 (any cause, with the reason)
            raise RuntimeError(
                f"cannot load the Inception '{inception_path}' with "
                'torch.jit.load (inception_path must be a TorchScript file): '
                f'{type(err).__name__}: {err}') from err

    inception_utils._load_inception_from_path = _load_inception_from_path


def inception_file_identity(path):
    """What names a local Inception file in FID's statistics cache key."""
    stat = os.stat(path)
    return dict(inception_path=os.path.abspath(path), size=stat.st_size,
                mtime_ns=stat.st_mtime_ns)


@apply_once('mmagic_fid_feature_cache_key')
def fix_fid_feature_cache_key():
    """``get_inception_feat_cache_name_and_args`` hashes the metric's
    ``inception_args``, which FID never sets; it is set for a local file
    (the default download keeps its key, so existing caches stay valid)."""
    from mmagic.evaluation.metrics import FrechetInceptionDistance
    original = FrechetInceptionDistance._load_inception
    ORIGINALS['mmagic.FrechetInceptionDistance._load_inception'] = original

    @functools.wraps(original)
    def _load_inception(self, inception_style, inception_path):
        inception, style = original(self, inception_style, inception_path)
        if style == 'StyleGAN' and is_local_inception_path(inception_path):
            self.inception_args = dict(
                type=style, **inception_file_identity(inception_path))
        return inception, style

    FrechetInceptionDistance._load_inception = _load_inception


def apply():
    """Apply every fix (idempotent; NumPy's first: MMagic's utilities need
    it on import)."""
    fix_numpy_bool8()
    fix_safe_checkpoints()
    fix_adam_betas()
    fix_mmengine_hyphenated_paths()
    fix_dcgan_discriminator_init()
    fix_cpu_process_group()
    fix_fid_prepare_without_grad()
    fix_local_inception_path()
    fix_fid_feature_cache_key()
