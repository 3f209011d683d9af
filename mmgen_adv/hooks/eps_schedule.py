"""A warm-up schedule for the attack budget of adversarial D training."""
import math

from mmcv.parallel import is_module_wrapper
from mmcv.runner import HOOKS, Hook

from ..errors import ConfigError

RAMPS = ('linear', 'cosine')


def unwrap_model(runner):
    model = runner.model
    return model.module if is_module_wrapper(model) else model


@HOOKS.register_module()
class AdvEpsScheduleHook(Hook):
    """Hold ``eps`` at 0 for ``start_iter`` iterations, then ramp it to the
    target over ``ramp_iters`` (AS-GAN advises starting without
    perturbation, while D is weak).

    The value depends on the iteration alone, so runs resumed with
    ``--resume-from`` continue on the schedule, and every rank of a
    distributed run sets the same value. The current eps is logged as
    ``adv_eps`` (gray levels).

    Args:
        start_iter (int): Iterations with ``eps = 0`` (the base model's
            update).
        ramp_iters (int): Iterations from 0 to the target (0: a step).
        target_eps (float | None): Gray levels; ``None`` takes the model's
            ``adv_cfg.eps``.
        ramp (str): ``'linear'`` or ``'cosine'``.
    """

    def __init__(self, start_iter=0, ramp_iters=0, target_eps=None,
                 ramp='linear'):
        for key, value in (('start_iter', start_iter), ('ramp_iters',
                                                        ramp_iters)):
            if isinstance(value, bool) or not isinstance(value, int) or \
                    value < 0:
                raise ConfigError(f'AdvEpsScheduleHook.{key} must be an int '
                                  f'>= 0, got {value!r}')
        if ramp not in RAMPS:
            raise ConfigError(f'AdvEpsScheduleHook.ramp must be one of '
                              f'{list(RAMPS)}, got {ramp!r}')
        if target_eps is not None and (
                isinstance(target_eps, bool)
                or not isinstance(target_eps, (int, float))
                or not 0 <= target_eps <= 255):
            raise ConfigError('AdvEpsScheduleHook.target_eps must be a '
                              f'number of gray levels in [0, 255] or None, '
                              f'got {target_eps!r}')
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
        regularizer = getattr(unwrap_model(runner), 'adv', None)
        if regularizer is None or not hasattr(regularizer, 'eps'):
            raise ConfigError(
                'AdvEpsScheduleHook needs a model trained with adv_cfg '
                f'(got {type(unwrap_model(runner)).__name__} without one)')
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
        self._regularizer.eps = eps
        runner.log_buffer.update(dict(adv_eps=eps))
