"""mmengine hooks of the MMagic host."""
from mmagic.registry import HOOKS
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from ..random_state import iteration_seed, seed_everything


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
