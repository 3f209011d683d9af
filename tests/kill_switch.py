"""Test helper: stop a training process at a chosen point, deterministically.

``KillSwitchHook`` reads ``MMGEN_ADV_TEST_KILL`` (so a rerun of the same
command, without the variable, runs through):

* ``iter:K``: SIGKILL before iteration K starts (K - 1 are done);
* ``save:K``: SIGKILL in the middle of writing the checkpoint of iteration
  K (half of its bytes are on disk);
* ``latest:K``: SIGKILL after ``iter_K.pth`` is complete, before
  ``latest.pth`` is re-pointed;
* ``term:K`` / ``int:K``: SIGTERM / SIGINT to this process before iteration
  K starts (the run goes on to the end of that iteration);
* ``groupterm:K``: SIGTERM to this process's whole process group (as a
  scheduler does: launcher, ranks and data workers);
* ``stop:K``: SIGSTOP before iteration K starts (a frozen rank).

``@R`` after a point (``iter:5@1``) limits it to rank R.
"""
import io
import os
import signal

import torch
from mmcv.runner import HOOKS, Hook, get_dist_info

ENV = 'MMGEN_ADV_TEST_KILL'


def _parse():
    spec = os.environ.get(ENV)
    if not spec:
        return None
    point, _, rank = spec.partition('@')
    if rank and int(rank) != get_dist_info()[0]:
        return None
    where, _, iteration = point.partition(':')
    return where, int(iteration)


def _kill_during_save(iteration):
    """Make torch.save write half of the checkpoint of ``iteration``, then
    die."""
    original = torch.save

    def save(obj, f, *args, **kwargs):
        meta = obj.get('meta', {}) if isinstance(obj, dict) else {}
        if meta.get('iter') != iteration or not hasattr(f, 'write'):
            return original(obj, f, *args, **kwargs)
        buffer = io.BytesIO()
        original(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        f.write(data[:len(data) // 2])
        f.flush()
        os.fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = save


def _kill_before_latest(iteration):
    import mmgen_adv.runs.hooks.checkpoint as checkpoint_hook
    original = checkpoint_hook.point_latest

    def point_latest(folder, filename, *args, **kwargs):
        if filename == f'iter_{iteration}.pth':
            os.kill(os.getpid(), signal.SIGKILL)
        return original(folder, filename, *args, **kwargs)

    checkpoint_hook.point_latest = point_latest


@HOOKS.register_module()
class KillSwitchHook(Hook):

    def before_run(self, runner):
        self.point = _parse()
        if self.point is None:
            return
        where, iteration = self.point
        if where == 'save':
            _kill_during_save(iteration)
        elif where == 'latest':
            _kill_before_latest(iteration)

    def before_train_iter(self, runner):
        if self.point is None:
            return
        where, iteration = self.point
        if runner.iter + 1 != iteration:
            return
        if where == 'groupterm':
            os.killpg(os.getpgid(0), signal.SIGTERM)
            return
        signum = dict(iter=signal.SIGKILL, term=signal.SIGTERM,
                      int=signal.SIGINT, stop=signal.SIGSTOP).get(where)
        if signum is not None:
            os.kill(os.getpid(), signum)
