"""Test helper: each rank writes its model's parameters after training.

Buffers are left out: the toolbox builds DDP with ``broadcast_buffers=False``,
so BatchNorm statistics legitimately differ between ranks."""
import os.path as osp

import torch
from mmcv.parallel import is_module_wrapper
from mmcv.runner import HOOKS, Hook, get_dist_info


def _unwrap(module):
    return module.module if is_module_wrapper(module) else module


@HOOKS.register_module()
class DumpRankStateHook(Hook):

    def after_run(self, runner):
        model = _unwrap(runner.model)
        # the DDP wrapper wraps G and D separately
        state = {
            k: v.detach().cpu().clone()
            for k, v in model.named_parameters()
        }
        state = {k.replace('.module.', '.'): v for k, v in state.items()}
        rank = get_dist_info()[0]
        torch.save(state, osp.join(runner.work_dir, f'rank{rank}_params.pth'))
