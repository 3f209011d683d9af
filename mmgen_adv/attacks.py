"""Input-space attacks on a discriminator.

Every attack is a pure function of ``(disc, images, labels, objective)``:
it returns perturbed images and leaves the discriminator as it found it
(parameters, their ``.grad``, BatchNorm statistics, spectral-norm vectors,
train/eval mode). Gradients are taken with respect to the input only.

Images are in mmgen's input scale, [-1, 1]; ``eps`` and step sizes here are
in that scale too (use :func:`gray_levels` to convert from 8-bit levels).

The step rules (:func:`sign_step`, :func:`dat_step`, :func:`project`) are
separate from the gradient so a training step can apply the same rule to a
gradient it already has from its own backward pass.
"""
import contextlib

import torch
from mmcv.parallel import is_module_wrapper

IMAGE_RANGE = (-1.0, 1.0)
DAT_VARIANTS = ('paper', 'reference')


def gray_levels(levels):
    """8-bit gray levels as a distance in mmgen's [-1, 1] input scale."""
    return levels * 2.0 / 255.0


def unwrap(disc):
    return disc.module if is_module_wrapper(disc) else disc


def call_disc(disc, images, labels=None, disc_kwargs=None):
    """``disc(images)``, passing labels to a conditional discriminator (and
    ``disc_kwargs``, e.g. ``return_aux=True`` for a second head)."""
    kwargs = dict(disc_kwargs or {})
    if labels is not None:
        kwargs['label'] = labels
    return disc(images, **kwargs)


@contextlib.contextmanager
def untouched(disc, mode='train'):
    """Run ``disc`` and restore every buffer and module mode afterwards.

    ``mode='train'`` runs the modules in the mode they are in (during
    training: BatchNorm on batch statistics); ``'eval'`` attacks the
    inference-mode network, as Rob-GAN's attacker does. Either way, running
    statistics and spectral-norm ``u``/``v`` vectors updated by the forward
    are put back.
    """
    if mode not in ('train', 'eval'):
        raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
    buffers = [(b, b.detach().clone()) for b in disc.buffers()]
    modes = [(m, m.training) for m in disc.modules()]
    if mode == 'eval':
        disc.eval()
    try:
        yield
    finally:
        with torch.no_grad():
            for buf, saved in buffers:
                buf.copy_(saved)
        for module, training in modes:
            module.training = training


def input_gradient(disc,
                   images,
                   objective,
                   labels=None,
                   mode='train',
                   disc_kwargs=None):
    """``d objective(disc(x)) / dx`` at ``x = images``; ``disc`` untouched.

    Args:
        disc (nn.Module): The discriminator (a DDP wrapper is unwrapped).
        images (Tensor): Input batch.
        objective (callable): Maps the discriminator's output to a scalar.
        labels (Tensor, optional): Labels for a conditional discriminator.
        mode (str): ``'train'`` or ``'eval'``, see :func:`untouched`.
        disc_kwargs (dict, optional): More keyword arguments for ``disc``.
    """
    disc = unwrap(disc)
    x = images.detach().requires_grad_(True)
    with untouched(disc, mode), torch.enable_grad():
        value = objective(call_disc(disc, x, labels, disc_kwargs))
        if not value.requires_grad:  # nothing in the graph at all
            return torch.zeros_like(images)
        grad, = torch.autograd.grad(value, x, allow_unused=True)
    # a locally constant D has no gradient: no direction to move in
    return torch.zeros_like(images) if grad is None else grad


def finite(grad):
    """``grad`` with NaNs as 0: an fp16 backward that overflowed (the loss
    scaler then skips the update) must not turn the images into NaN."""
    return torch.nan_to_num(grad, nan=0.0)


def sign_step(images, grad, step, image_range=IMAGE_RANGE):
    """``images + step * sign(grad)``, clamped to the image range."""
    return (images + step * finite(grad).sign()).clamp(*image_range).detach()


def project(images, adv_images, eps, image_range=IMAGE_RANGE):
    """Project onto the L-inf ball of radius ``eps`` and the image range."""
    delta = (adv_images - images).clamp(-eps, eps)
    return (images + delta).clamp(*image_range).detach()


def dat_step(images, grad, eps, variant='paper', image_range=IMAGE_RANGE):
    """DAT's targeted step against ``grad`` (descent on the distance).

    ``'paper'``: ``x - eps * sign(grad)``. ``'reference'`` (the official
    code): ``x - clamp(grad, -eps, eps)``, a raw gradient step whose size is
    set by the discriminator's gradient, at most ``eps`` per pixel.
    """
    if variant == 'paper':
        return sign_step(images, -grad, eps, image_range)
    if variant == 'reference':
        return (images - finite(grad).clamp(-eps, eps)).clamp(
            *image_range).detach()
    raise ValueError(f'variant must be one of {DAT_VARIANTS}, got '
                     f'{variant!r}')


def fgsm(disc, images, objective, eps, labels=None, mode='train'):
    """Untargeted FGSM: one sign step of size ``eps`` that increases
    ``objective`` (e.g. the discriminator's loss on these images)."""
    grad = input_gradient(disc, images, objective, labels, mode)
    return sign_step(images, grad, eps)


def gaussian_direction(images, eps, generator=None):
    """AS-GAN's ablation: an ``eps`` sign step along Gaussian noise instead
    of the gradient."""
    noise = torch.randn(
        images.shape,
        generator=generator,
        device=images.device,
        dtype=images.dtype)
    return sign_step(images, noise, eps)


def dat_distance(scores, target, variant='paper'):
    """DAT's attack objective, the distance to the other class's mean score.

    ``'paper'`` (Eq. 10): sum over samples of ``|score_i - target|``;
    ``'reference'``: ``|mean(score) - target|``, as the official code.
    """
    if variant == 'paper':
        return (scores - target).abs().sum()
    if variant == 'reference':
        return (scores.mean() - target).abs()
    raise ValueError(f'variant must be one of {DAT_VARIANTS}, got '
                     f'{variant!r}')


def dat_targeted(disc,
                 images,
                 score_fn,
                 target,
                 eps,
                 labels=None,
                 variant='paper',
                 mode='train'):
    """DAT's one-step targeted attack toward the other class.

    Moves ``images`` so that their per-sample scores ``score_fn(disc(x))``
    approach ``target``, the other class's mean score (real images toward
    the fakes' mean and vice versa).
    """
    grad = input_gradient(
        disc, images,
        lambda out: dat_distance(score_fn(out), target, variant), labels,
        mode)
    return dat_step(images, grad, eps, variant)


def pgd(disc,
        images,
        objective,
        eps,
        step_size,
        steps,
        labels=None,
        random_start=False,
        mode='train',
        generator=None,
        disc_kwargs=None):
    """Projected gradient ascent on ``objective`` in the L-inf ``eps`` ball.

    Args:
        step_size (float): Size of each sign step.
        steps (int): Number of steps.
        random_start (bool): Start from a uniform point of the ball.
        Others: as :func:`input_gradient`.
    """
    if steps < 0 or step_size < 0 or eps < 0:
        raise ValueError('pgd needs eps, step_size and steps >= 0')
    adv = images.detach()
    if random_start:
        noise = torch.rand(
            images.shape,
            generator=generator,
            device=images.device,
            dtype=images.dtype)
        adv = project(images, images + (2 * noise - 1) * eps, eps)
    for _ in range(steps):
        grad = input_gradient(disc, adv, objective, labels, mode,
                              disc_kwargs)
        adv = project(images, adv + step_size * grad.sign(), eps)
    return adv
