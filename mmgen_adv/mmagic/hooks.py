"""mmengine hooks of the MMagic host: the per-iteration seed, and the
methods' eps schedule and robustness probe (shared with the mmgen host:
:mod:`mmgen_adv.methods.eps_schedule`, :mod:`mmgen_adv.methods.probe`)."""
from mmagic.registry import HOOKS
from mmengine.dataset import pseudo_collate
from mmengine.dist import get_rank, master_only
from mmengine.hooks import Hook

from ..methods.eps_schedule import EpsSchedule
from ..methods.host import call_disc
from ..methods.probe import RobustnessProbe
from ..random_state import (PreservedRandomState, iteration_seed,
                            seed_everything)
from .host import unwrap


@HOOKS.register_module()
class IterationSeedHook(Hook):
    """Reseed Python, NumPy and PyTorch before every training iteration.

    The noise MMagic's GANs draw at iteration ``k`` then depends on
    ``(seed, k)`` alone, so a run resumed from iteration ``k``'s checkpoint
    continues exactly as the uninterrupted run (mmengine's loop already
    replays the data sampler, which has its own seeded generator).
    ``tools/mmagic/train.py`` adds it unless the config has one.

    Args:
        seed (int | None): Base seed; ``None``: the runner's
            (``randomness.seed``).
        rank_shift (bool): Give each rank its own stream.
    """

    priority = 'VERY_HIGH'

    def __init__(self, seed=None, rank_shift=True):
        if seed is not None and not isinstance(seed, int):
            raise TypeError(f'IterationSeedHook: seed must be an int or '
                            f'None, got {seed!r}')
        self.seed = seed
        self.rank_shift = rank_shift

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        seed = runner.seed if self.seed is None else self.seed
        rank = get_rank() if self.rank_shift else None
        seed_everything(iteration_seed(seed, runner.iter, rank))


@HOOKS.register_module()
class AdvEpsScheduleHook(EpsSchedule, Hook):
    """:class:`~mmgen_adv.methods.eps_schedule.EpsSchedule` in mmengine's
    runner: set before every iteration from ``runner.iter`` (so runs resumed
    with ``--resume`` continue on it), logged as ``adv_eps`` (gray levels)
    through the message hub.

    Args: as :class:`~mmgen_adv.methods.eps_schedule.EpsSchedule`.
    """

    def before_run(self, runner):
        self.bind(unwrap(runner.model))

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        runner.message_hub.update_scalar('train/adv_eps',
                                         self.apply(runner.iter))


@HOOKS.register_module()
class DiscRobustnessProbeHook(RobustnessProbe, Hook):
    """:class:`~mmgen_adv.methods.probe.RobustnessProbe` in mmengine's
    runner.

    The reals are the training set's first samples through the model's
    data preprocessor (``gt_img`` in [-1, 1], labels from ``gt_label``);
    D is called as MMagic's GANs call the bare module. Scalars go to the
    message hub (mmengine's log processor logs a non-loss key's latest
    value, so a probe's values stay in the log lines until the next probe;
    each probe's own are in ``iter_<N>.json``), the gradient's histogram to
    the visualizer's ``TensorboardVisBackend`` when there is one.

    Args: as :class:`~mmgen_adv.methods.probe.RobustnessProbe`.
    """

    bgr = True  # the reals' channel order, as the preprocessor says

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if self.reals is None:
            self._take_probe_batch(runner)
        if self.every_n_train_iters(runner, self.interval):
            self.probe(runner)

    @master_only
    def _take_probe_batch(self, runner):
        """The first ``num_images`` samples of the training set (with their
        labels) as the model's preprocessor gives them, and fixed noise (and
        labels) for the generator."""
        dataset = runner.train_dataloader.dataset
        count = self.num_probe_images(len(dataset))
        model = unwrap(runner.model)
        with PreservedRandomState():  # pipelines may draw random numbers
            batch = pseudo_collate([dataset[i] for i in range(count)])
        # training=True: MMagic's preprocessor normalizes gt_img only then
        samples = model.data_preprocessor(batch, True)['data_samples']
        labels = model.data_sample_to_label(samples) \
            if hasattr(model, 'data_sample_to_label') else None
        self.set_probe_batch(samples.gt_img.cpu(),
                             None if labels is None else labels.cpu(),
                             model.noise_size,
                             getattr(model, 'num_classes', None) or 0)
        order = samples.metainfo.get('gt_img_output_channel_order')
        order = order[0] if isinstance(order, (list, tuple)) else order
        # MMagic's preprocessor takes unnamed 3-channel images as BGR
        self.bgr = str(order or 'BGR').upper() == 'BGR'

    @master_only
    def probe(self, runner):
        model = unwrap(runner.model)
        disc, output = probed_disc(model)
        device = next(disc.parameters()).device
        measured = self.measure(disc, output, unwrap(model.generator),
                                self.labels_for(model, device))
        for key, value in measured.scalars.items():
            runner.message_hub.update_scalar(f'train/{key}', value)
        self.write(runner.work_dir, runner.iter + 1, measured, self.bgr)
        tensorboard = runner.visualizer.get_backend('TensorboardVisBackend')
        if tensorboard is not None:
            tensorboard.experiment.add_histogram(
                'probe/input_gradient', measured.grad.cpu(), runner.iter + 1)


def probed_disc(model):
    """``(bare D, output)``: ``output(images, labels)`` is D's real/fake
    prediction, D called as every MMagic GAN (and this package's, through
    :class:`~.host.MMagicHost`) calls the bare module."""
    disc = unwrap(model.discriminator)
    return disc, lambda x, labels: call_disc(disc, x, labels)
