"""One iteration's discriminator update, as a regularizer sees it.

A regularizer (:mod:`mmgen_adv.methods.regularizers`) owns the D update and
does everything through a :class:`DiscStep`: forwards, scores, the input
gradients its attack needs, backwards and optimizer steps. The step speaks
in sides (``'real'``, ``'fake'``) and passes everything toolbox-specific to
its host (:class:`~mmgen_adv.methods.host.DiscHost`).
"""
import functools

import torch

from .scores import per_sample_score

SIDES = ('real', 'fake')

#: where an attack's input gradient comes from (see
#: :meth:`DiscStep.input_gradients`); a regularizer's ``attack_pass``
#: setting (``'auto'``, ``'backward'``, ``'separate'``) is resolved to one
#: of these when it is bound to a model
ATTACK_PASSES = ('backward', 'backward_signed', 'separate')


class DiscBatch:
    """The images and labels of one discriminator update."""

    def __init__(self, real, fake, real_label, fake_label, iteration):
        self.real, self.fake = real, fake
        self.real_label, self.fake_label = real_label, fake_label
        self.iteration = iteration
        self.batch_size = real.shape[0]

    def replace(self, real=None, fake=None):
        """The same batch with other real and/or fake images (attacked or
        noisy ones); labels and iteration stay."""
        return DiscBatch(self.real if real is None else real,
                         self.fake if fake is None else fake,
                         self.real_label, self.fake_label, self.iteration)

    def images(self, side):
        return self.real if side == 'real' else self.fake

    def labels(self, side):
        return self.real_label if side == 'real' else self.fake_label


class CleanForward:
    """D's outputs on the clean batch (and the inputs they came from)."""

    def __init__(self, images, pred):
        self.images, self.pred = images, pred


class DiscStep:
    """What a regularizer may do within one iteration's D update.

    Args:
        host (DiscHost): The toolbox behind this iteration.
        batch (DiscBatch): The images of the update; a regularizer may
            replace it (Rob-GAN's attacked reals) before the clean forward.
    """

    def __init__(self, host, batch):
        self.host = host
        self.batch = batch
        self.log_vars = {}
        self._pending = {}

    @property
    def iteration(self):
        return self.batch.iteration

    # -- forwards, losses, scores ------------------------------------------
    def disc(self, images, side, bare=False):
        """D on ``images`` with the labels of ``side``: through the training
        wrapper, or the bare module (``bare``: attacks, extra forwards that
        must not touch the wrapper's state)."""
        return self.host.disc(images, self.batch.labels(side), bare)

    def clean_forward(self, grad_sides=()):
        """D on the clean batch, fakes first as in the toolbox.

        The images of ``grad_sides`` are leaves that require grad, so the
        standard backward also leaves their ``.grad``.
        """
        images = {}
        for side in SIDES:
            x = self.batch.images(side)
            images[side] = x.detach().requires_grad_() \
                if side in grad_sides else x.detach()
        pred = {}
        for side in ('fake', 'real'):
            pred[side] = self.disc(images[side], side)
        return CleanForward(images, pred)

    def clean_losses(self, clean, gan_weight=1.0):
        """The toolbox's D losses on the clean batch, GAN terms weighted."""
        return self.host.disc_terms(self.batch, clean.pred['fake'],
                                    clean.pred['real'], gan_weight)

    def gan_loss(self, output, side):
        """The toolbox's D loss of ``output`` labelled ``side``."""
        return self.host.gan_loss(self.host.gan_output(output),
                                  side == 'real', is_disc=True)

    def score(self, output, side, kind):
        """Per-sample D loss of ``output`` labelled ``side``, ``(N,)``, in
        the form ``kind`` (see :mod:`mmgen_adv.methods.scores`)."""
        return per_sample_score(self.host.gan_loss,
                                self.host.gan_output(output), side == 'real',
                                kind)

    # -- what pure attacks need -------------------------------------------
    @property
    def discriminator(self):
        """The bare D: attacks must not go through a wrapper's hooks."""
        return self.host.discriminator

    def attack_forward(self, side):
        """Calls the bare D on a batch of ``side``'s images."""
        return functools.partial(self.host.disc,
                                 labels=self.batch.labels(side), bare=True)

    def attack_objective(self, output, side):
        """What an attack on ``side``'s images raises (the model's D loss
        for them, with every head it trains)."""
        assert side == 'real', 'models define the objective on reals only'
        return self.host.real_attack_objective(output,
                                               self.batch.labels(side))

    # -- input gradients ----------------------------------------------------
    def input_gradients(self, clean, losses, objectives, attack_pass):
        """Backpropagate ``losses``; return ``d objectives[side] / dx`` at
        the clean images of each side in ``objectives``.

        ``objectives`` maps a side to a function of D's output on it (a
        scalar). ``attack_pass`` (one of :data:`ATTACK_PASSES`, decided by
        the regularizer when it was bound) is where the gradient comes from:

        * ``'backward'``: the images' ``.grad`` left by this backward; the
          objectives must be positive multiples of the side's loss term
          (exact, whatever D is; sign-exact under an fp16 loss scaler).
        * ``'backward_signed'``: the same ``.grad``, each sample's sign set
          to ``sign(d objective / d D(x_i)) * sign(d loss / d D(x_i))``.
          When D treats samples independently and gives one output each,
          ``.grad_i`` is ``dloss/dD_i * dD_i/dx_i``, so the result has the
          sign of the objective's gradient everywhere (not its size: for
          sign steps only), provided the loss is nowhere flat where the
          objective is not.
        * ``'separate'``: ``autograd.grad`` of the objectives through the
          clean forward's graph, before the backward: exact, at the cost of
          one more input-gradient pass.
        """
        if attack_pass not in ATTACK_PASSES:
            raise ValueError(f'attack_pass must be one of {ATTACK_PASSES}, '
                             f'got {attack_pass!r}')
        sides = list(objectives)
        if attack_pass == 'separate':
            grads = {}
            if sides:
                total = sum(objectives[s](clean.pred[s]) for s in sides)
                grads = dict(
                    zip(
                        sides,
                        torch.autograd.grad(
                            total, [clean.images[s] for s in sides],
                            retain_graph=True)))
            self.backward(losses)
            return grads
        self.backward(losses)
        grads = {side: clean.images[side].grad for side in sides}
        if attack_pass == 'backward_signed':
            for side in sides:
                grads[side] = grads[side] * self._sample_signs(
                    clean.pred[side], side, objectives[side])
        return grads

    def _sample_signs(self, pred, side, objective):
        """``sign(d objective / dD_i) * sign(d loss / dD_i)`` per sample,
        shaped to multiply an image batch."""
        with torch.enable_grad():
            out = pred.detach().requires_grad_()
            wanted, = torch.autograd.grad(objective(out), out)
            given, = torch.autograd.grad(self.gan_loss(out, side), out)
        if wanted[0].numel() != 1:
            raise ValueError(
                "attack_pass 'backward_signed' needs one D output per "
                f'sample; this D gives {wanted[0].numel()}')
        signs = (wanted.sign() * given.sign()).reshape(pred.shape[0])
        return signs.view(-1, *[1] * (self.batch.images(side).dim() - 1))

    # -- updates ------------------------------------------------------------
    def backward(self, losses):
        """Backpropagate the ``loss*`` terms of ``losses`` (a dict of
        tensors); every entry is logged at the next :meth:`step`."""
        overlap = set(losses) & set(self._pending)
        assert not overlap, f'terms logged twice in one update: {overlap}'
        self._pending.update(losses)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        if torch.is_tensor(loss) and loss.requires_grad:
            self.host.backward(loss)

    def log(self, values):
        """Add non-loss scalar tensors to the next step's log."""
        assert not any('loss' in k for k in values), 'log losses via backward'
        self._pending.update(values)

    def step(self):
        """Log (and check) the terms since the last step, then step D.

        A non-finite term stops training here, before the weights change.
        """
        _, log_vars = self.host.parse_losses(self._pending)
        self._pending = {}
        total = self.log_vars.get('loss', 0.0) + log_vars['loss']
        self.log_vars.update(log_vars)
        self.log_vars['loss'] = total
        self.host.optimizer_step()

    def restart(self):
        """Prepare a second optimizer step within this iteration (see the
        host's ``restart``: a loss scaler counts each step)."""
        self.host.restart()
