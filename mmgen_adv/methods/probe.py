"""Probing the discriminator the way the papers argue: how easily it is
fooled (DAT's Eq. 1 / Fig. 1) and what its input gradient looks like
(AS-GAN's Fig. 1 and 5).

The measures are pure functions (:func:`steps_to_fool`,
:func:`gradient_stats`, :func:`gradient_picture`); :class:`RobustnessProbe`
is what every host's ``DiscRobustnessProbeHook`` shares: its settings, the
fixed noise, the measurement on a batch and the files it writes. A host's
hook supplies the batch, the modules and how D is called, and logs the
scalars.
"""
import json
import os
import os.path as osp
from typing import NamedTuple

import numpy as np
import torch
from torchvision.utils import save_image

from ..checks import check_choice, check_int, check_number
from ..errors import ConfigError
from ..random_state import PreservedRandomState
from . import attacks


def steps_to_fool(disc, images, target, step, max_steps, tol, forward=None,
                  mode='eval'):
    """DAT's attack count: sign steps of size ``step`` moving each image's
    D output toward ``target`` until ``|D(x) - target| <= tol``.

    Returns the number of steps each image needed (``max_steps`` if it
    never got there). ``disc`` is left untouched; ``forward`` calls it on a
    batch (default ``disc(x)``).
    """
    forward = forward or disc
    adv = images.detach().clone()
    steps = torch.full((images.shape[0], ), max_steps, dtype=torch.long)
    active = torch.ones(images.shape[0], dtype=torch.bool)
    for count in range(max_steps + 1):
        with torch.no_grad(), attacks.untouched(disc, mode):
            out = forward(adv).reshape(adv.shape[0], -1).mean(1)
        reached = active & ((out - target).abs() <= tol).cpu()
        steps[reached] = count
        active &= ~reached
        if count == max_steps or not active.any():
            break
        grad = attacks.input_gradient(
            disc, adv,
            lambda o: (o.reshape(o.shape[0], -1).mean(1) - target).abs()
            .sum(), mode, forward)
        moved = attacks.sign_step(adv, -grad, step)
        adv = torch.where(active.view(-1, 1, 1, 1).to(adv.device), moved,
                          adv)
    return steps


def gradient_stats(grad):
    """L1 norm (mean over images) and Hoyer sparsity (0 dense, 1 one-hot)
    of per-image input gradients."""
    flat = grad.reshape(grad.shape[0], -1)
    l1 = flat.abs().sum(1)
    l2 = flat.norm(dim=1).clamp_min(1e-12)
    n = flat.shape[1]
    hoyer = (n**0.5 - l1 / l2) / (n**0.5 - 1)
    return l1.mean().item(), hoyer.mean().item()


def gradient_picture(grad):
    """AS-GAN's visualisation: clip to +-3 standard deviations around the
    mean, mean absolute value over channels, scaled to [0, 1]."""
    mean, std = grad.mean(), grad.std().clamp_min(1e-12)
    clipped = grad.clamp(mean - 3 * std, mean + 3 * std)
    picture = clipped.abs().mean(dim=1, keepdim=True)
    peak = picture.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
    return (picture / peak).expand(-1, 3, -1, -1)


def mean_score(out):
    """D's real/fake output as one number per image."""
    return out.reshape(out.shape[0], -1).mean(1)


class Measurement(NamedTuple):
    """One probe: the logged ``scalars``, the attack count of every real
    and fake image, and D's input gradient on the reals."""
    scalars: dict
    xi_real: torch.Tensor
    xi_fake: torch.Tensor
    grad: torch.Tensor


class RobustnessProbe:
    """Every ``interval`` iterations, probe D on a fixed batch.

    The batch: the first ``num_images`` images of the training set (with
    their labels), and as many images of the current generator from fixed
    noise (and labels). Measured:

    * DAT's attack-success count (Eq. 1): sign steps of ``step_size`` gray
      levels until ``|D(x_fake_adv) - mean D(x_real)| <= tol`` (``xi_fake``)
      and the mirror for reals (``xi_real``), capped at ``max_steps``;
    * the L1 norm and Hoyer sparsity of D's input gradient on the reals,
      and its histogram;
    * a PNG of the real images above their input gradients (AS-GAN's
      Fig. 1), in ``<work_dir>/<out_dir>/iter_<N>.png``.

    Scalars (``probe_xi_real``, ``probe_xi_fake``, ``probe_grad_l1``,
    ``probe_grad_sparsity``) go to the host's logs; the histogram to
    TensorBoard (where the host logs there) and, with the per-image counts,
    to ``iter_<N>.json``. The probe leaves training as it was: D's and G's
    buffers and modes and every random generator are restored, and nothing
    touches gradients or parameters. It runs on rank 0.

    Args:
        interval (int): Iterations between probes.
        num_images (int): Real and fake images in the probe batch.
        step_size (float): Attack step, gray levels.
        max_steps (int): Cap of the attack count.
        tol (float): DAT's success threshold on D's output (0.02).
        bins (int): Histogram bins.
        mode (str): D's mode while probed: ``'eval'`` or ``'train'``.
        out_dir (str): Folder under the work dir.
        seed (int): Seed of the fixed noise.
    """

    owner = 'DiscRobustnessProbeHook'  # how refusals name the settings

    def __init__(self,
                 interval=1000,
                 num_images=16,
                 step_size=0.5,
                 max_steps=50,
                 tol=0.02,
                 bins=50,
                 mode='eval',
                 out_dir='robustness_probe',
                 seed=2021):
        for key, value, low in (('interval', interval, 1),
                                ('num_images', num_images, 2),
                                ('max_steps', max_steps, 1),
                                ('bins', bins, 2)):
            check_int(self.owner, key, value, low)
        for key, value in (('step_size', step_size), ('tol', tol)):
            check_number(self.owner, key, value, 0.0, low_open=True)
        check_choice(self.owner, 'mode', mode, ('eval', 'train'))
        self.interval = interval
        self.num_images = num_images
        self.step_size = step_size
        self.max_steps = max_steps
        self.tol = tol
        self.bins = bins
        self.mode = mode
        self.out_dir = out_dir
        self.seed = seed
        # the probe batch, taken once by the host's hook
        self.reals = self.real_labels = None
        self.noise = self.fake_labels = None

    # -- the probe batch ---------------------------------------------------
    def num_probe_images(self, dataset_size):
        """How many training images the batch takes (a dataset of fewer
        than 2 is refused)."""
        if dataset_size < 2:
            raise ConfigError(f'{self.owner} needs a dataset of at least 2 '
                              'images')
        return min(self.num_images, dataset_size)

    def set_probe_batch(self, reals, real_labels, noise_size, num_classes):
        """Keep the real images (and labels) and draw the generator's fixed
        noise (and labels, for ``num_classes`` > 0) from ``seed``."""
        self.reals = reals
        self.real_labels = None if real_labels is None else \
            real_labels.view(-1).long()
        gen = torch.Generator().manual_seed(self.seed)
        self.noise = torch.randn(reals.shape[0], noise_size, generator=gen)
        self.fake_labels = torch.randint(
            0, num_classes, (reals.shape[0], ),
            generator=gen) if num_classes else None

    def labels_for(self, model, device):
        """The reals' labels for a conditional ``model`` (``num_classes``),
        ``None`` for an unconditional one."""
        if not getattr(model, 'num_classes', None):
            return None
        if self.real_labels is None:
            raise ConfigError(f'{self.owner}: the conditional '
                              f'{type(model).__name__} needs labelled data '
                              "(samples with 'gt_label')")
        return self.real_labels.to(device)

    # -- the measurement ---------------------------------------------------
    def measure(self, disc, output, generator, real_labels):
        """Probe the bare ``disc`` on the kept batch and ``generator``'s
        images of the fixed noise.

        Args:
            disc (nn.Module): The bare discriminator (attacks run on it).
            output (callable): ``output(images, labels)``: D's real/fake
                prediction, called as the host calls the bare D.
            generator (nn.Module): The bare generator.
            real_labels (Tensor | None): The reals' labels on D's device
                (:meth:`labels_for`).

        Returns:
            Measurement: What :meth:`write` and the host's log take.
        """
        device = next(disc.parameters()).device
        reals = self.reals.to(device)
        fake_labels = None if self.fake_labels is None else \
            self.fake_labels.to(device)
        with PreservedRandomState(), attacks.untouched(generator, 'eval'), \
                torch.no_grad():
            kwargs = {} if fake_labels is None else dict(label=fake_labels)
            fakes = generator(self.noise.to(device), num_batches=len(reals),
                              **kwargs)

        def on(labels):
            """D's real/fake output on a batch with these labels."""
            return lambda x: output(x, labels)

        on_reals, on_fakes = on(real_labels), on(fake_labels)
        with PreservedRandomState():
            with torch.no_grad(), attacks.untouched(disc, self.mode):
                mean_real = mean_score(on_reals(reals)).mean()
                mean_fake = mean_score(on_fakes(fakes)).mean()
            step = attacks.gray_levels(self.step_size)
            xi_fake = steps_to_fool(disc, fakes, mean_real, step,
                                    self.max_steps, self.tol, on_fakes,
                                    self.mode)
            xi_real = steps_to_fool(disc, reals, mean_fake, step,
                                    self.max_steps, self.tol, on_reals,
                                    self.mode)
            grad = attacks.input_gradient(disc, reals, lambda o: o.sum(),
                                          self.mode, on_reals)
        l1, sparsity = gradient_stats(grad)
        scalars = dict(
            probe_xi_real=xi_real.float().mean().item(),
            probe_xi_fake=xi_fake.float().mean().item(),
            probe_grad_l1=l1,
            probe_grad_sparsity=sparsity)
        return Measurement(scalars, xi_real, xi_fake, grad)

    # -- the files ---------------------------------------------------------
    def write(self, work_dir, iteration, measured, bgr):
        """``iter_<iteration>.png`` (the reals above their gradient
        pictures; ``bgr``: the reals' channels are BGR, as mmgen and
        MMagic's default loading give them) and ``iter_<iteration>.json``
        (the scalars, per-image counts and the gradient's histogram) under
        ``<work_dir>/<out_dir>``."""
        out_dir = osp.join(work_dir, self.out_dir)
        os.makedirs(out_dir, exist_ok=True)
        stem = osp.join(out_dir, f'iter_{iteration}')
        reals, grad = self.reals.cpu(), measured.grad.cpu()
        if bgr and reals.shape[1] == 3:
            reals = reals.flip(1)
        grid = torch.cat([(reals + 1) / 2, gradient_picture(grad)])
        save_image(grid, stem + '.png', nrow=len(reals), padding=2)
        counts, edges = np.histogram(grad.numpy(), bins=self.bins)
        with open(stem + '.json', 'w') as f:
            json.dump(
                dict(
                    iter=iteration,
                    **measured.scalars,
                    xi_real_per_image=measured.xi_real.tolist(),
                    xi_fake_per_image=measured.xi_fake.tolist(),
                    grad_histogram=dict(
                        counts=counts.tolist(), edges=edges.tolist())),
                f)
