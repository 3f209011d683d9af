from .eps_schedule import AdvEpsScheduleHook
from .iteration_seed import IterationSeedHook
from .robustness_probe import DiscRobustnessProbeHook

__all__ = [
    'AdvEpsScheduleHook', 'DiscRobustnessProbeHook', 'IterationSeedHook'
]
