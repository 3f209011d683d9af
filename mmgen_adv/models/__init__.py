from .adversarial_gan import (AdvConditionalGAN, AdversarialGANMixin,
                              AdvUnconditionalGAN)
from .architectures import ACDiscriminator, SSGANDiscriminator
from .builder import ADV_REGULARIZERS, build_adv_regularizer
from .disc_step import DiscStep
from .regularizers import ASGAN, DAT, PGD, AdversarialRegularizer
from .robgan import RobGAN
from .ssgan import SSGAN, rotate_quarters

__all__ = [
    'ADV_REGULARIZERS', 'ASGAN', 'ACDiscriminator', 'DAT', 'PGD',
    'AdvConditionalGAN', 'AdversarialGANMixin', 'AdversarialRegularizer',
    'AdvUnconditionalGAN', 'DiscStep', 'RobGAN', 'SSGAN',
    'SSGANDiscriminator', 'build_adv_regularizer', 'rotate_quarters'
]
