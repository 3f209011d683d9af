"""What the regularizers share: the on/off switch and the standard update
(:class:`Regularizer`); for the attacks, their budget and where their input
gradient comes from (:class:`AttackRegularizer`)."""
import logging

from torch.nn.modules.batchnorm import _BatchNorm

from ...checks import check_choice, check_number
from ...errors import ConfigError
from .. import attacks
from ..disc_step import SIDES
from ..scores import has_flat_regions, realness_sign

#: a regularizer's ``attack_pass`` settings; bound, it is one of
#: :data:`~mmgen_adv.methods.disc_step.ATTACK_PASSES`
ATTACK_PASS_SETTINGS = ('auto', 'backward', 'separate')
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


def standard_disc_step(step):
    """The toolbox's D update: one step on the clean losses."""
    step.backward(step.clean_losses(step.clean_forward()))
    step.step()


class Regularizer:
    """The base of every regularizer: a D update that may replace the
    toolbox's. Subclasses implement :meth:`regularized_disc_step` and take
    their options as keyword arguments (the ``adv_cfg`` keys; check them
    there, with :mod:`mmgen_adv.checks`).

    Attributes:
        active (bool): ``False`` makes the standard update instead (set by
            ``AdvEpsScheduleHook`` during its warm-up).
    """

    def __init__(self):
        self.active = True

    @property
    def owner(self):
        """How refusals name this regularizer's settings."""
        return f'adv_cfg ({type(self).__name__})'

    def bind(self, host):
        """Check the settings against the model behind ``host`` (a
        :class:`~mmgen_adv.methods.host.DiscHost`) once, when the model is
        built; raise :class:`~mmgen_adv.errors.ConfigError` to refuse."""

    def disc_step(self, step):
        if self.active:
            self.regularized_disc_step(step)
        else:
            standard_disc_step(step)

    def regularized_disc_step(self, step):
        """The D update of one iteration, through ``step`` (a
        :class:`~mmgen_adv.methods.disc_step.DiscStep`)."""
        raise NotImplementedError


class AttackRegularizer(Regularizer):
    """A regularizer that trains D on attacked images (ASGAN, DAT, PGD).

    Args:
        eps (float): Attack budget in 8-bit gray levels, converted to the
            [-1, 1] input scale (``x 2/255``). ``1.0`` is "1/255" on the
            [0, 1] scale, the papers' unit. ``0`` attacks with a zero step
            (a method's "no perturbation" point); switching the regularizer
            off (an eps schedule's warm-up) is :attr:`active`.
        attack_pass (str): Where the attack's input gradient comes from.
            ``'auto'``: the standard D backward where that is exact, else a
            separate input-gradient pass; ``'backward'`` insists on the
            former, ``'separate'`` always does the latter.

    Attributes:
        attack_pass (str): Once bound, the pass decided for this model, one
            of :data:`~mmgen_adv.methods.disc_step.ATTACK_PASSES`
            (``'backward_signed'``: the standard backward with per-sample
            signs; see ``DiscStep.input_gradients``). The setting is kept
            as ``attack_pass_setting``.
    """

    max_eps = MAX_SIGN_EPS

    def __init__(self, eps, attack_pass='auto'):
        super().__init__()
        check_number(self.owner, 'eps', eps, 0.0, self.max_eps)
        check_choice(self.owner, 'attack_pass', attack_pass,
                     ATTACK_PASS_SETTINGS)
        self.eps = float(eps)
        self.attack_pass_setting = attack_pass
        self.attack_pass = None

    @property
    def eps_input(self):
        """``eps`` in the model's input scale."""
        return attacks.gray_levels(self.eps)

    # -- where the attack's input gradient comes from -----------------------
    def bind(self, host):
        """Check the settings against the model; decide the attack pass.

        ``'backward'`` when the attack's objective is the D loss itself;
        ``'backward_signed'`` when it is a per-sample sign away from it;
        ``'separate'`` otherwise, or when asked to.
        """
        if getattr(self, 'score', None) == 'output':
            realness_sign(host.gan_loss)  # refuses a loss without one
        blockers = self.backward_blockers(host)
        if self.attack_pass_setting == 'backward' and blockers:
            raise ConfigError(
                f"{self.owner}.attack_pass='backward' is not exact here: "
                f"{'; '.join(blockers)}. Use 'auto' or 'separate'")
        if self.attack_pass_setting == 'separate' or blockers:
            self.attack_pass = 'separate'
        elif self.objective_is_loss(host):
            self.attack_pass = 'backward'
        else:
            self.attack_pass = 'backward_signed'

    def objective_is_loss(self, host):
        """Whether the attack's objective on each side is a positive
        multiple of the clean D loss term of that side."""
        return False

    def backward_blockers(self, host):
        """Why the standard backward cannot give the attack's direction
        exactly (an empty list if it can)."""
        blockers = []
        readers = host.losses_reading_predictions()
        if readers:
            blockers.append(f'auxiliary losses {readers} add to the loss on '
                            "D's predictions")
        if self.objective_is_loss(host):
            return blockers
        if couples_samples(host.discriminator):
            blockers.append('the discriminator mixes samples (BatchNorm or '
                            'minibatch stddev), so per-sample directions '
                            'differ from the batch loss gradient')
        if getattr(self, 'score', None) == 'output' and \
                has_flat_regions(host.gan_loss):
            blockers.append(
                f'GANLoss {host.gan_loss.gan_type!r} is flat beyond its '
                "margin, so the standard backward leaves samples there "
                "without a gradient that score='output' still moves")
        return blockers

    def attack_pass_for(self, step, clean):
        """The bound attack pass; per-sample signs need one D output per
        sample, which the first clean forward shows: a D with more takes
        the separate pass from then on (decided once)."""
        if self.attack_pass == 'backward_signed' and any(
                step.host.gan_output(clean.pred[side])[0].numel() != 1
                for side in SIDES):
            logging.getLogger('mmgen').info(
                f'{self.owner}: D gives several outputs per sample, so the '
                "attack's input gradient comes from a separate pass")
            self.attack_pass = 'separate'
        return self.attack_pass

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
