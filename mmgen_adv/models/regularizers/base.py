"""What every adversarial regularizer shares: its budget, on/off state, and
the choice of where its attack's input gradient comes from."""
from torch.nn.modules.batchnorm import _BatchNorm

from ... import attacks
from ...errors import ConfigError
from ...settings import check_choice, check_number
from ..gan_losses import has_flat_regions, realness_sign

ATTACK_PASSES = ('auto', 'backward', 'separate')
# a sign step beyond a quarter of the 8-bit range destroys the image, not a
# robustness test; AS-GAN finds 4/255 already harmful
MAX_SIGN_EPS = 64.0
# a raw gradient step is bounded only by the image range
MAX_GRADIENT_EPS = 255.0


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
    """The toolbox's D update: one step on the clean losses."""

    @staticmethod
    def disc_step(step):
        step.backward(step.clean_losses(step.clean_forward()))
        step.step()


STANDARD_UPDATE = StandardUpdate()


class AdversarialRegularizer:
    """Shared parts of the regularizers (ASGAN, DAT, PGD).

    Args:
        eps (float): Attack budget in 8-bit gray levels, converted to
            mmgen's [-1, 1] input scale (``x 2/255``). ``1.0`` is "1/255" on
            the [0, 1] scale, the papers' unit. ``0`` attacks with a zero
            step (a method's "no perturbation" point); switching the
            regularizer off (an eps schedule's warm-up) is :attr:`active`.
        attack_pass (str): ``'auto'`` takes the input gradient from the
            standard D backward where that is exact, else runs a separate
            input-gradient pass; ``'backward'`` insists on the former,
            ``'separate'`` always does the latter.

    Attributes:
        active (bool): ``False`` makes the base model's update, without
            computing an attack (set by ``AdvEpsScheduleHook`` during its
            warm-up).
        gradient_source (str): Where the attack's input gradient comes
            from, one of :data:`~mmgen_adv.models.disc_step.GRADIENT_SOURCES`
            (chosen by :meth:`bind`).
    """

    #: hints for keys that belong to another regularizer
    key_hints = {}
    max_eps = MAX_SIGN_EPS

    def __init__(self, eps, attack_pass='auto'):
        check_number(self.owner, 'eps', eps, 0.0, self.max_eps)
        check_choice(self.owner, 'attack_pass', attack_pass, ATTACK_PASSES)
        self.eps = float(eps)
        self.attack_pass = attack_pass
        self.active = True

    @property
    def owner(self):
        return f'adv_cfg ({type(self).__name__})'

    @property
    def eps_input(self):
        """``eps`` in the model's input scale."""
        return attacks.gray_levels(self.eps)

    # -- where the attack's input gradient comes from -----------------------
    def bind(self, model):
        """Check the settings against ``model``; choose the gradient source.

        ``'backward'`` when the attack's objective is the D loss itself;
        ``'backward_signed'`` when it is a per-sample sign away from it;
        ``'separate'`` otherwise, or when asked to.
        """
        if getattr(self, 'score', None) == 'output':
            realness_sign(model.gan_loss)  # refuses a loss without one
        blockers = self.backward_blockers(model)
        if self.attack_pass == 'backward' and blockers:
            raise ConfigError(
                f"{self.owner}.attack_pass='backward' is not exact here: "
                f"{'; '.join(blockers)}. Use 'auto' or 'separate'")
        if self.attack_pass == 'separate' or blockers:
            self.gradient_source = 'separate'
        elif self.objective_is_loss(model):
            self.gradient_source = 'backward'
        else:
            self.gradient_source = 'backward_signed'

    def objective_is_loss(self, model):
        """Whether the attack's objective on each side is a positive
        multiple of the clean D loss term of that side."""
        return False

    def backward_blockers(self, model):
        """Why the standard backward cannot give the attack's direction
        exactly (an empty list if it can)."""
        blockers = []
        readers = aux_losses_reading_predictions(model)
        if readers:
            blockers.append(f'auxiliary losses {readers} add to the loss on '
                            "D's predictions")
        if self.objective_is_loss(model):
            return blockers
        if couples_samples(model.unwrapped_discriminator):
            blockers.append('the discriminator mixes samples (BatchNorm or '
                            'minibatch stddev), so per-sample directions '
                            'differ from the batch loss gradient')
        score = getattr(self, 'score', None)
        if score == 'output' and has_flat_regions(model.gan_loss):
            blockers.append(
                f"GANLoss {model.gan_loss.gan_type!r} is flat beyond its margin, so "
                "the standard backward leaves samples there without a "
                "gradient that score='output' still moves")
        return blockers

    # -- the update ----------------------------------------------------------
    def disc_step(self, step):
        if self.active:
            self.adversarial_disc_step(step)
        else:
            STANDARD_UPDATE.disc_step(step)

    def adversarial_disc_step(self, step):
        raise NotImplementedError

    # -- logging -------------------------------------------------------------
    @staticmethod
    def attack_stats(side, clean, adv, pred=None, pred_adv=None):
        """Mean |delta| in gray levels and, given both predictions under the
        same D, the mean gap D(x_adv) - D(x)."""
        stats = {f'adv_delta_{side}': (adv - clean).abs().mean() * 127.5}
        if pred is not None:
            stats[f'adv_gap_{side}'] = (pred_adv.detach() -
                                        pred.detach()).mean()
        return stats

