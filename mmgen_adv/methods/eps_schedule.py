"""A warm-up schedule for the attack budget of adversarial D training, the
part every host's ``AdvEpsScheduleHook`` shares: its settings, the value at
an iteration, and the regularizer it drives."""
import math

from ..checks import check_choice, check_int, check_number
from ..errors import ConfigError

RAMPS = ('linear', 'cosine')


class EpsSchedule:
    """Train without the attack for ``start_iter`` iterations (the base
    model's update), then ramp ``eps`` from 0 to the target over
    ``ramp_iters`` (AS-GAN advises starting without perturbation, while D is
    weak).

    The value depends on the iteration alone, so resumed runs continue on
    the schedule, and every rank of a distributed run sets the same value.
    A host's hook calls :meth:`bind` before training and :meth:`apply`
    before every iteration, and logs what it returns as ``adv_eps``.

    Args:
        start_iter (int): Iterations with the regularizer switched off (the
            base model's update; logged as ``adv_eps`` 0).
        ramp_iters (int): Iterations from 0 to the target (0: a step).
        target_eps (float | None): Gray levels; ``None`` takes the model's
            ``adv_cfg.eps``.
        ramp (str): ``'linear'`` or ``'cosine'``.
    """

    owner = 'AdvEpsScheduleHook'  # how refusals name the settings

    def __init__(self, start_iter=0, ramp_iters=0, target_eps=None,
                 ramp='linear'):
        check_int(self.owner, 'start_iter', start_iter, 0)
        check_int(self.owner, 'ramp_iters', ramp_iters, 0)
        check_choice(self.owner, 'ramp', ramp, RAMPS)
        if target_eps is not None:
            check_number(self.owner, 'target_eps', target_eps, 0.0, 255.0)
        self.start_iter = start_iter
        self.ramp_iters = ramp_iters
        self.target_eps = target_eps
        self.ramp = ramp
        self._regularizer = None

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

    def bind(self, model):
        """Take the regularizer of ``model`` (the bare model, its ``adv``)
        to drive; the target defaults to its eps and must be within what it
        accepts."""
        regularizer = getattr(model, 'adv', None)
        if regularizer is None or not hasattr(regularizer, 'eps'):
            raise ConfigError(
                f'{self.owner} needs a model trained with an attack in '
                f'adv_cfg (got {type(model).__name__} without one)')
        if self.target_eps is None:
            self.target_eps = regularizer.eps
        if self.target_eps > regularizer.max_eps:
            raise ConfigError(
                f'{self.owner}.target_eps={self.target_eps} is above '
                f'what {type(regularizer).__name__} accepts '
                f'({regularizer.max_eps})')
        self._regularizer = regularizer

    def apply(self, iteration):
        """Set the bound regularizer for ``iteration`` (off before
        ``start_iter``, then the scheduled eps); returns that eps."""
        eps = self.eps_at(iteration)
        self._regularizer.active = iteration >= self.start_iter
        self._regularizer.eps = eps
        return eps
