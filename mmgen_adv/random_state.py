"""Every global random generator's state, captured and restored: code that
must not draw from the training stream (probes, pre-flight checks, a
resumed fine-tuning) runs inside :class:`PreservedRandomState`; and the
per-iteration seeds that make a resumed run continue exactly (each host's
``IterationSeedHook``)."""
import random

import numpy as np
import torch


def capture_random_state():
    """Every global RNG's state (Python, NumPy, PyTorch CPU and CUDA), as
    plain values a checkpoint can hold."""
    return dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state(),
        cuda=torch.cuda.get_rng_state_all()
        if torch.cuda.is_available() else None)


def restore_random_state(state):
    random.setstate(tuple(
        tuple(part) if isinstance(part, list) else part
        for part in state['python']))
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if state.get('cuda') is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class PreservedRandomState:
    """Save and restore every global RNG (Python, NumPy, PyTorch CPU and
    CUDA), so code run inside draws nothing from the training stream."""

    def __enter__(self):
        self.state = capture_random_state()
        return self

    def __exit__(self, *exc):
        restore_random_state(self.state)


def iteration_seed(seed, iteration, rank=None):
    """A 32-bit seed for one iteration (and rank), well mixed."""
    entropy = [seed, iteration] + ([] if rank is None else [rank])
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # CPU and every CUDA device
