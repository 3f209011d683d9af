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
"""
import numpy as np
import torch

from ..runs.compat import (apply_once, checkpoint_safe_globals,
                           fix_mmengine_hyphenated_paths)


@apply_once('mmagic_safe_checkpoints')
def fix_safe_checkpoints():
    """Keep ``weights_only=True``; allowlist what mmengine's checkpoints
    hold besides tensors."""
    from mmengine.logging import HistoryBuffer
    torch.serialization.add_safe_globals(checkpoint_safe_globals() +
                                         [HistoryBuffer])


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


def apply():
    """Apply every fix (idempotent)."""
    fix_safe_checkpoints()
    fix_adam_betas()
    fix_mmengine_hyphenated_paths()
    fix_numpy_bool8()
