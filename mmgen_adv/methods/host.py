"""The host seam: what a discriminator update needs from the toolbox.

A regularizer owns one iteration's D update and talks only to a
:class:`~mmgen_adv.methods.disc_step.DiscStep`; the step talks only to a
:class:`DiscHost`, an adapter that the toolbox's model creates for the
iteration. Everything toolbox-specific is behind it: how D is called
(wrappers, labels, extra heads), the toolbox's loss terms, the backward
through its distributed wrapper, loss scaler and batch accumulation, the
optimizer step, and the parsing of the log. Another toolbox needs another
``DiscHost`` and model classes that create it; the regularizers and
attacks do not change.

The host of mmgen 0.7.3 is :class:`mmgen_adv.models.host.MMGenHost`, that
of MMagic 1.x :class:`mmgen_adv.mmagic.host.MMagicHost`.
"""
import math

from ..errors import NonFiniteLossError


def call_disc(disc, images, labels=None, aux=False):
    """The one way this project calls a discriminator module (wrapped or
    bare): a conditional D gets its labels as ``label=``, as the toolbox's
    do; ``aux=True`` asks this project's two-headed discriminators for
    ``(real/fake logit, second head's logits)``."""
    kwargs = {}
    if labels is not None:
        kwargs['label'] = labels
    if aux:
        kwargs['return_aux'] = True
    return disc(images, **kwargs)


class DiscHost:
    """The protocol every host implements (documentation and defaults).

    Attributes:
        discriminator (nn.Module): The bare discriminator (no distributed
            wrapper): attacks run on it, and regularizers inspect it.
        wrapped_discriminator (nn.Module): D as the model trains it
            (inside its distributed wrapper, if any): extra training terms
            (SSGAN's rotation task) call it.
        gan_loss (nn.Module): The toolbox's ``GANLoss``: ``gan_loss(pred,
            target_is_real, is_disc=True)``, with ``gan_type`` and, for
            ``vanilla``/``lsgan``, ``real_label_val``/``fake_label_val``.
        accumulation_steps (int): Backward passes per optimizer step.
        iteration (int): The training iteration (0-based).
    """

    discriminator = None
    wrapped_discriminator = None
    gan_loss = None
    accumulation_steps = 1
    iteration = 0

    # -- what the model is: read once, when a regularizer is bound ---------
    def losses_reading_predictions(self):
        """Names of the model's auxiliary D losses whose value depends on
        D's predictions (their gradient reaches the images in a backward,
        so that backward's input gradient is not the GAN loss's alone)."""
        return []

    # -- one iteration -----------------------------------------------------
    def disc(self, images, labels=None, bare=False):
        """D's whole output on ``images`` (with ``labels`` where D is
        conditional), called as the model calls it: through the training
        wrapper, or, with ``bare``, the bare module (for attacks)."""
        raise NotImplementedError

    def gan_output(self, output):
        """The real/fake prediction in an output of :meth:`disc`."""
        return output

    def disc_terms(self, batch, pred_fake, pred_real, gan_weight=1.0):
        """The toolbox's D loss terms for a batch
        (:class:`~mmgen_adv.methods.disc_step.DiscBatch`) and D's outputs on
        it: ``{name: tensor}``; only names with ``loss`` are optimized. The
        GAN terms are scaled by ``gan_weight``; with ``0`` they are only
        logged, as ``disc_fake_clean``/``disc_real_clean``."""
        raise NotImplementedError

    def gan_terms(self, pred_fake, pred_real, gan_weight=1.0):
        """The GAN terms of :meth:`disc_terms` under the toolbox's names
        (``loss_disc_fake``, ``loss_disc_real``), for hosts to share."""
        terms = {}
        for side, pred in (('fake', pred_fake), ('real', pred_real)):
            value = self.gan_loss(pred, side == 'real', is_disc=True)
            if gan_weight == 0:
                terms[f'disc_{side}_clean'] = value.detach()
            else:
                terms[f'loss_disc_{side}'] = value if gan_weight == 1 else \
                    gan_weight * value
        return terms

    def real_attack_objective(self, output, labels=None):
        """What an attack on real images raises: the model's D loss on them
        (every head it trains), a scalar."""
        return self.gan_loss(self.gan_output(output), True, is_disc=True)

    def backward(self, loss):
        """Backpropagate ``loss`` as one of ``accumulation_steps`` parts of
        an update, through the toolbox's distributed wrapper and scaler."""
        raise NotImplementedError

    def parse_losses(self, terms):
        """``(loss, log_vars)``: the sum of the ``loss`` terms, and every
        term as a float for the log (reduced over ranks). A non-finite loss
        term stops training here, before the optimizer step."""
        raise NotImplementedError

    def optimizer_step(self):
        """Step D's optimizer once this iteration's accumulated backwards
        complete an update (through the loss scaler)."""
        raise NotImplementedError

    def restart(self):
        """Prepare a second D optimizer step within this iteration."""
        raise NotImplementedError


class NonFiniteGuard:
    """Stops training at a non-finite loss term, before the update.

    Under the fp16 loss scaler an overflowing loss is routine: the scaler
    skips that step and lowers its scale. Training stops only when the loss
    stays non-finite ``MAX_FP16_ITERS`` iterations in a row (the scale has
    been halved as often, 2**-16 of where it was: no longer an overflow).
    """

    MAX_FP16_ITERS = 16

    def __init__(self):
        self.streak = 0  # iterations in a row with a non-finite loss
        self.this_iteration = False
        self.fp16 = False

    def begin(self, fp16):
        self.this_iteration, self.fp16 = False, fp16

    def end(self):
        self.streak = self.streak + 1 if self.this_iteration else 0

    def check(self, log_vars, iteration):
        bad = [(k, v) for k, v in log_vars.items()
               if k != 'loss' and 'loss' in k and not math.isfinite(v)]
        if not bad:
            return
        terms = ', '.join(f'{k} = {v}' for k, v in bad)
        if self.fp16:
            self.this_iteration = True
            if self.streak + 1 < self.MAX_FP16_ITERS:
                return  # the scaler skips this step
            terms += (f' ({self.MAX_FP16_ITERS} iterations in a row under '
                      'the fp16 loss scaler)')
        raise NonFiniteLossError(
            f'non-finite loss at iteration {iteration}: {terms}. Training '
            'stopped before this update; the checkpoints already written '
            'are kept')
