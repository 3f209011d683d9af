"""Probing the discriminator the way the papers argue: how easily it is
fooled (DAT's Eq. 1 / Fig. 1) and what its input gradient looks like
(AS-GAN's Fig. 1 and 5)."""
import json
import os.path as osp

import mmcv
import numpy as np
import torch
from mmcv.parallel import collate
from mmcv.runner import HOOKS, Hook
from mmcv.runner.dist_utils import master_only
from torchvision.utils import save_image

from ...checks import check_choice, check_int, check_number
from ...errors import ConfigError
from ...methods import attacks
from ...random_state import PreservedRandomState
from ..host import host_of, unwrap


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


@HOOKS.register_module()
class DiscRobustnessProbeHook(Hook):
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
    ``probe_grad_sparsity``) go to the text, JSON and TensorBoard logs; the
    histogram to TensorBoard (when its logger hook is on) and, with the
    per-image counts, to ``iter_<N>.json``. The probe leaves training as it
    was: D's and G's buffers and every random generator are restored, and
    nothing touches gradients or parameters. It runs on rank 0.

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
        owner = 'DiscRobustnessProbeHook'
        for key, value, low in (('interval', interval, 1),
                                ('num_images', num_images, 2),
                                ('max_steps', max_steps, 1),
                                ('bins', bins, 2)):
            check_int(owner, key, value, low)
        for key, value in (('step_size', step_size), ('tol', tol)):
            check_number(owner, key, value, 0.0, low_open=True)
        check_choice(owner, 'mode', mode, ('eval', 'train'))
        self.interval = interval
        self.num_images = num_images
        self.step_size = step_size
        self.max_steps = max_steps
        self.tol = tol
        self.bins = bins
        self.mode = mode
        self.out_dir = out_dir
        self.seed = seed
        self.reals = self.real_labels = None

    def after_train_iter(self, runner):
        if self.reals is None:
            self._take_probe_batch(runner)
        if self.every_n_iters(runner, self.interval):
            self.probe(runner)

    @master_only
    def _take_probe_batch(self, runner):
        """The first ``num_images`` samples of the training set (with their
        labels), and fixed noise (and labels) for the generator."""
        dataset = runner.data_loader._dataloader.dataset
        if len(dataset) < 2:
            raise ConfigError('DiscRobustnessProbeHook needs a dataset of at '
                              'least 2 images')
        with PreservedRandomState():  # pipelines may draw random numbers
            batch = collate([
                dataset[i] for i in range(min(self.num_images, len(dataset)))
            ])
        self.reals = batch['real_img'] if 'real_img' in batch else \
            batch['img']
        self.real_labels = batch.get('gt_label')
        if self.real_labels is not None:
            self.real_labels = self.real_labels.view(-1).long()
        model = unwrap(runner.model)
        generator = unwrap(model.generator)
        gen = torch.Generator().manual_seed(self.seed)
        noise_size = getattr(generator, 'noise_size', None) or \
            getattr(generator, 'style_channels')
        self.noise = torch.randn(self.reals.shape[0], noise_size,
                                 generator=gen)
        num_classes = getattr(model, 'num_classes', None) or 0
        self.fake_labels = torch.randint(
            0, num_classes, (self.reals.shape[0], ),
            generator=gen) if num_classes else None

    @master_only
    def probe(self, runner):
        model = unwrap(runner.model)
        host = host_of(model)
        disc, gen = host.discriminator, unwrap(model.generator)
        device = next(disc.parameters()).device
        reals = self.reals.to(device)
        with PreservedRandomState(), attacks.untouched(gen, 'eval'), \
                torch.no_grad():
            kwargs = {} if self.fake_labels is None else dict(
                label=self.fake_labels.to(device))
            fakes = gen(self.noise.to(device), num_batches=len(reals),
                        **kwargs)
        labels = self._real_labels(model, device)
        fake_labels = None if self.fake_labels is None else \
            self.fake_labels.to(device)

        def on(labels):
            """D's real/fake output on a batch with these labels."""
            return lambda x: host.gan_output(host.disc(x, labels, bare=True))

        on_reals, on_fakes = on(labels), on(fake_labels)
        with PreservedRandomState():
            with torch.no_grad(), attacks.untouched(disc, self.mode):
                mean_real = self._score(on_reals(reals)).mean()
                mean_fake = self._score(on_fakes(fakes)).mean()
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
        runner.log_buffer.update(scalars)
        self._write(runner, scalars, grad, xi_real, xi_fake, reals)

    def _real_labels(self, model, device):
        if not getattr(model, 'num_classes', None):
            return None
        if self.real_labels is None:
            raise ConfigError('DiscRobustnessProbeHook: the conditional '
                              f'{type(model).__name__} needs labelled data '
                              "(samples with 'gt_label')")
        return self.real_labels.to(device)

    @staticmethod
    def _score(out):
        return out.reshape(out.shape[0], -1).mean(1)

    def _write(self, runner, scalars, grad, xi_real, xi_fake, reals):
        out_dir = osp.join(runner.work_dir, self.out_dir)
        mmcv.mkdir_or_exist(out_dir)
        stem = osp.join(out_dir, f'iter_{runner.iter + 1}')
        # images (BGR as mmgen feeds them) above their gradient pictures
        images = (reals.flip(1) + 1) / 2 if reals.shape[1] == 3 else \
            (reals + 1) / 2
        grid = torch.cat([images.cpu(), gradient_picture(grad.cpu())])
        save_image(grid, stem + '.png', nrow=len(reals), padding=2)
        counts, edges = np.histogram(grad.cpu().numpy(), bins=self.bins)
        with open(stem + '.json', 'w') as f:
            json.dump(
                dict(
                    iter=runner.iter + 1,
                    **scalars,
                    xi_real_per_image=xi_real.tolist(),
                    xi_fake_per_image=xi_fake.tolist(),
                    grad_histogram=dict(
                        counts=counts.tolist(), edges=edges.tolist())),
                f)
        writer = self._tensorboard_writer(runner)
        if writer is not None:
            writer.add_histogram('probe/input_gradient', grad.cpu(),
                                 runner.iter + 1)

    @staticmethod
    def _tensorboard_writer(runner):
        for hook in runner.hooks:
            if type(hook).__name__ == 'TensorboardLoggerHook':
                return getattr(hook, 'writer', None)
        return None
