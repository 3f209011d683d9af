"""Hooks that make runs exact and safe to stop: atomic checkpoints, seeding
per iteration, a log that survives a resume, a watchdog for stalled ranks,
a checkpoint on SIGTERM."""
from .checkpoint import AtomicCheckpointHook
from .iteration_seed import IterationSeedHook
from .log_window import WindowedLogBuffer, WindowedLogBufferHook
from .stall_watchdog import StalledRankWatchdogHook
from .stop_on_signal import StopOnSignalHook

__all__ = [
    'AtomicCheckpointHook', 'IterationSeedHook', 'StalledRankWatchdogHook',
    'StopOnSignalHook', 'WindowedLogBuffer', 'WindowedLogBufferHook'
]
