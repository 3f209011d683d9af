"""One iteration's discriminator update, as a regularizer sees it.

A regularizer (:mod:`mmgen_adv.models.regularizers`) owns the D update and
talks only to a :class:`DiscStep`: forwards, per-sample scores, the input
gradients its attack needs, backwards and optimizer steps. The model behind
it (``AdvUnconditionalGAN``, ``AdvConditionalGAN``, ``SSGAN``, ``RobGAN``)
decides how D is called, which loss terms exist, and how a backward goes
through DDP, the fp16 loss scaler and batch accumulation.
"""
import functools

import torch

from ..attacks import unwrap
from .gan_losses import per_sample_score

SIDES = ('real', 'fake')

#: where an attack's input gradient comes from (see
#: :meth:`DiscStep.input_gradients`)
GRADIENT_SOURCES = ('backward', 'backward_signed', 'separate')


class DiscBatch:
    """The images and labels of one discriminator update."""

    def __init__(self, real, fake, real_label, fake_label, iteration):
        self.real, self.fake = real, fake
        self.real_label, self.fake_label = real_label, fake_label
        self.iteration = iteration
        self.batch_size = real.shape[0]

    def with_real(self, real):
        """The same batch with other real images (e.g. attacked ones)."""
        return DiscBatch(real, self.fake, self.real_label, self.fake_label,
                         self.iteration)

    def images(self, side):
        return self.real if side == 'real' else self.fake

    def labels(self, side):
        return self.real_label if side == 'real' else self.fake_label


class CleanForward:
    """D's predictions on the clean batch (and the inputs they came from)."""

    def __init__(self, images, pred):
        self.images, self.pred = images, pred


class DiscStep:
    """What a regularizer may do within one iteration's D update.

    Forwards go through the (possibly DDP-wrapped) discriminator, backwards
    through the DDP reducer and the fp16 loss scaler as in the toolbox, and
    an optimizer step honours batch accumulation.
    """

    def __init__(self, model, batch, optimizer, ddp_reducer, loss_scaler):
        self.model = model
        self.batch = batch
        self.optimizer = optimizer
        self.ddp_reducer = ddp_reducer
        self.loss_scaler = loss_scaler
        self.log_vars = {}
        self._pending = {}

    @property
    def iteration(self):
        return self.batch.iteration

    # -- forwards, losses, scores ------------------------------------------
    def disc_forward(self, images, side):
        """D on ``images`` with the labels of ``side`` (``'real'`` or
        ``'fake'``), through the training wrapper."""
        return self.model.disc_forward(images, self.batch.labels(side))

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
            pred[side] = self.disc_forward(images[side], side)
        return CleanForward(images, pred)

    def clean_losses(self, clean, gan_weight=1.0):
        """The toolbox's D losses on the clean batch, GAN terms weighted."""
        return self.model.disc_losses(self.batch, clean.pred['fake'],
                                      clean.pred['real'], self.loss_scaler,
                                      gan_weight)

    def gan_loss(self, pred, side):
        """The toolbox's D loss of ``pred`` labelled ``side``."""
        return self.model.gan_loss(pred, side == 'real', is_disc=True)

    def score(self, pred, side, kind):
        """Per-sample D loss of ``pred`` labelled ``side``, ``(N,)``, in the
        form ``kind`` (see :mod:`mmgen_adv.models.gan_losses`)."""
        return per_sample_score(self.model.gan_loss, pred, side == 'real',
                                kind)

    # -- what pure attacks need -------------------------------------------
    @property
    def discriminator(self):
        """The unwrapped D: attacks must not go through DDP's hooks."""
        return unwrap(self.model.discriminator)

    def attack_forward(self, side):
        """Calls the unwrapped D on a batch of ``side``'s images."""
        return functools.partial(self.model.call_discriminator,
                                 self.discriminator,
                                 labels=self.batch.labels(side))

    def attack_objective(self, output, side):
        """What an attack on ``side``'s images raises (the model's D loss
        for them, with every head it trains)."""
        assert side == 'real', 'models define the objective on reals only'
        return self.model.real_attack_objective(output,
                                                self.batch.labels(side))

    # -- input gradients ----------------------------------------------------
    def input_gradients(self, clean, losses, objectives, source):
        """Backpropagate ``losses``; return ``d objectives[side] / dx`` at
        the clean images of each side in ``objectives``.

        ``objectives`` maps a side to a function of D's output on it (a
        scalar). ``source`` is where the gradient comes from:

        * ``'backward'``: the images' ``.grad`` left by this backward; the
          objectives must be positive multiples of the side's loss term
          (exact, whatever D is; sign-exact under an fp16 loss scaler).
        * ``'backward_signed'``: the same ``.grad``, each sample's sign set
          to ``sign(d objective / d D(x_i)) * sign(d loss / d D(x_i))``.
          When D treats samples independently and gives one output each,
          ``.grad_i`` is ``dloss/dD_i * dD_i/dx_i``, so the result has the
          sign of the objective's gradient everywhere (not its size: for
          sign steps only), provided the loss is nowhere flat where the
          objective is not. Other outputs fall back to a separate pass.
        * ``'separate'``: ``autograd.grad`` of the objectives through the
          clean forward's graph, before the backward: exact, at the cost of
          one more input-gradient pass.
        """
        sides = list(objectives)
        single_output = all(clean.pred[s][0].numel() == 1 for s in sides)
        if source == 'separate' or (source == 'backward_signed'
                                    and not single_output):
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
        if source == 'backward_signed':
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
            self.model.backward(loss, self.ddp_reducer, self.loss_scaler)

    def log(self, values):
        """Add non-loss scalar tensors to the next step's log."""
        assert not any('loss' in k for k in values), 'log losses via backward'
        self._pending.update(values)

    def step(self):
        """Log (and check) the terms since the last step, then step D.

        A non-finite term stops training here, before the weights change.
        """
        _, log_vars = self.model._parse_losses(self._pending)
        self._pending = {}
        total = self.log_vars.get('loss', 0.0) + log_vars['loss']
        self.log_vars.update(log_vars)
        self.log_vars['loss'] = total
        if (self.iteration + 1) % self.model.accumulation_steps == 0:
            self.model.optimizer_step(self.optimizer['discriminator'],
                                      self.loss_scaler)

    def restart(self):
        """Prepare a second optimizer step within this iteration.

        A ``GradScaler`` unscales and steps an optimizer once per
        ``update()``, so the scaler is updated here: each D optimizer step
        counts as one step of the scaler (its growth interval is counted
        in optimizer steps, and an overflow in the first step lowers the
        scale before the second).
        """
        if self.loss_scaler is not None:
            self.loss_scaler.update()
        self.optimizer['discriminator'].zero_grad()
