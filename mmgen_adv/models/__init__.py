"""The host of the methods in mmgen 0.7.3: the host adapter (``host``), the
models registered in mmgen's ``MODELS`` (``AdvUnconditionalGAN``,
``AdvConditionalGAN``, ``SSGAN``, ``RobGAN``), the two-headed
discriminators in its ``MODULES``, and the hooks of the methods."""
from .adversarial_gan import (AdvConditionalGAN, AdversarialGANMixin,
                              AdvUnconditionalGAN)
from .architectures import ACDiscriminator, SSGANDiscriminator
from .hooks import AdvEpsScheduleHook, DiscRobustnessProbeHook
from .host import MMGenHost, host_of, unwrap
from .robgan import RobGAN, RobGANHost
from .ssgan import SSGAN, SSGANHost

__all__ = [
    'ACDiscriminator', 'AdvConditionalGAN', 'AdvEpsScheduleHook',
    'AdversarialGANMixin', 'AdvUnconditionalGAN', 'DiscRobustnessProbeHook',
    'MMGenHost', 'RobGAN', 'RobGANHost', 'SSGAN', 'SSGANDiscriminator',
    'SSGANHost', 'host_of', 'unwrap'
]
