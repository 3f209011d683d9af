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
  ``nccl`` backend (GPU-only) becomes ``gloo``.
"""
import pickle

import numpy as np
import torch

from ..runs.compat import (apply_once, checkpoint_safe_globals,
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
    from mmengine.model import MMDistributedDataParallel
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


def apply():
    """Apply every fix (idempotent; NumPy's first: MMagic's utilities need
    it on import)."""
    fix_numpy_bool8()
    fix_safe_checkpoints()
    fix_adam_betas()
    fix_mmengine_hyphenated_paths()
    fix_dcgan_discriminator_init()
    fix_cpu_process_group()
