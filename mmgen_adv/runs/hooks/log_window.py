"""Logged values that are the mean over the logging window, and only that.

mmcv's ``LogBuffer.average(n)`` averages the last ``n`` *entries* of each
key. A key updated every iteration gets the mean of the window; a key
updated on some iterations only (a probe every 1000 iterations, the
generator's loss with ``disc_steps=5``) gets a running mean across earlier
windows, or its last value repeated in windows where it was not measured.
"""
from mmcv.runner import HOOKS, Hook, LogBuffer
from mmcv.runner.hooks.logger import LoggerHook

from ..checkpoints import read_checkpoint


class WindowedLogBuffer(LogBuffer):
    """A ``LogBuffer`` whose ``average`` uses the entries added since the
    last ``average`` call, and then forgets them.

    * A key with no entry in the window is not in the output (it was not
      measured), instead of repeating an old value.
    * A sparse key's output is the mean of its entries in this window, so a
      value logged once per window is logged as it is.
    * Memory stays bounded (mmcv keeps every entry of an iteration-based run
      until it ends).

    Several logger hooks average at the same iteration; a second call with
    no new entries keeps the output of the first. Each entry also records
    the iteration it was added in (:attr:`iteration`, set by
    :class:`WindowedLogBufferHook`).
    """

    def __init__(self):
        super().__init__()
        self.iter_history = {}
        self.iteration = 0

    def update(self, vars, count=1):
        super().update(vars, count)
        for key in vars:
            self.iter_history.setdefault(key, []).append(self.iteration)

    def clear(self):
        super().clear()
        self.iter_history.clear()

    def average(self, n=0):
        assert n >= 0
        for key, values in self.val_history.items():
            if not values:
                continue
            counts = self.n_history[key]
            self.output[key] = sum(
                v * c for v, c in zip(values, counts)) / sum(counts)
            # in place: the runner's meta holds these lists
            values.clear()
            counts.clear()
            self.iter_history[key].clear()
        self.ready = True

    def state(self):
        """The entries not yet averaged (references, for the checkpoint's
        meta)."""
        return dict(
            values=self.val_history,
            counts=self.n_history,
            iterations=self.iter_history)

    def restore(self, state, after_iteration):
        """Add the saved entries of iterations after ``after_iteration``."""
        for key, values in state.get('values', {}).items():
            counts = state['counts'][key]
            iterations = state.get('iterations', {}).get(key, [])
            for value, count, iteration in zip(values, counts, iterations):
                if iteration > after_iteration:
                    self.iteration = iteration
                    self.update({key: value}, count)


@HOOKS.register_module()
class WindowedLogBufferHook(Hook):
    """Give the runner a :class:`WindowedLogBuffer`, and keep logs exact
    across a resume.

    The entries of the current, not yet logged window are in the runner's
    ``meta`` (``log_window``), so checkpoints carry them. A run resumed from
    one (``resume_from``) restores those of its unfinished window and logs
    the same values at the same iterations as the uninterrupted run. (The
    toolbox's checkpoint hook saves before the hooks of lower priority run;
    their entries of that very iteration are missing from it, which matters
    only when a checkpoint iteration is not a multiple of the logging
    interval. The stop-on-signal checkpoint is saved after all of them.)
    ``tools/train.py`` adds this hook with priority ``'HIGHEST'``.

    Args:
        resume_from (str, optional): The checkpoint the run resumes from.
    """

    def __init__(self, resume_from=None):
        self.resume_from = resume_from

    @staticmethod
    def _log_interval(runner):
        intervals = [h.interval for h in runner.hooks
                     if isinstance(h, LoggerHook) and not h.by_epoch]
        return min(intervals) if intervals else None

    def before_run(self, runner):
        runner.log_buffer = WindowedLogBuffer()
        self._restored = False

    def _restore(self, runner):
        # here, not in before_run: the loggers clear the buffer in
        # before_epoch
        interval = self._log_interval(runner)
        if self.resume_from and interval:
            meta = read_checkpoint(self.resume_from, 'resume_from',
                                   lazy=True).get('meta') or {}
            # entries of windows the interrupted run logged are not kept
            runner.log_buffer.restore(meta.get('log_window') or {},
                                      runner.iter // interval * interval)
        self._restored = True

    def before_train_iter(self, runner):
        if not self._restored:
            self._restore(runner)
        runner.log_buffer.iteration = runner.iter + 1
        # set here, not in before_run, where the JSON logger writes the meta
        # into its first line
        if runner.meta is None:
            runner.meta = {}
        runner.meta['log_window'] = runner.log_buffer.state()
