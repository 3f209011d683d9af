"""Adversarial training of the discriminator: the D update of one iteration.

A regularizer is built from a model's ``adv_cfg`` and owns the
discriminator's update; the model (``AdvUnconditionalGAN``,
``AdvConditionalGAN``, ``SSGAN``, ``RobGAN``) owns everything else: data,
fakes, the generator step, the optimizers. The two meet through
:class:`~mmgen_adv.models.disc_step.DiscStep`.

Each update reads top to bottom in phases: the clean forward and loss, the
attack's input gradients (read off the standard backward where exact, see
``DiscStep.input_gradients``), an optional second step, the attack, the
loss on the attacked batch, the optimizer step.
"""
from .asgan import ASGAN
from .base import STANDARD_UPDATE, AdversarialRegularizer
from .dat import DAT
from .pgd import PGD

__all__ = ['ASGAN', 'DAT', 'PGD', 'AdversarialRegularizer', 'STANDARD_UPDATE']
