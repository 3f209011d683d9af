"""The regularizers: each owns the discriminator's update of one iteration.

A regularizer is built from a model's ``adv_cfg`` through
:data:`~.registry.REGULARIZERS` and does its update through a
:class:`~mmgen_adv.methods.disc_step.DiscStep`. Each update reads top to
bottom in phases: the clean forward and loss, the attack's input gradients
(read off the standard backward where exact, see
``DiscStep.input_gradients``), an optional second step, the attack, the
loss on the attacked batch, the optimizer step. A new regularizer is one
module (``docs/extending.md``).
"""
from .asgan import ASGAN
from .base import AttackRegularizer, Regularizer, standard_disc_step
from .dat import DAT
from .pgd import PGD
from .registry import (REGULARIZERS, build_regularizer, check_adv_cfg,
                       unbound_regularizer)

__all__ = [
    'ASGAN', 'AttackRegularizer', 'DAT', 'PGD', 'REGULARIZERS', 'Regularizer',
    'build_regularizer', 'check_adv_cfg', 'standard_disc_step',
    'unbound_regularizer'
]
