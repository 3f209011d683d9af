"""Stopping on SIGTERM / SIGINT with a checkpoint (preemption, Ctrl-C)."""
import atexit
import multiprocessing
import os
import signal
import threading

import torch
import torch.distributed as dist
from mmcv.runner import HOOKS, Hook, get_dist_info

from ...errors import TrainingInterrupted
from .checkpoint import AtomicCheckpointHook

SIGNALS = ('SIGTERM', 'SIGINT')


class _WorkerInit:
    """``worker_init_fn`` of DataLoader workers that leave stopping to the
    main process.

    A SIGTERM sent to the whole process group (SLURM, a container stop)
    would kill the workers, and the main process would then fail in the
    middle of its iteration. So a worker ignores SIGINT, and SIGTERM too
    until the main process lets it go (``may_exit``): when its run ends or
    the interpreter exits, which is when the toolbox and ``multiprocessing``
    terminate leftover workers with SIGTERM.
    """

    def __init__(self, init_fn, may_exit):
        self.init_fn = init_fn
        self.may_exit = may_exit

    def _on_sigterm(self, signum, frame):
        if self.may_exit.value:
            os._exit(0)  # quietly, as PyTorch's workers do for their parent

    def __call__(self, worker_id):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        if self.init_fn is not None:
            self.init_fn(worker_id)


class StopSignals:
    """SIGTERM and SIGINT as a request to stop, not an immediate death.

    While installed (``with StopSignals() as signals``), a signal sets
    :attr:`received` (its number) and the code checks it at a safe point. A
    second SIGINT stops at once (Ctrl-C twice) unless ``repeat_sigint`` is
    False: under a launcher that forwards the signal it has already sent,
    a second one is not the user's. Only the main thread can install
    handlers; elsewhere this does nothing.
    """

    def __init__(self, repeat_sigint=True):
        self.repeat_sigint = repeat_sigint
        self.received = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.received is not None and signum == signal.SIGINT and \
                self.repeat_sigint:
            previous = self._previous.get(signum, signal.default_int_handler)
            if callable(previous):
                return previous(signum, frame)
            raise KeyboardInterrupt
        if self.received is None:
            self.received = signum

    @property
    def name(self):
        return signal.Signals(self.received).name if self.received else None

    def install(self):
        self.received = None
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in SIGNALS:
            signum = getattr(signal, name)
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def restore(self):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}

    __enter__ = install

    def __exit__(self, *exc):
        self.restore()


class _EndOfIteration(Hook):
    """Runs after every other hook (loggers included)."""

    def __init__(self, stop_hook):
        self.stop_hook = stop_hook

    def after_train_iter(self, runner):
        self.stop_hook.end_of_iteration(runner)

    def after_run(self, runner):
        self.stop_hook.end_of_run(runner)


def _distributed():
    return dist.is_available() and dist.is_initialized()


@HOOKS.register_module()
class StopOnSignalHook(Hook):
    """On SIGTERM or SIGINT, finish the current iteration, write its
    checkpoint, and stop with :class:`TrainingInterrupted` (exit status 3
    in ``tools/train.py``).

    The signal only sets a flag; at the end of the iteration (after every
    other hook) all ranks of a distributed run agree on it (one small
    all-reduce per iteration, on a CPU group), so they stop after the same
    iteration. Rank 0 writes the checkpoint through the
    :class:`AtomicCheckpointHook` (no second copy when that iteration was
    saved anyway) and every rank waits for it before stopping. The other
    hooks' ``after_run`` (loggers closing their files) still runs.

    A second SIGINT stops at once (Ctrl-C twice) in a single process; a
    repeated SIGTERM does not (launchers forward the one the scheduler sent
    to every process), nor, in distributed runs, a repeated SIGINT.
    DataLoader workers ignore both signals. Register it with priority
    ``'HIGHEST'`` (``tools/train.py`` does): workers get their signal
    settings before ``IterationSeedHook`` starts them.
    """

    def __init__(self):
        self.signals = None
        self.stopped_at = None
        self._group = None
        self._workers_may_exit = None

    # -- hook stages -----------------------------------------------------
    def _let_workers_exit(self):
        if self._workers_may_exit is not None:
            self._workers_may_exit.value = 1

    def before_run(self, runner):
        self.stopped_at = None
        self.signals = StopSignals(repeat_sigint=not _distributed()).install()
        # shared with the workers forked later
        self._workers_may_exit = multiprocessing.Value('b', 0, lock=False)
        atexit.register(self._let_workers_exit)
        if _distributed() and dist.get_backend() != 'gloo':
            # the flag travels on the CPU: no device sync per iteration
            self._group = dist.new_group(backend='gloo')
        # appended last: after the loggers (safe while hooks are called)
        runner.register_hook(_EndOfIteration(self), priority='LOWEST')

    def before_fetch_train_data(self, runner):
        loader = runner.data_loader._dataloader
        if loader.num_workers > 0 and not isinstance(loader.worker_init_fn,
                                                     _WorkerInit):
            # the workers started from here on (IterationSeedHook restarts
            # them at the first iteration, and each epoch does) ignore
            # stop signals
            loader.worker_init_fn = _WorkerInit(loader.worker_init_fn,
                                                self._workers_may_exit)

    def _agreed_signal(self):
        received = self.signals.received or 0
        if _distributed():
            flag = torch.tensor([received], dtype=torch.int32)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=self._group)
            received = int(flag.item())
        return received

    def end_of_iteration(self, runner):
        received = self._agreed_signal()
        if not received or runner.iter + 1 >= runner.max_iters:
            return  # the last iteration ends the run anyway
        name = signal.Signals(received).name
        runner.logger.info(f'{name} received: stopping after iteration '
                           f'{runner.iter + 1} with a checkpoint')
        saver = next((h for h in runner.hooks
                      if isinstance(h, AtomicCheckpointHook)), None)
        if saver is None:
            runner.logger.warning(
                f'{name}: no AtomicCheckpointHook in this run, so no '
                'checkpoint is written')
        else:
            saver.save_now(runner)
        if _distributed():
            dist.barrier(group=self._group)  # rank 0's file is complete
        self.stopped_at = (name, runner.iter + 1, saver)
        # end the loop after this iteration; after_run hooks still run
        runner._max_iters = runner.iter + 1

    def end_of_run(self, runner):
        self.signals.restore()
        self._let_workers_exit()
        if self.stopped_at is None:
            return
        name, iteration, saver = self.stopped_at
        where = ''
        if saver is not None and get_dist_info()[0] == 0:
            where = f": {runner.meta['hook_msgs']['last_ckpt']}"
        raise TrainingInterrupted(
            f'stopped by {name} after iteration {iteration}, checkpoint '
            f'written{where}; the same command with --auto-resume continues')
