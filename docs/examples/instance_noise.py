"""Instance noise as a regularizer of mmgen_adv: a complete example in one
file (see ``docs/extending.md``).

Instance noise (Sonderby et al. 2017; Arjovsky & Bottou 2017) shows the
discriminator real and generated images with Gaussian noise added, so the
two distributions overlap and D's gradient stays informative early on. It
attacks nothing, so it derives from ``Regularizer``, not
``AttackRegularizer``.

Use it from a config by importing this module (it must be importable, e.g.
its folder on ``PYTHONPATH``)::

    custom_imports = dict(imports=['mmgen_adv', 'instance_noise'],
                          allow_failed_imports=False)
    model = dict(type='AdvUnconditionalGAN',
                 adv_cfg=dict(type='InstanceNoise', sigma=16.0))
"""
import torch

from mmgen_adv.checks import check_int, check_number
from mmgen_adv.methods.attacks import gray_levels
from mmgen_adv.methods.regularizers import (REGULARIZERS, Regularizer,
                                            standard_disc_step)


@REGULARIZERS.register_module()
class InstanceNoise(Regularizer):
    """The standard D update on real and fake images with Gaussian noise.

    Args:
        sigma (float): The noise's standard deviation in 8-bit gray levels
            (16: 0.125 on mmgen's [-1, 1] scale).
        anneal_iters (int): Iterations over which ``sigma`` falls linearly
            to 0 (0: constant).
    """

    def __init__(self, sigma=16.0, anneal_iters=0):
        super().__init__()
        # a refusal names the key and the allowed values, before training
        check_number(self.owner, 'sigma', sigma, 0.0, 255.0)
        check_int(self.owner, 'anneal_iters', anneal_iters, 0)
        self.sigma = float(sigma)
        self.anneal_iters = anneal_iters

    def sigma_at(self, iteration):
        """The noise level (gray levels) at ``iteration``."""
        if not self.anneal_iters:
            return self.sigma
        return self.sigma * max(0.0, 1.0 - iteration / self.anneal_iters)

    def regularized_disc_step(self, step):
        sigma = self.sigma_at(step.iteration)
        std = gray_levels(sigma)
        batch = step.batch
        step.batch = batch.replace(
            real=batch.real + std * torch.randn_like(batch.real),
            fake=batch.fake + std * torch.randn_like(batch.fake))
        step.log(dict(instance_noise_sigma=torch.tensor(sigma)))
        standard_disc_step(step)
