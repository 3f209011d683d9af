from .checkpoint import AtomicCheckpointHook
from .eps_schedule import AdvEpsScheduleHook
from .iteration_seed import IterationSeedHook
from .log_window import WindowedLogBuffer, WindowedLogBufferHook
from .robustness_probe import DiscRobustnessProbeHook
from .stall_watchdog import StalledRankWatchdogHook
from .stop_on_signal import StopOnSignalHook

__all__ = [
    'AdvEpsScheduleHook', 'AtomicCheckpointHook', 'DiscRobustnessProbeHook',
    'IterationSeedHook', 'StalledRankWatchdogHook', 'StopOnSignalHook',
    'WindowedLogBuffer', 'WindowedLogBufferHook'
]
