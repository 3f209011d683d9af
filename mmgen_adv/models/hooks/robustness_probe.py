"""Probing the discriminator's robustness and input gradients, as an mmcv
hook (the probe itself: :mod:`mmgen_adv.methods.probe`)."""
from mmcv.parallel import collate
from mmcv.runner import HOOKS, Hook
from mmcv.runner.dist_utils import master_only

from ...methods.probe import (RobustnessProbe, gradient_picture,
                              gradient_stats, steps_to_fool)
from ...random_state import PreservedRandomState
from ..host import host_of, unwrap

__all__ = [
    'DiscRobustnessProbeHook', 'gradient_picture', 'gradient_stats',
    'steps_to_fool'
]


@HOOKS.register_module()
class DiscRobustnessProbeHook(RobustnessProbe, Hook):
    """:class:`~mmgen_adv.methods.probe.RobustnessProbe` in mmgen's runner.

    The reals are mmgen's ``real_img`` (or ``img``), BGR; D is called
    through the model's host (:func:`~mmgen_adv.models.host.host_of`).
    Scalars go to the runner's log buffer (text, JSON and TensorBoard
    logs), the gradient's histogram to the ``TensorboardLoggerHook``'s
    writer when there is one.

    Args: as :class:`~mmgen_adv.methods.probe.RobustnessProbe`.
    """

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
        count = self.num_probe_images(len(dataset))
        with PreservedRandomState():  # pipelines may draw random numbers
            batch = collate([dataset[i] for i in range(count)])
        reals = batch['real_img'] if 'real_img' in batch else batch['img']
        model = unwrap(runner.model)
        generator = unwrap(model.generator)
        noise_size = getattr(generator, 'noise_size', None) or \
            getattr(generator, 'style_channels')
        self.set_probe_batch(reals, batch.get('gt_label'), noise_size,
                             getattr(model, 'num_classes', None) or 0)

    @master_only
    def probe(self, runner):
        model = unwrap(runner.model)
        host = host_of(model)
        disc = host.discriminator
        device = next(disc.parameters()).device
        measured = self.measure(
            disc,
            lambda x, labels: host.gan_output(host.disc(x, labels,
                                                        bare=True)),
            unwrap(model.generator), self.labels_for(model, device))
        runner.log_buffer.update(measured.scalars)
        self.write(runner.work_dir, runner.iter + 1, measured, bgr=True)
        writer = self._tensorboard_writer(runner)
        if writer is not None:
            writer.add_histogram('probe/input_gradient', measured.grad.cpu(),
                                 runner.iter + 1)

    @staticmethod
    def _tensorboard_writer(runner):
        for hook in runner.hooks:
            if type(hook).__name__ == 'TensorboardLoggerHook':
                return getattr(hook, 'writer', None)
        return None
