"""A warm-up schedule for the attack budget of adversarial D training."""
import math

from mmcv.runner import HOOKS, Hook

from ...checks import check_choice, check_int, check_number
from ...errors import ConfigError
from ..host import unwrap

RAMPS = ('linear', 'cosine')


@HOOKS.register_module()
class AdvEpsScheduleHook(Hook):
    """Train without the attack for ``start_iter`` iterations (the base
    model's update), then ramp ``eps`` from 0 to the target over
    ``ramp_iters`` (AS-GAN advises starting without perturbation, while D is
    weak).

    The value depends on the iteration alone, so runs resumed with
    ``--resume-from`` continue on the schedule, and every rank of a
    distributed run sets the same value. The current eps is logged as
    ``adv_eps`` (gray levels).

    Args:
        start_iter (int): Iterations with the regularizer switched off (the
            base model's update; logged as ``adv_eps`` 0).
        ramp_iters (int): Iterations from 0 to the target (0: a step).
        target_eps (float | None): Gray levels; ``None`` takes the model's
            ``adv_cfg.eps``.
        ramp (str): ``'linear'`` or ``'cosine'``.
    """

    def __init__(self, start_iter=0, ramp_iters=0, target_eps=None,
                 ramp='linear'):
        owner = 'AdvEpsScheduleHook'
        check_int(owner, 'start_iter', start_iter, 0)
        check_int(owner, 'ramp_iters', ramp_iters, 0)
        check_choice(owner, 'ramp', ramp, RAMPS)
        if target_eps is not None:
            check_number(owner, 'target_eps', target_eps, 0.0, 255.0)
        self.start_iter = start_iter
        self.ramp_iters = ramp_iters
        self.target_eps = target_eps
        self.ramp = ramp

    def eps_at(self, iteration):
        """The budget (gray levels) used at ``iteration``."""
        progress = (iteration - self.start_iter + 1) / self.ramp_iters \
            if self.ramp_iters else 1.0
        if iteration < self.start_iter:
            progress = 0.0
        progress = min(max(progress, 0.0), 1.0)
        if self.ramp == 'cosine':
            progress = 0.5 - 0.5 * math.cos(math.pi * progress)
        return self.target_eps * progress

    def before_run(self, runner):
        model = unwrap(runner.model)
        regularizer = getattr(model, 'adv', None)
        if regularizer is None or not hasattr(regularizer, 'eps'):
            raise ConfigError(
                'AdvEpsScheduleHook needs a model trained with an attack in '
                f'adv_cfg (got {type(model).__name__} without one)')
        if self.target_eps is None:
            self.target_eps = regularizer.eps
        if self.target_eps > regularizer.max_eps:
            raise ConfigError(
                f'AdvEpsScheduleHook.target_eps={self.target_eps} is above '
                f'what {type(regularizer).__name__} accepts '
                f'({regularizer.max_eps})')
        self._regularizer = regularizer

    def before_train_iter(self, runner):
        eps = self.eps_at(runner.iter)
        self._regularizer.active = runner.iter >= self.start_iter
        self._regularizer.eps = eps
        runner.log_buffer.update(dict(adv_eps=eps))
