"""The toolbox's checkpoint hook, with checkpoints that are never torn."""
import os.path as osp
import platform

from mmcv.runner import HOOKS, CheckpointHook
from mmcv.runner.dist_utils import allreduce_params

from ..checkpoints import point_latest, save_atomically


class _AtomicSaves:
    """A runner whose ``save_checkpoint`` writes atomically: the file is
    written under a temporary name and renamed into place, then
    ``latest.pth`` is re-pointed by a rename too. Everything else is the
    wrapped runner's."""

    def __init__(self, runner):
        self._runner = runner

    def __getattr__(self, name):
        return getattr(self._runner, name)

    def save_checkpoint(self, out_dir, filename_tmpl='iter_{}.pth',
                        meta=None, save_optimizer=True, create_symlink=True):
        runner = self._runner
        filename = filename_tmpl.format(runner.iter + 1)
        path = osp.join(out_dir, filename)
        # the runner formats the name with the iteration; a name without
        # '{}' is kept as it is
        save_atomically(
            lambda temporary: runner.save_checkpoint(
                osp.dirname(temporary),
                filename_tmpl=osp.basename(temporary),
                meta=None if meta is None else dict(meta),
                save_optimizer=save_optimizer,
                create_symlink=False), path)
        if create_symlink:
            point_latest(out_dir, filename,
                         use_symlink=platform.system() != 'Windows')


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmcv's ``CheckpointHook`` (same arguments, files and clean-up), with

    atomic files: ``iter_N.pth`` is written under a hidden temporary name
    and renamed into place, and ``latest.pth`` is re-pointed by a rename, so
    a process killed at any moment leaves only complete checkpoints and
    ``latest.pth`` always names one.

    ``tools/train.py`` uses it for ``checkpoint_config`` unless the config
    names another type. :meth:`save_now` writes the current iteration's
    checkpoint unless it was just written (the stop-on-signal hook calls
    it).
    """

    def before_run(self, runner):
        super().before_run(runner)
        self.last_saved_iter = None

    def save_now(self, runner):
        """Save this iteration's checkpoint unless it has been saved."""
        if self.last_saved_iter == runner.iter + 1:
            return
        runner.logger.info(
            f'Saving checkpoint at {runner.iter + 1} iterations')
        if self.sync_buffer:
            allreduce_params(runner.model.buffers())
        self._save_checkpoint(runner)

    def _save_checkpoint(self, runner):
        super()._save_checkpoint(_AtomicSaves(runner))
        self.last_saved_iter = runner.iter + 1
