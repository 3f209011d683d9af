"""Input-space attacks on a discriminator.

Every attack is a pure function of ``(disc, images, objective)`` (and, for
a discriminator that needs labels or returns several outputs, the
``forward`` that calls it), for a bare discriminator module (no
distributed wrapper: a host unwraps it first): it returns perturbed images
and leaves the discriminator as it found it
(parameters, their ``.grad``, BatchNorm statistics, spectral-norm vectors,
train/eval mode). Gradients are taken with respect to the input only.

Images are in mmgen's input scale, [-1, 1]; ``eps`` and step sizes here are
in that scale too (use :func:`gray_levels` to convert from 8-bit levels).

The step rules (:func:`sign_step`, :func:`gradient_step`, :func:`project`)
are separate from the gradient so a training step can apply the same rule to
a gradient it already has from its own backward pass. They take the
direction to move in (the gradient of what the step increases) and treat
NaN entries as 0.
"""
import contextlib

import torch

IMAGE_RANGE = (-1.0, 1.0)


def gray_levels(levels):
    """8-bit gray levels as a distance in mmgen's [-1, 1] input scale."""
    return levels * 2.0 / 255.0


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


def input_gradient(disc, images, objective, mode='train', forward=None):
    """``d objective(forward(x)) / dx`` at ``x = images``; ``disc`` untouched.

    Args:
        disc (nn.Module): The bare discriminator.
        images (Tensor): Input batch.
        objective (callable): Maps the discriminator's output to a scalar.
        mode (str): ``'train'`` or ``'eval'``, see :func:`untouched`.
        forward (callable, optional): How to call ``disc`` on a batch (with
            labels, or for all of its outputs); default ``disc(x)``.
    """
    forward = forward or disc
    x = images.detach().requires_grad_(True)
    with untouched(disc, mode), torch.enable_grad():
        value = objective(forward(x))
        if not value.requires_grad:  # nothing in the graph at all
            return torch.zeros_like(images)
        grad, = torch.autograd.grad(value, x, allow_unused=True)
    # a locally constant D has no gradient: no direction to move in
    return torch.zeros_like(images) if grad is None else grad


def finite(grad):
    """``grad`` with NaNs as 0: an fp16 backward that overflowed (the loss
    scaler then skips the update) must not turn the images into NaN.
    (``torch.sign`` already maps NaN to 0; raw gradient steps need this.)"""
    return torch.nan_to_num(grad, nan=0.0)


def sign_step(images, direction, size, image_range=IMAGE_RANGE):
    """``images + size * sign(direction)``, clamped to the image range."""
    return (images + size * finite(direction).sign()).clamp(
        *image_range).detach()


def gradient_step(images, direction, scale=1.0, clamp=None,
                  image_range=IMAGE_RANGE):
    """``images + scale * direction``, each pixel's move clamped to
    ``clamp`` (if given) and the result to the image range: a raw gradient
    step, whose size follows the gradient's."""
    delta = scale * finite(direction)
    if clamp is not None:
        delta = delta.clamp(-clamp, clamp)
    return (images + delta).clamp(*image_range).detach()


def project(images, adv_images, eps, image_range=IMAGE_RANGE):
    """Project onto the L-inf ball of radius ``eps`` and the image range."""
    delta = (adv_images - images).clamp(-eps, eps)
    return (images + delta).clamp(*image_range).detach()


def fgsm(disc, images, objective, eps, mode='train', forward=None):
    """Untargeted FGSM: one sign step of size ``eps`` that increases
    ``objective`` (e.g. the discriminator's loss on these images)."""
    grad = input_gradient(disc, images, objective, mode, forward)
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


def pgd(disc,
        images,
        objective,
        eps,
        step_size,
        steps,
        random_start=False,
        mode='train',
        generator=None,
        forward=None):
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
        grad = input_gradient(disc, adv, objective, mode, forward)
        adv = project(images, sign_step(adv, grad, step_size), eps)
    return adv
