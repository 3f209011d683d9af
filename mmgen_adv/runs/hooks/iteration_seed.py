"""Random state as a function of the iteration, so resuming is exact."""
from mmcv.runner import HOOKS, Hook, get_dist_info

from ...random_state import iteration_seed, seed_everything


@HOOKS.register_module()
class IterationSeedHook(Hook):
    """Reseed Python, NumPy and PyTorch before every training iteration.

    The noise, augmentation and data order of iteration ``k`` then depend on
    ``(seed, k)`` alone. A run resumed from the checkpoint of iteration ``k``
    therefore continues exactly as the uninterrupted run did (same weights at
    every later iteration), and hooks that draw random numbers (sample
    grids, evaluation) no longer shift the training stream.

    On the first iteration of a process the data loader is put where the
    uninterrupted run had it: the epoch's iterator is rebuilt under that
    epoch's seed and the batches already seen are drawn again (their tensors
    are discarded).

    ``tools/train.py`` adds this hook with ``--seed`` unless the config has
    one.

    Args:
        seed (int): Base seed.
        rank_shift (bool): Give each rank its own stream (``--diff_seed``).
    """

    def __init__(self, seed, rank_shift=False):
        if not isinstance(seed, int):
            raise TypeError(f'IterationSeedHook: seed must be an int, got '
                            f'{seed!r}')
        self.seed = seed
        self.rank_shift = rank_shift
        self._positioned = False

    def _reseed(self, iteration):
        rank = get_dist_info()[0] if self.rank_shift else None
        seed_everything(iteration_seed(self.seed, iteration, rank))

    def _position_loader(self, runner):
        """Rebuild the loader's state as the uninterrupted run had it.

        That run, at the first iteration of each epoch, reseeded, built the
        epoch's iterator and drew its first batch, then reseeded and drew
        once per iteration. The same calls are replayed up to this one.
        """
        loader = runner.data_loader  # mmgen's IterLoader
        batches = len(loader._dataloader)
        epoch, offset = divmod(runner.iter, batches)
        start = runner.iter - offset
        loader._epoch = epoch
        if hasattr(loader._dataloader.sampler, 'set_epoch'):
            loader._dataloader.sampler.set_epoch(epoch)
        self._reseed(start)
        loader.iter_loader = iter(loader._dataloader)
        for iteration in range(start, runner.iter):
            next(loader.iter_loader)
            self._reseed(iteration + 1)
        self._positioned = True

    def before_fetch_train_data(self, runner):
        if self._positioned:
            self._reseed(runner.iter)
        else:
            self._position_loader(runner)
