"""Adversarial training of the discriminator: the D update of one iteration.

A regularizer is built from a model's ``adv_cfg`` and owns the
discriminator's update; the model (``AdvUnconditionalGAN``,
``AdvConditionalGAN``, ``SSGAN``, ``RobGAN``) owns everything else: data,
fakes, the generator step, the optimizers. The two meet through
:class:`~mmgen_adv.models.adversarial_gan.DiscStep`.

Where the attack direction is a per-sample sign of the input gradient of
the clean discriminator loss, it is read from the standard D backward
(``x.grad``) instead of being computed in a separate pass, as both papers
point out; ``attack_pass='separate'`` computes it with its own backward
through the clean forward's graph, for comparison.
"""
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from .. import attacks
from ..errors import ConfigError
from .builder import ADV_REGULARIZERS, check_choice, check_number
from .gan_losses import per_sample_gan_loss, per_sample_output

ATTACK_PASSES = ('auto', 'backward', 'separate')
# eps beyond a quarter of the 8-bit range destroys the image, not a
# robustness test; AS-GAN finds 4/255 already harmful
MAX_SIGN_EPS = 64.0


def couples_samples(disc):
    """Whether ``disc``'s output for one sample depends on the others.

    BatchNorm in training mode and minibatch-stddev layers mix the batch, so
    a per-sample input gradient cannot be read off the batch loss's.
    """
    for module in disc.modules():
        if isinstance(module, _BatchNorm) and module.training:
            return True
        if 'stddev' in type(module).__name__.lower():
            return True
    return False


def aux_losses_reading_predictions(model):
    """Names of auxiliary D losses whose value depends on D's predictions
    (their gradient would reach the images in the standard backward)."""
    found = []
    for module in getattr(model, 'disc_auxiliary_losses', None) or []:
        data_info = getattr(module, 'data_info', None)
        if data_info is None or any(
                str(key).startswith('disc_pred')
                for key in data_info.values()):
            found.append(type(module).__name__)
    return found


class StandardUpdate:
    """The toolbox's D update, for models with loss terms of their own."""

    @staticmethod
    def disc_step(step):
        step.backward(step.clean_losses(step.clean_forward()))
        step.step()


STANDARD_UPDATE = StandardUpdate()


class AdversarialRegularizer:
    """Shared parts of the regularizers (ASGAN, DAT, PGD).

    Args:
        eps (float): Attack budget in 8-bit gray levels (``1.0`` is the
            papers' 1/255); converted to mmgen's [-1, 1] input scale.
        attack_pass (str): ``'auto'`` takes the input gradient from the
            standard D backward where that is exact, else runs a separate
            input-gradient pass; ``'backward'`` insists on the former,
            ``'separate'`` always does the latter.
    """

    #: hints for keys that belong to another regularizer
    key_hints = {}
    max_eps = MAX_SIGN_EPS

    def __init__(self, eps, attack_pass='auto'):
        name = type(self).__name__
        check_number(f'adv_cfg ({name})', 'eps', eps, 0.0, self.max_eps)
        check_choice(f'adv_cfg ({name})', 'attack_pass', attack_pass,
                     ATTACK_PASSES)
        self.eps = float(eps)
        self.attack_pass = attack_pass

    @property
    def eps_input(self):
        """``eps`` in the model's input scale."""
        return attacks.gray_levels(self.eps)

    def bind(self, model):
        """Check the settings against ``model``; choose the gradient path."""
        blockers = self._backward_blockers(model)
        if self.attack_pass == 'backward' and blockers:
            raise ConfigError(
                f"adv_cfg.attack_pass='backward' is not exact here: "
                f"{'; '.join(blockers)}. Use 'auto' or 'separate'")
        self.grad_from_backward = self.attack_pass != 'separate' and \
            not blockers

    def _backward_blockers(self, model):
        readers = aux_losses_reading_predictions(model)
        if readers:
            return [f'auxiliary losses {readers} add to the loss on D\'s '
                    'predictions']
        return []

    def disc_step(self, step):
        if self.eps == 0:
            # nothing to perturb (e.g. an eps schedule's warm-up): train as
            # the base model does, without paying for an attack
            STANDARD_UPDATE.disc_step(step)
        else:
            self.adversarial_disc_step(step)

    def adversarial_disc_step(self, step):
        raise NotImplementedError

    # -- logging helpers --------------------------------------------------
    @staticmethod
    def attack_stats(name, clean, adv, pred, pred_adv):
        """Mean |delta| in gray levels and the mean gap D(x_adv) - D(x)."""
        return {
            f'adv_delta_{name}': (adv - clean).abs().mean() * 127.5,
            f'adv_gap_{name}': (pred_adv - pred.detach()).mean(),
        }


@ADV_REGULARIZERS.register_module()
class ASGAN(AdversarialRegularizer):
    """AS-GAN: adversarial training of D on real samples (symmetric GANs).

    After the standard D step, D takes a second step on real images moved
    by ``eps * sign(grad_x L_D)`` (the paper's Eq. 9-10), the gradient
    being the one the standard step's backward already computed.

    Args:
        eps (float): Perturbation size in gray levels. The paper's default
            is ``1.0``; it finds 0.5-3 helpful and 4 harmful.
        perturb_fake (bool): Also move the fake images along their own loss
            gradient and train on them in the adversarial step.
        update (str): ``'second_step'`` (paper): a second optimizer step on
            the adversarial batch; ``'joint'``: one step on clean plus
            adversarial loss.
        direction (str): ``'grad'`` (paper) or ``'gaussian'``: the paper's
            ablation with a random sign direction.
        attack_pass (str): See :class:`AdversarialRegularizer`.
    """
    key_hints = dict(
        lambda_adv='loss weights are DAT options; ASGAN weighs clean and '
        "adversarial terms equally, with update='second_step' or 'joint'",
        lambda_clean='loss weights are DAT options',
        variant="variant is a DAT option; ASGAN has direction='grad' or "
        "'gaussian'")

    def __init__(self,
                 eps=1.0,
                 perturb_fake=False,
                 update='second_step',
                 direction='grad',
                 attack_pass='auto'):
        super().__init__(eps, attack_pass)
        check_choice('adv_cfg (ASGAN)', 'update', update,
                     ('second_step', 'joint'))
        check_choice('adv_cfg (ASGAN)', 'direction', direction,
                     ('grad', 'gaussian'))
        if not isinstance(perturb_fake, bool):
            raise ConfigError('adv_cfg (ASGAN).perturb_fake must be True or '
                              f'False, got {perturb_fake!r}')
        self.perturb_fake = perturb_fake
        self.update = update
        self.direction = direction

    def bind(self, model):
        super().bind(model)
        if self.update == 'second_step' and model.accumulation_steps > 1:
            raise ConfigError(
                "adv_cfg (ASGAN).update='second_step' takes a second "
                'optimizer step within the iteration, which cannot be '
                'combined with batch_accumulation_steps='
                f"{model.accumulation_steps}; use update='joint'")

    def adversarial_disc_step(self, step):
        with_grad = self.direction == 'grad'
        clean = step.clean_forward(
            grad_real=with_grad, grad_fake=with_grad and self.perturb_fake)
        names = ['real'] + (['fake'] if self.perturb_fake else [])
        if with_grad and not self.grad_from_backward:
            objectives = [
                step.gan_loss(clean.pred[name], name == 'real')
                for name in names
            ]
            grads = torch.autograd.grad(
                sum(objectives), [clean.images[n] for n in names],
                retain_graph=True)
        step.backward(step.clean_losses(clean))
        if with_grad and self.grad_from_backward:
            grads = [clean.images[name].grad for name in names]
        if self.update == 'second_step':
            step.step()
            step.restart()

        adv_losses, stats = {}, {}
        for i, name in enumerate(names):
            images = step.batch.images(name)
            if with_grad:
                adv = attacks.sign_step(images, grads[i], self.eps_input)
            else:
                adv = attacks.gaussian_direction(images, self.eps_input)
            pred_adv = step.disc_forward(adv, step.batch.labels(name))
            adv_losses[f'loss_disc_adv_{name}'] = step.gan_loss(
                pred_adv, name == 'real')
            stats[name] = (images, adv, clean.pred[name], pred_adv)
        step.backward(adv_losses)
        for name, (images, adv, pred, pred_adv) in stats.items():
            if self.update == 'second_step':
                # D has changed since the clean forward: compare like with
                # like (no graph; BatchNorm/SN state left as it was)
                with torch.no_grad(), attacks.untouched(
                        step.model.unwrapped_discriminator):
                    pred = step.disc_forward(images, step.batch.labels(name))
            step.log(self.attack_stats(name, images, adv, pred, pred_adv))
        step.step()


@ADV_REGULARIZERS.register_module()
class DAT(AdversarialRegularizer):
    """Direct Adversarial Training: one D step on clean and attacked data.

    Real and fake images are moved by a one-step targeted attack toward
    the other class's mean output (the paper's Eq. 9-10), and D minimises
    ``lambda_clean * L(clean) + lambda_adv * L(adversarial)``. Auxiliary
    losses of the base model (gradient penalty, R1) stay on the clean
    batch, unweighted.

    Args:
        eps (float): Gray levels. ``variant='paper'``: the sign step's size
            (default ``1.0``; the paper gives no value). ``'reference'``:
            the clamp on the raw gradient step (default ``127.5``: the
            official code's clamp of 1 in [-1, 1] units).
        lambda_clean (float): Weight of the clean GAN loss. Defaults to 1
            (``'paper'``) or 0 (``'reference'``: adversarial loss only).
        lambda_adv (float): Weight of the adversarial GAN loss. ``0`` gives
            exactly the base model's update.
        variant (str): ``'paper'``: per-sample distance
            ``|g(D(x_i)) - mean g(D(x_other))|`` on the GAN loss transform
            ``g`` and an ``eps``-sign step. ``'reference'``: the official
            code's ``|mean D(x) - mean D(x_other)|`` on raw outputs and a
            raw gradient step clamped to ``eps``.
        attack_pass (str): See :class:`AdversarialRegularizer`. The
            standard backward gives the paper variant's direction exactly
            when D treats samples independently and ``lambda_clean > 0``.
    """
    key_hints = dict(
        update="update is an ASGAN option; DAT always takes one step",
        direction='direction is an ASGAN option',
        perturb_fake='DAT always perturbs real and fake images')

    def __init__(self,
                 eps=None,
                 lambda_clean=None,
                 lambda_adv=1.0,
                 variant='paper',
                 attack_pass='auto'):
        check_choice('adv_cfg (DAT)', 'variant', variant,
                     attacks.DAT_VARIANTS)
        paper = variant == 'paper'
        eps = (1.0 if paper else 127.5) if eps is None else eps
        # a sign step is as large as eps everywhere; the reference clamp
        # only bounds a gradient step (the official code's is 127.5)
        self.max_eps = MAX_SIGN_EPS if paper else 255.0
        super().__init__(eps, attack_pass)
        lambda_clean = (1.0 if paper else 0.0) if lambda_clean is None \
            else lambda_clean
        check_number('adv_cfg (DAT)', 'lambda_clean', lambda_clean, 0.0)
        check_number('adv_cfg (DAT)', 'lambda_adv', lambda_adv, 0.0)
        if lambda_clean == 0 and lambda_adv == 0:
            raise ConfigError('adv_cfg (DAT): lambda_clean and lambda_adv '
                              'cannot both be 0')
        self.variant = variant
        self.lambda_clean = float(lambda_clean)
        self.lambda_adv = float(lambda_adv)

    def _backward_blockers(self, model):
        blockers = super()._backward_blockers(model)
        if self.variant != 'paper':
            blockers.append("variant='reference' steps along the raw "
                            'gradient of its own distance')
        if self.lambda_clean == 0:
            blockers.append('lambda_clean=0: there is no clean backward')
        if couples_samples(model.unwrapped_discriminator):
            blockers.append('the discriminator mixes samples (BatchNorm or '
                            'minibatch stddev), so per-sample directions '
                            'differ from the batch loss gradient')
        return blockers

    def _scores(self, step, pred, as_real):
        """Per-sample scores the attack compares (g(D(x)) or raw D(x))."""
        if self.variant == 'paper':
            return per_sample_gan_loss(step.model.gan_loss, pred, as_real)
        return per_sample_output(pred)

    def adversarial_disc_step(self, step):
        attack = self.lambda_adv > 0
        clean = step.clean_forward(grad_real=attack, grad_fake=attack)
        clean_losses = step.clean_losses(clean, gan_weight=self.lambda_clean)
        if not attack:  # exactly the base model's update
            step.backward(clean_losses)
            step.step()
            return

        # each class is pulled toward the other's mean score (Eq. 9)
        pred_real, pred_fake = clean.pred['real'], clean.pred['fake']
        with torch.no_grad():
            target = dict(
                real=self._scores(step, pred_fake, True).mean(),
                fake=self._scores(step, pred_real, False).mean())
        if self.grad_from_backward:
            # d|g_i - t|/dx_i = sign(g_i - t) * dg_i/dx_i, and the clean
            # loss's x_i.grad is a positive multiple of dg_i/dx_i
            step.backward(clean_losses)
            grads = {}
            for name in ('real', 'fake'):
                with torch.no_grad():
                    side = torch.sign(
                        self._scores(step, clean.pred[name], name == 'real')
                        - target[name])
                grads[name] = clean.images[name].grad * side.view(
                    -1, *[1] * (clean.images[name].dim() - 1))
        else:
            distance = sum(
                attacks.dat_distance(
                    self._scores(step, clean.pred[name], name == 'real'),
                    target[name], self.variant) for name in ('real', 'fake'))
            grad_real, grad_fake = torch.autograd.grad(
                distance, [clean.images['real'], clean.images['fake']],
                retain_graph=True)
            grads = dict(real=grad_real, fake=grad_fake)
            step.backward(clean_losses)

        adv_losses = {}
        for name in ('real', 'fake'):
            images = step.batch.images(name)
            adv = attacks.dat_step(images, grads[name], self.eps_input,
                                   self.variant)
            pred_adv = step.disc_forward(adv, step.batch.labels(name))
            adv_losses[f'loss_disc_adv_{name}'] = self.lambda_adv * \
                step.gan_loss(pred_adv, name == 'real')
            adv_losses.update(
                self.attack_stats(name, images, adv, clean.pred[name],
                                  pred_adv))
        step.backward(adv_losses)
        step.step()



@ADV_REGULARIZERS.register_module()
class PGD(AdversarialRegularizer):
    """Rob-GAN's attacker: before every D update, the real images are
    replaced by a multi-step PGD attack on D's loss for them; D trains on
    the attacked reals and the clean fakes. Every term of the D loss that
    reads real images (Rob-GAN's class loss, a gradient penalty, SSGAN's
    rotation loss) sees the attacked ones.

    The attack maximises ``model.real_attack_objective`` (the D loss on real
    images; Rob-GAN's real/fake plus class loss), with sign steps projected
    onto the ``eps`` ball and the image range, as the official code's
    ``attack_Linf_PGD``.

    Args:
        eps (float): L-inf budget in gray levels. Default 4 (the official
            0.03125 in [-1, 1] units).
        step_size (float): Gray levels per step. Default 1 (the official
            0.0078).
        steps (int): Attack steps. Default 5.
        random_start (bool): Start from a random point of the ball (the
            official code does not).
        attack_mode (str): ``'eval'`` (official: D in inference mode while
            attacking) or ``'train'``.
    """
    key_hints = dict(
        lambda_adv='D trains on attacked reals only; there is no loss weight',
        variant='variant is a DAT option')

    def __init__(self,
                 eps=4.0,
                 step_size=1.0,
                 steps=5,
                 random_start=False,
                 attack_mode='eval'):
        super().__init__(eps, attack_pass='separate')
        check_number('adv_cfg (PGD)', 'step_size', step_size, 0.0,
                     MAX_SIGN_EPS, low_open=True)
        if isinstance(steps, bool) or not isinstance(steps, int) or \
                not 1 <= steps <= 1000:
            raise ConfigError('adv_cfg (PGD).steps must be an int in [1, '
                              f'1000], got {steps!r}')
        if not isinstance(random_start, bool):
            raise ConfigError('adv_cfg (PGD).random_start must be True or '
                              f'False, got {random_start!r}')
        check_choice('adv_cfg (PGD)', 'attack_mode', attack_mode,
                     ('eval', 'train'))
        self.step_size = float(step_size)
        self.steps = steps
        self.random_start = random_start
        self.attack_mode = attack_mode

    def attack(self, model, images, labels):
        """PGD adversarial examples of ``images`` for ``model``'s D."""
        return attacks.pgd(
            model.unwrapped_discriminator,
            images,
            lambda out: model.real_attack_objective(out, labels),
            self.eps_input,
            attacks.gray_levels(self.step_size),
            self.steps,
            labels=labels,
            random_start=self.random_start,
            mode=self.attack_mode,
            disc_kwargs=model.attack_disc_kwargs)

    def adversarial_disc_step(self, step):
        clean_real = step.batch.real
        step.batch = step.batch.with_real(
            self.attack(step.model, clean_real, step.batch.real_label))
        step.backward(step.clean_losses(step.clean_forward()))
        step.log(dict(adv_delta_real=(step.batch.real - clean_real).abs()
                      .mean() * 127.5))
        step.step()
