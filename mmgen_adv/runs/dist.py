"""Starting distributed runs: NCCL on GPUs, gloo on CPU, chosen by the host."""
import datetime
import os
import time

import torch
import torch.distributed as dist

from ..errors import UserInputError
from .compat import enable_cpu_process_group

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def pick_backend(requested=None):
    """The process-group backend for this host.

    ``requested`` (a config's ``dist_params.backend``) is kept on GPU hosts;
    without CUDA only gloo can work, whatever the config says.
    """
    if torch.cuda.is_available():
        return requested or 'nccl'
    return 'gloo'


def init_dist(launcher, backend=None, timeout=None, **kwargs):
    """Initialise the default process group for ``launcher``.

    With CUDA this is mmcv's ``init_dist`` (one GPU per local rank). Without
    it, the ranks join a gloo group and the toolbox's CUDA-only distributed
    code is switched to the CPU (:func:`compat.enable_cpu_process_group`).

    Args:
        timeout (float, optional): Seconds a collective may wait for the
            other ranks before it fails (mmcv's SLURM launcher takes none).
    """
    if launcher not in LAUNCHERS[1:]:
        raise ValueError(f'launcher must be one of {LAUNCHERS[1:]}, '
                         f'got {launcher!r}')
    backend = pick_backend(backend)
    if timeout is not None and launcher != 'slurm':
        kwargs['timeout'] = datetime.timedelta(seconds=timeout)
    if backend != 'gloo':
        # mmcv 1.x's: imported here, as the MMagic host (mmcv 2.x) imports
        # this module for leave_process_group
        from mmcv.runner import init_dist as mmcv_init_dist
        mmcv_init_dist(launcher, backend=backend, **kwargs)
        return backend
    if launcher != 'pytorch':
        raise RuntimeError(
            f"launcher '{launcher}' needs GPUs; on CPU use torchrun "
            '(tools/dist_train.sh) with --launcher pytorch')
    dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)
    enable_cpu_process_group()
    return backend


def leave_process_group():
    """End the default process group, if one was started, once every rank
    has come here.

    Each tool calls this when its work is done: a gloo group left to the
    interpreter's exit can abort a rank (SIGABRT, "terminate called without
    an active exception") while its worker threads still free tensors.
    Destroying the group joins those threads, which may need the GIL to
    free the last collective's tensors: so the GIL is let go a moment first.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    dist.barrier()
    time.sleep(0.2)
    dist.destroy_process_group()


def decided_by_rank0(decide):
    """Run ``decide()`` on rank 0 and give every rank its result, or raise
    its :class:`UserInputError` on every rank (so all refuse alike)."""
    if not (dist.is_available() and dist.is_initialized()):
        return decide()
    outcome = [None, None]
    if dist.get_rank() == 0:
        try:
            outcome[0] = decide()
        except UserInputError as err:
            outcome[1] = str(err)
    dist.broadcast_object_list(outcome, src=0)
    if outcome[1] is not None:
        raise UserInputError(outcome[1])
    return outcome[0]
