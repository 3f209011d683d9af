"""Per-sample values of the toolbox's GAN loss, and the scores attacks read.

An attack on a discriminator needs, for each sample, a number that says how
"real" D finds it. Two are offered (``score`` in ``adv_cfg``; ``'auto'``,
the default, takes ``'loss'`` where that is monotone and ``'output'``
elsewhere):

* ``'output'``: D's raw output, oriented so that it falls toward "fake". It
  is the per-sample WGAN loss of the sample's label: ``-D(x)`` for a real
  target, ``+D(x)`` for a fake one (the sign flipped for a ``GANLoss`` whose
  real label is below its fake label). Monotone everywhere, so an attack
  always moves a real image toward "fake" and a fake toward "real".
* ``'loss'``: the configured ``GANLoss`` itself, per sample: the papers'
  literal form. It has a dead zone under ``hinge`` (``relu(1 - D)`` is flat
  for reals with ``D > 1`` and fakes with ``D < -1``: those samples do not
  move) and is not monotone under ``lsgan`` (``(D - 1)^2`` grows again above
  the real label, so reals with ``D > 1`` are pushed further up).
"""
from torch.func import vmap

from ..errors import ConfigError

SCORES = ('auto', 'output', 'loss')

#: ``GANLoss`` types whose per-sample D loss falls strictly as a sample
#: looks more like its label: the literal form moves every sample right
MONOTONE_GAN_TYPES = ('vanilla', 'wgan', 'wgan-logistic-ns')

#: ``GANLoss`` types whose D loss is flat on part of the output range, so
#: the standard backward gives some samples no input gradient at all
FLAT_GAN_TYPES = ('hinge', )

#: ``GANLoss`` types where a larger output always means "more real"
_REAL_IS_LARGE = ('wgan', 'hinge', 'wgan-logistic-ns')
#: ``GANLoss`` types whose direction is set by their label values
_LABELLED = ('vanilla', 'lsgan')


def per_sample_gan_loss(gan_loss, pred, target_is_real, is_disc=True):
    """``gan_loss`` evaluated on each sample alone: shape ``(N,)``.

    The mean over the batch equals ``gan_loss(pred, target_is_real,
    is_disc)`` for every ``gan_type`` of mmgen's ``GANLoss``; computing it
    through the module itself keeps label values and loss weights exact.
    """
    return vmap(lambda p: gan_loss(p.unsqueeze(0), target_is_real, is_disc))(
        pred)


def per_sample_output(pred):
    """The discriminator's raw output averaged per sample: ``(N,)``."""
    return pred.reshape(pred.shape[0], -1).mean(dim=1)


def realness_sign(gan_loss):
    """``+1`` if a larger D output means "more real" under ``gan_loss``,
    ``-1`` if a smaller one does."""
    gan_type = gan_loss.gan_type
    if gan_type in _REAL_IS_LARGE:
        return 1.0
    if gan_type in _LABELLED:
        real, fake = gan_loss.real_label_val, gan_loss.fake_label_val
        if real == fake:
            raise ConfigError(
                f'GANLoss({gan_type!r}) has equal real and fake labels '
                f'({real}): no direction is "real"')
        return 1.0 if real > fake else -1.0
    raise ConfigError(
        f'adversarial training does not know GANLoss gan_type {gan_type!r};'
        f' known: {list(_REAL_IS_LARGE + _LABELLED)}')


def per_sample_score(gan_loss, pred, target_is_real, score='output'):
    """Per-sample D loss of ``pred`` for the given label, ``(N,)``, in the
    form ``score`` (``'output'`` or ``'loss'``, see the module's doc): an
    attack that raises it moves samples away from their label."""
    if score == 'loss':
        return per_sample_gan_loss(gan_loss, pred, target_is_real)
    if score == 'output':
        realness = realness_sign(gan_loss) * per_sample_output(pred)
        return -realness if target_is_real else realness
    raise ValueError(f"score must be 'output' or 'loss', got {score!r}")


def resolve_score(score, gan_loss):
    """``score`` with ``'auto'`` made concrete for ``gan_loss``: the loss
    itself where it is monotone (the papers' form, and the cheapest: its
    input gradient is the standard backward's), D's output elsewhere."""
    if score != 'auto':
        return score
    return 'loss' if gan_loss.gan_type in MONOTONE_GAN_TYPES else 'output'


def is_proportional_to_loss(gan_loss, score):
    """Whether the summed ``score`` is a positive multiple of ``gan_loss``
    on each side, so its input gradient is the D loss's, exactly."""
    return score == 'loss' or (score == 'output'
                               and gan_loss.gan_type == 'wgan')


def has_flat_regions(gan_loss):
    return gan_loss.gan_type in FLAT_GAN_TYPES
