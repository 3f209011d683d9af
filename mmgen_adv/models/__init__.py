from .adversarial_gan import (AdvConditionalGAN, AdversarialGANMixin,
                              AdvUnconditionalGAN, DiscStep)
from .builder import ADV_REGULARIZERS, build_adv_regularizer
from .regularizers import ASGAN, DAT, AdversarialRegularizer

__all__ = [
    'ADV_REGULARIZERS', 'ASGAN', 'DAT', 'AdvConditionalGAN',
    'AdversarialGANMixin', 'AdversarialRegularizer', 'AdvUnconditionalGAN',
    'DiscStep', 'build_adv_regularizer'
]
