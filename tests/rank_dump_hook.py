"""Test helper: each rank writes its model's parameters after training,
and where they were (process-group backend, world size, device).

Buffers are left out: the toolbox builds DDP with ``broadcast_buffers=False``,
so BatchNorm statistics legitimately differ between ranks."""
import json
import os.path as osp

import torch
import torch.distributed as dist
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
        rank, world_size = get_dist_info()
        torch.save(state, osp.join(runner.work_dir, f'rank{rank}_params.pth'))
        info = dict(
            backend=dist.get_backend() if dist.is_initialized() else None,
            world_size=world_size,
            device=str(next(model.parameters()).device))
        with open(osp.join(runner.work_dir, f'rank{rank}_info.json'),
                  'w') as f:
            json.dump(info, f)
