"""A warm-up schedule for the attack budget of adversarial D training, as
an mmcv hook (the schedule itself: :mod:`mmgen_adv.methods.eps_schedule`)."""
from mmcv.runner import HOOKS, Hook

from ...methods.eps_schedule import RAMPS, EpsSchedule
from ..host import unwrap

__all__ = ['AdvEpsScheduleHook', 'RAMPS']


@HOOKS.register_module()
class AdvEpsScheduleHook(EpsSchedule, Hook):
    """:class:`~mmgen_adv.methods.eps_schedule.EpsSchedule` in mmgen's
    runner: set before every iteration from ``runner.iter`` (so runs resumed
    with ``--resume-from`` continue on it), logged as ``adv_eps`` (gray
    levels) in the runner's log buffer.

    Args: as :class:`~mmgen_adv.methods.eps_schedule.EpsSchedule`.
    """

    def before_run(self, runner):
        self.bind(unwrap(runner.model))

    def before_train_iter(self, runner):
        runner.log_buffer.update(dict(adv_eps=self.apply(runner.iter)))
