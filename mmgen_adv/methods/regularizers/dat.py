"""DAT: direct adversarial training of the discriminator (Li et al.), seed
papers 002 and 004, and its official code (a fork of mimicry)."""
import functools

import torch

from ...checks import check_choice, check_number
from ...errors import ConfigError
from .. import attacks
from ..disc_step import SIDES
from ..scores import SCORES, resolve_score
from .base import MAX_GRADIENT_EPS, MAX_SIGN_EPS, AttackRegularizer
from .registry import REGULARIZERS


class PaperVariant:
    """The paper's Eq. 8-10: each sample's distance to the other class's
    mean score, ``sum_i |s(x_i) - mean_j s(x_other_j)|``; D trained on
    ``lambda_clean * L(clean) + lambda_adv * L(attacked)``."""
    name = 'paper'
    defaults = dict(lambda_clean=1.0, step='sign', score='auto')

    @staticmethod
    def distance(scores, target):
        return (scores - target).abs().sum()


class ReferenceVariant:
    """The official code: the batch mean's distance, ``|mean_i s(x_i) -
    mean_j s(x_other_j)|`` (so each pixel's gradient carries a 1/N), a raw
    gradient step clamped to 1 in [-1, 1] units, and D trained on the
    attacked batch only."""
    name = 'reference'
    defaults = dict(
        lambda_clean=0.0, step='clamped_gradient', score='output')

    @staticmethod
    def distance(scores, target):
        return (scores.mean() - target).abs()


VARIANTS = {v.name: v for v in (PaperVariant, ReferenceVariant)}


class StepRule:
    """How a direction moves the images, and what ``eps`` means for it."""

    def __init__(self, name, perturb, default_eps, max_eps, needs_size):
        self.name, self.perturb = name, perturb
        self.default_eps, self.max_eps = default_eps, max_eps
        #: the rule uses the gradient's size, not just its sign
        self.needs_size = needs_size


STEP_RULES = {
    rule.name: rule
    for rule in (
        # x + eps * sign(direction): the FGSM step of the DAT paper's Fig. 2
        StepRule('sign', attacks.sign_step, 1.0, MAX_SIGN_EPS, False),
        # x + eps * direction: Eq. 10 and Algorithm 1 as written
        StepRule('gradient',
                 lambda x, d, eps: attacks.gradient_step(x, d, scale=eps),
                 1.0, MAX_GRADIENT_EPS, True),
        # x + clamp(direction, -eps, eps): the official code (eps 1 there)
        StepRule('clamped_gradient',
                 lambda x, d, eps: attacks.gradient_step(x, d, clamp=eps),
                 127.5, MAX_GRADIENT_EPS, True),
    )
}


@REGULARIZERS.register_module()
class DAT(AttackRegularizer):
    """Direct Adversarial Training: one D step on clean and attacked data.

    Real and fake images are moved by a one-step targeted attack toward the
    other class's mean score (Eq. 9-10: reals toward the fakes' mean, fakes
    toward the reals'). Auxiliary losses of the base model (gradient
    penalty, R1, SSGAN's rotation loss) stay on the clean batch, unweighted.

    Args:
        eps (float): Gray levels; its meaning follows ``step``. ``'sign'``:
            the step's size (default 1). ``'gradient'``: the multiplier of
            the raw gradient (Eq. 10's epsilon is ``eps * 2/255``; default
            1). ``'clamped_gradient'``: the clamp on each pixel's raw
            gradient step (default 127.5: the official code's 1 in [-1, 1]
            units).
        lambda_clean (float): Weight of the clean GAN loss. Default: 1
            (``'paper'``) or 0 (``'reference'``: attacked batch only).
        lambda_adv (float): Weight of the adversarial GAN loss. ``0`` gives
            exactly the base model's update (scaled by ``lambda_clean``).
        variant (str): ``'paper'`` (per-sample distances) or
            ``'reference'`` (the official code's batch-mean distance); see
            :class:`PaperVariant`, :class:`ReferenceVariant`.
        step (str): ``'sign'``, ``'gradient'`` or ``'clamped_gradient'``
            (see ``eps``). Default: ``'sign'`` (``'paper'``; Eq. 10 is
            ``'gradient'``) or ``'clamped_gradient'`` (``'reference'``).
        score (str): What is compared. ``'loss'``: the paper's
            ``g(D(x))``, the GAN loss per sample, with a dead zone under
            hinge and the wrong direction above the real label under LSGAN;
            ``'output'``: D's raw output (the official code's), which moves
            every sample toward the other class's mean. Default: ``'auto'``
            (``'paper'``: ``'loss'`` for the monotone losses, ``'output'``
            for hinge and LSGAN; see :mod:`~mmgen_adv.methods.scores`)
            or ``'output'`` (``'reference'``).
        attack_pass (str): See :class:`AttackRegularizer`. The
            standard backward gives the direction exactly for a sign step
            when D treats samples independently and ``lambda_clean > 0``.
    """
    def __init__(self,
                 eps=None,
                 lambda_clean=None,
                 lambda_adv=1.0,
                 variant='paper',
                 step=None,
                 score=None,
                 attack_pass='auto'):
        check_choice('adv_cfg (DAT)', 'variant', variant, list(VARIANTS))
        self.variant = VARIANTS[variant]
        step = self.variant.defaults['step'] if step is None else step
        check_choice('adv_cfg (DAT)', 'step', step, list(STEP_RULES))
        self.step_rule = STEP_RULES[step]
        self.max_eps = self.step_rule.max_eps
        super().__init__(self.step_rule.default_eps if eps is None else eps,
                         attack_pass)
        lambda_clean = self.variant.defaults['lambda_clean'] \
            if lambda_clean is None else lambda_clean
        check_number(self.owner, 'lambda_clean', lambda_clean, 0.0)
        check_number(self.owner, 'lambda_adv', lambda_adv, 0.0)
        if lambda_clean == 0 and lambda_adv == 0:
            raise ConfigError(f'{self.owner}: lambda_clean and lambda_adv '
                              'cannot both be 0')
        score = self.variant.defaults['score'] if score is None else score
        check_choice(self.owner, 'score', score, SCORES)
        self.lambda_clean = float(lambda_clean)
        self.lambda_adv = float(lambda_adv)
        self.score_setting = score

    def bind(self, host):
        self.score = resolve_score(self.score_setting, host.gan_loss)
        super().bind(host)

    def backward_blockers(self, host):
        blockers = super().backward_blockers(host)
        if self.step_rule.needs_size:
            blockers.append(f"step={self.step_rule.name!r} needs the "
                            "gradient's size, not just its sign")
        if self.lambda_clean == 0:
            blockers.append('lambda_clean=0: there is no clean backward')
        return blockers

    def targets(self, step, clean):
        """Each side's target: the other side's mean score, scored as this
        side's (Eq. 9: reals move toward the fakes and vice versa)."""
        with torch.no_grad():
            return {
                side: step.score(clean.pred[other], side, self.score).mean()
                for side, other in zip(SIDES, reversed(SIDES))
            }

    def objective(self, step, side, target, pred):
        """What the attack raises: minus the variant's distance."""
        return -self.variant.distance(step.score(pred, side, self.score),
                                      target)

    def regularized_disc_step(self, step):
        if self.lambda_adv == 0:
            clean = step.clean_forward()
            step.backward(
                step.clean_losses(clean, gan_weight=self.lambda_clean))
            step.step()
            return
        attack = self.eps > 0
        # clean: the clean loss and the attack's direction
        clean = step.clean_forward(grad_sides=SIDES if attack else ())
        losses = step.clean_losses(clean, gan_weight=self.lambda_clean)
        objectives = {}
        if attack:
            targets = self.targets(step, clean)
            objectives = {
                side: functools.partial(self.objective, step, side,
                                        targets[side])
                for side in SIDES
            }
        grads = step.input_gradients(clean, losses, objectives,
                                     self.attack_pass_for(step, clean))
        # attack, then D's loss on the attacked batch; one step for both
        adv_losses, stats = {}, {}
        for side in SIDES:
            images = step.batch.images(side)
            adv = self.step_rule.perturb(images, grads[side],
                                         self.eps_input) if attack else images
            pred_adv = step.disc(adv, side)
            adv_losses[f'loss_disc_adv_{side}'] = self.lambda_adv * \
                step.gan_loss(pred_adv, side)
            stats.update(self.attack_stats(side, images, adv,
                                           clean.pred[side], pred_adv))
        step.backward(adv_losses)
        step.log(stats)
        step.step()
