"""AS-GAN: adversarial training of D on real samples (Liu et al., "symmetric
adversarial training"), seed paper 001."""
import functools

import torch

from ...checks import check_bool, check_choice, check_int
from ...errors import ConfigError
from .. import attacks
from ..scores import SCORES, is_proportional_to_loss, resolve_score
from .base import AttackRegularizer
from .registry import REGULARIZERS


@REGULARIZERS.register_module()
class ASGAN(AttackRegularizer):
    """The standard D step, then a second D step on attacked real images.

    The reals are moved by ``eps * sign(grad_x)`` of their D loss (Eq. 9-10),
    the gradient read off the standard step's backward where that is exact.

    Args:
        eps (float): Gray levels (``1.0`` is the paper's 1/255, assuming its
            images are on a [0, 1] scale: the paper has no public code). The
            paper finds 0.5-3 helpful and 4 harmful. ``0`` is the paper's
            "eps = 0" point: D updated twice on the same real images.
        score (str): What the attack raises. ``'loss'``: the paper's literal
            ``sign(grad_x L_D)``, which does not move reals beyond the hinge
            margin (D > 1) and moves reals above the real label up under
            LSGAN; ``'output'``: D's raw output, moving every real toward
            "fake"; ``'auto'`` (default): ``'loss'`` for the monotone
            losses (``vanilla``, as the paper's DCGAN, ``wgan``,
            ``wgan-logistic-ns``), ``'output'`` for ``hinge`` and ``lsgan``
            (see :mod:`~mmgen_adv.methods.scores`).
        perturb_fake (bool): Also move the fakes (toward "real") and train
            on them in the adversarial step.
        update (str): ``'second_step'`` (paper): a second optimizer step on
            the adversarial batch; ``'joint'``: one step on the clean plus
            the adversarial loss.
        second_step_fakes (bool): With ``update='second_step'``, the second
            step's loss also has the (clean) fake term, as the paper's
            ``V_m`` in Eq. 9 does. Default ``False``: reals only, which is
            what the paper's "+25% computation" implies.
        direction (str): ``'grad'`` (paper) or ``'gaussian'``: the paper's
            ablation with a random sign direction.
        gap_interval (int): With ``update='second_step'``, log the gap
            ``D(x_adv) - D(x)`` (under the updated D) every this many
            iterations, at the cost of one D forward on the clean batch;
            ``0``: never. Every iteration with ``'joint'`` (free there).
        attack_pass (str): See :class:`AttackRegularizer`.

    With an fp16 loss scaler, the second step is a second scaler step: the
    scaler is updated between the two (see ``DiscStep.restart``).
    """
    def __init__(self,
                 eps=1.0,
                 score='auto',
                 perturb_fake=False,
                 update='second_step',
                 second_step_fakes=False,
                 direction='grad',
                 gap_interval=100,
                 attack_pass='auto'):
        super().__init__(eps, attack_pass)
        check_choice(self.owner, 'score', score, SCORES)
        check_bool(self.owner, 'perturb_fake', perturb_fake)
        check_choice(self.owner, 'update', update, ('second_step', 'joint'))
        check_bool(self.owner, 'second_step_fakes', second_step_fakes)
        check_choice(self.owner, 'direction', direction, ('grad', 'gaussian'))
        check_int(self.owner, 'gap_interval', gap_interval, 0)
        if second_step_fakes and (update != 'second_step' or perturb_fake):
            raise ConfigError(
                f'{self.owner}.second_step_fakes=True adds the clean fakes '
                "to update='second_step', which has no fakes otherwise; it "
                f'cannot be combined with update={update!r} and '
                f'perturb_fake={perturb_fake}')
        self.score_setting = score
        self.perturb_fake = perturb_fake
        self.update = update
        self.second_step_fakes = second_step_fakes
        self.direction = direction
        self.gap_interval = gap_interval
        self.sides = ('real', 'fake') if perturb_fake else ('real', )

    def bind(self, host):
        self.score = resolve_score(self.score_setting, host.gan_loss)
        super().bind(host)
        if self.update == 'second_step' and host.accumulation_steps > 1:
            raise ConfigError(
                f"{self.owner}.update='second_step' takes a second "
                'optimizer step within the iteration, which cannot be '
                'combined with batch_accumulation_steps='
                f"{host.accumulation_steps}; use update='joint'")

    def objective_is_loss(self, host):
        return is_proportional_to_loss(host.gan_loss, self.score)

    def objective(self, step, side, pred):
        """What the attack raises on ``side``: its summed per-sample D
        loss (it moves reals toward "fake", fakes toward "real")."""
        return step.score(pred, side, self.score).sum()

    def regularized_disc_step(self, step):
        attack = self.direction == 'grad' and self.eps > 0
        # clean: the standard D update, reading the attack's direction
        clean = step.clean_forward(grad_sides=self.sides if attack else ())
        objectives = {
            side: functools.partial(self.objective, step, side)
            for side in self.sides
        } if attack else {}
        grads = step.input_gradients(clean, step.clean_losses(clean),
                                     objectives,
                                     self.attack_pass_for(step, clean))
        second_step = self.update == 'second_step'
        if second_step:
            step.step()
            step.restart()

        # attack, then D's loss on the attacked batch
        losses, attacked = {}, {}
        for side in self.sides:
            images = step.batch.images(side)
            adv = self.perturb(images, grads.get(side))
            pred_adv = step.disc(adv, side)
            losses[f'loss_disc_adv_{side}'] = step.gan_loss(pred_adv, side)
            attacked[side] = (images, adv, clean.pred[side], pred_adv)
        if self.second_step_fakes:
            losses['loss_disc_fake_second_step'] = step.gan_loss(
                step.disc(step.batch.fake, 'fake'), 'fake')
        step.backward(losses)
        step.log(self.stats(step, attacked))
        step.step()

    def stats(self, step, attacked):
        """|delta| always; the gap D(x_adv) - D(x) where it is free or due.

        After a second step D has changed since the clean forward, so the
        gap needs a new forward on the clean images (after the backward: it
        must not touch buffers the backward still reads)."""
        second_step = self.update == 'second_step'
        measure_gap = not second_step or (
            self.gap_interval and
            (step.iteration + 1) % self.gap_interval == 0)
        stats = {}
        for side, (images, adv, pred, pred_adv) in attacked.items():
            if not measure_gap:
                pred = pred_adv = None
            elif second_step:
                with torch.no_grad(), attacks.untouched(step.discriminator):
                    pred = step.disc(images, side)
            stats.update(self.attack_stats(side, images, adv, pred,
                                           pred_adv))
        return stats

    def perturb(self, images, grad):
        if self.eps == 0:
            return images
        if self.direction == 'gaussian':
            return attacks.gaussian_direction(images, self.eps_input)
        return attacks.sign_step(images, grad, self.eps_input)
