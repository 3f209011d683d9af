"""Hooks of the methods: an eps warm-up schedule, and probes of D's
robustness and input gradients."""
from .eps_schedule import AdvEpsScheduleHook
from .robustness_probe import DiscRobustnessProbeHook

__all__ = ['AdvEpsScheduleHook', 'DiscRobustnessProbeHook']
