"""Rob-GAN (Liu & Hsieh, CVPR 2019): generator, discriminator, attacker.

A conditional GAN whose discriminator is an auxiliary classifier (a
real/fake logit and class logits). Before every D update a PGD attacker
perturbs the real images; D is trained on the attacked reals and the clean
fakes. The losses are the official code's ``loss_nll``:
``lam * BCE(real/fake) + (1 - lam) * CE(class)``, with ``lam = 0.5`` for
real images and for G; on fakes the official "new loss" drops the class
term (``fake_class_loss=False``). Afterwards the discriminator can be
fine-tuned into a robust classifier (``tools/robgan_finetune.py``).
"""
import torch.nn.functional as F
from mmgen.models.builder import MODELS

from ..checks import check_bool, check_number
from ..errors import ConfigError
from ..methods.host import call_disc
from .adversarial_gan import AdvConditionalGAN
from .host import MMGenHost, unwrap

DEFAULT_ATTACK = dict(type='PGD', eps=4.0, step_size=1.0, steps=5)


def class_loss(logits, labels):
    """Cross-entropy of the class head, and its accuracy."""
    accuracy = (logits.argmax(dim=1) == labels).float().mean()
    return F.cross_entropy(logits, labels), accuracy.detach()


class RobGANHost(MMGenHost):
    """A Rob-GAN iteration: D's output is ``(real/fake logit, class
    logits)``, the class predicted rather than given; the official
    ``loss_nll`` weighting."""

    def __init__(self, model, *args, **kwargs):
        super().__init__(model, *args, **kwargs)
        self.lam = model.lam
        self.fake_class_loss = model.fake_class_loss

    def disc(self, images, labels=None, bare=False):
        disc = self.discriminator if bare else self.wrapped_discriminator
        return call_disc(disc, images, aux=True)

    def gan_output(self, output):
        return output[0]

    def real_attack_objective(self, output, labels=None):
        logit, class_logits = output
        return self.lam * self.gan_loss(logit, True, is_disc=True) + \
            (1 - self.lam) * F.cross_entropy(class_logits, labels)

    def disc_terms(self, batch, pred_fake, pred_real, gan_weight=1.0):
        (logit_fake, class_fake), (logit_real, class_real) = \
            pred_fake, pred_real
        terms = super().disc_terms(batch, logit_fake, logit_real, gan_weight)
        fake_lam = self.lam if self.fake_class_loss else 1.0
        terms['loss_disc_fake'] = fake_lam * terms['loss_disc_fake']
        terms['loss_disc_real'] = self.lam * terms['loss_disc_real']
        loss, accuracy = class_loss(class_real, batch.real_label)
        terms['loss_disc_class_real'] = (1 - self.lam) * loss
        terms['class_acc_real'] = accuracy
        if self.fake_class_loss:
            loss, _ = class_loss(class_fake, batch.fake_label)
            terms['loss_disc_class_fake'] = (1 - self.lam) * loss
        return terms

    def gen_terms(self, data):
        logit, class_logits = data['disc_pred_fake_g']
        terms = super().gen_terms(dict(data, disc_pred_fake_g=logit))
        terms['loss_disc_fake_g'] = self.lam * terms['loss_disc_fake_g']
        loss, accuracy = class_loss(class_logits, data['fake_label'])
        terms['loss_gen_class'] = (1 - self.lam) * loss
        terms['class_acc_fake'] = accuracy
        return terms


@MODELS.register_module()
class RobGAN(AdvConditionalGAN):
    """Conditional GAN trained against a PGD attacker, with an AC D.

    Args:
        lam (float): Weight of the real/fake term; the class term gets
            ``1 - lam``. Default 0.5.
        fake_class_loss (bool): Also train D's class head on fakes (plain
            AC-GAN). Default False: the official "new loss".
        adv_cfg (dict | None): The attacker; ``dict(type='PGD', ...)``
            (default: eps 4, step 1 gray level, 5 steps, D in eval mode) or
            ``None`` for a plain AC-GAN.
        Others: as ``BasicConditionalGAN``; the discriminator needs a class
            head (``ACDiscriminator``).
    """
    host_class = RobGANHost

    def __init__(self,
                 *args,
                 adv_cfg=DEFAULT_ATTACK,
                 lam=0.5,
                 fake_class_loss=False,
                 **kwargs):
        check_number('model (RobGAN)', 'lam', lam, 0.0, 1.0)
        check_bool('model (RobGAN)', 'fake_class_loss', fake_class_loss)
        if adv_cfg is not None and (not isinstance(adv_cfg, dict)
                                    or adv_cfg.get('type') != 'PGD'):
            raise ConfigError(
                "RobGAN's attacker is adv_cfg=dict(type='PGD', ...) (or "
                f'None for a plain AC-GAN); got {adv_cfg!r}')
        self.lam = float(lam)
        self.fake_class_loss = fake_class_loss
        super().__init__(*args, adv_cfg=adv_cfg, **kwargs)

    def _check_disc_conditioning(self):
        # the class is predicted by a head, not passed in: D takes no labels
        disc = unwrap(self.discriminator)
        if getattr(disc, 'num_aux_classes', None) != self.num_classes:
            raise ConfigError(
                'RobGAN needs an auxiliary-classifier discriminator with '
                f'num_classes={self.num_classes} class logits '
                "(model.discriminator.type='ACDiscriminator'); got "
                f'{type(disc).__name__}')
