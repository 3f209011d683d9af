"""Rob-GAN's attacker: PGD on the real images before every D update (Liu &
Hsieh, CVPR 2019), seed paper 003."""
from ...checks import check_bool, check_choice, check_int, check_number
from .. import attacks
from .base import MAX_SIGN_EPS, AttackRegularizer
from .registry import REGULARIZERS


@REGULARIZERS.register_module()
class PGD(AttackRegularizer):
    """Before every D update, the real images are replaced by a multi-step
    PGD attack on D's loss for them; D trains on the attacked reals and the
    clean fakes. Every term of the D loss that reads real images (Rob-GAN's
    class loss, a gradient penalty, SSGAN's rotation loss) sees the
    attacked ones.

    The attack raises the host's ``real_attack_objective`` (the D loss on
    real images; Rob-GAN's real/fake plus class loss), with sign steps
    projected onto the ``eps`` ball and the image range, as the official
    code's ``attack_Linf_PGD``.

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
    def __init__(self,
                 eps=4.0,
                 step_size=1.0,
                 steps=5,
                 random_start=False,
                 attack_mode='eval'):
        super().__init__(eps, attack_pass='separate')
        check_number(self.owner, 'step_size', step_size, 0.0, MAX_SIGN_EPS,
                     low_open=True)
        check_int(self.owner, 'steps', steps, 1, 1000)
        check_bool(self.owner, 'random_start', random_start)
        check_choice(self.owner, 'attack_mode', attack_mode,
                     ('eval', 'train'))
        self.step_size = float(step_size)
        self.steps = steps
        self.random_start = random_start
        self.attack_mode = attack_mode

    def attack(self, step, images):
        """PGD adversarial examples of the real ``images`` for the step's
        D (their labels are the batch's real labels)."""
        return attacks.pgd(
            step.discriminator,
            images,
            lambda out: step.attack_objective(out, 'real'),
            self.eps_input,
            attacks.gray_levels(self.step_size),
            self.steps,
            random_start=self.random_start,
            mode=self.attack_mode,
            forward=step.attack_forward('real'))

    def regularized_disc_step(self, step):
        clean_real = step.batch.real
        step.batch = step.batch.replace(real=self.attack(step, clean_real))
        step.backward(step.clean_losses(step.clean_forward()))
        step.log(self.attack_stats('real', clean_real, step.batch.real))
        step.step()
