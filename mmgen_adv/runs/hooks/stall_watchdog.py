"""Ending a distributed run that a stalled rank holds up, naming the rank."""
import datetime
import os
import socket
import sys
import threading
import time

import torch.distributed as dist
from mmcv.runner import HOOKS, Hook
from torch.distributed import distributed_c10d

from ...errors import EXIT_STOPPED
from ..cli import record_exit_status

KEY = 'mmgen_adv/heartbeat/{}'


def _store():
    """A client of the process group's rendezvous store of its own (the
    store torchrun's agent hosts outlives any rank), or the default one."""
    host, port = os.environ.get('MASTER_ADDR'), os.environ.get('MASTER_PORT')
    if host and port:
        try:
            return dist.TCPStore(
                host, int(port), is_master=False,
                timeout=datetime.timedelta(seconds=30))
        except Exception:  # noqa: BLE001 (fall back to the default store)
            pass
    return distributed_c10d._get_default_store()


class Heartbeats:
    """Each rank's ``(beat, iteration, host, pid)`` in the store, and when
    each peer's beat was last seen to change (by this rank's clock, so
    hosts' clocks never matter)."""

    def __init__(self, store, rank, world_size):
        self.store, self.rank, self.world_size = store, rank, world_size
        self.beat = 0
        self.seen = {}  # rank -> (beat, time it was first seen)

    def publish(self, iteration):
        self.beat += 1
        self.store.set(
            KEY.format(self.rank),
            f'{self.beat} {iteration} {socket.gethostname()} {os.getpid()}')

    def peers(self):
        """``{rank: (iteration, seconds since its beat changed, host,
        pid)}``; a rank that never published has ``(-1, inf, '?', -1)``."""
        now = time.monotonic()
        found = {}
        for rank in range(self.world_size):
            key = KEY.format(rank)
            if rank == self.rank:
                continue
            if not self.store.check([key]):
                found[rank] = (-1, float('inf'), '?', -1)
                continue
            beat, iteration, host, pid = self.store.get(key).decode().split()
            if self.seen.get(rank, (None, ))[0] != beat:
                self.seen[rank] = (beat, now)
            found[rank] = (int(iteration), now - self.seen[rank][1], host,
                           int(pid))
        return found


@HOOKS.register_module()
class StalledRankWatchdogHook(Hook):
    """Ends a distributed run held up by a stalled rank, with one line
    naming it.

    A thread on every rank publishes a heartbeat (with the rank's iteration)
    to the rendezvous store every ``beat`` seconds. When this rank has not
    started a new iteration for ``timeout`` seconds, it looks at the others:
    a rank whose heartbeat stopped (frozen, e.g. SIGSTOP, or gone) or that
    is still at an earlier iteration is stalled; the line names it (rank,
    host, pid, iteration) and this rank exits with status 1, so the launcher
    ends the run. Ranks all alive and at one iteration (a long evaluation,
    a slow collective) are left alone. ``tools/train.py`` adds this hook to
    distributed runs with ``--dist-timeout``; the process group's own
    timeout is set longer, as a backstop.

    Args:
        timeout (float): Seconds without progress before looking.
        beat (float, optional): Seconds between heartbeats (default:
            ``timeout / 10``, at most 10).
    """

    def __init__(self, timeout=1800, beat=None):
        if not timeout > 0:
            raise ValueError(f'timeout must be > 0, got {timeout!r}')
        self.timeout = timeout
        self.beat = beat or min(10.0, timeout / 10)
        self.iteration = 0
        self.progress = time.monotonic()
        self._stop = threading.Event()
        self._thread = None

    def before_run(self, runner):
        if not (dist.is_available() and dist.is_initialized()):
            return
        self.heartbeats = Heartbeats(_store(), dist.get_rank(),
                                     dist.get_world_size())
        self.iteration, self.progress = runner.iter, time.monotonic()
        self.logger = runner.logger
        self.heartbeats.publish(self.iteration)  # before any iteration
        self._thread = threading.Thread(
            target=self._watch, name='stalled-rank-watchdog', daemon=True)
        self._thread.start()

    def before_train_iter(self, runner):
        self.iteration, self.progress = runner.iter + 1, time.monotonic()

    def after_run(self, runner):
        self._stop.set()

    def stalled_ranks(self, peers):
        """Lines naming the ranks that hold this one up (empty if none)."""
        lines = []
        for rank, (iteration, silent, host, pid) in sorted(peers.items()):
            if iteration < 0:
                lines.append(f'rank {rank} never started training')
            elif silent > self.timeout / 2:
                lines.append(f'rank {rank} (pid {pid} on {host}) stopped '
                             f'responding {silent:.0f} s ago (last seen at '
                             f'iteration {iteration})')
            elif iteration < self.iteration:
                lines.append(f'rank {rank} (pid {pid} on {host}) is stuck '
                             f'at iteration {iteration}')
        return lines

    def _watch(self):
        while not self._stop.wait(self.beat):
            try:
                self.heartbeats.publish(self.iteration)
                # read every beat: when a peer's beat last changed is seen
                # by this rank's clock
                peers = self.heartbeats.peers()
                if time.monotonic() - self.progress < self.timeout:
                    continue
                stalled = self.stalled_ranks(peers)
            except Exception:  # noqa: BLE001 (store gone: the run ends)
                continue
            if stalled:
                self._end(stalled)

    def _end(self, stalled):
        message = (f'distributed training stalled: {"; ".join(stalled)}, '
                   f'while rank {self.heartbeats.rank} waited '
                   f'{time.monotonic() - self.progress:.0f} s at iteration '
                   f'{self.iteration} (--dist-timeout {self.timeout:g})')
        self.logger.error(message)
        print(f'error: {message}', file=sys.stderr, flush=True)
        record_exit_status(EXIT_STOPPED)
        # the main thread is blocked in a collective: only _exit ends it
        os._exit(EXIT_STOPPED)
