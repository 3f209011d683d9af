"""A 1-rank gloo process group in the test's own process, as a rank
launched by dist_train.sh has (for mmengine's DDP wrappers). Models built
inside it differ: MMagic's SNGAN generator then turns its BatchNorms into
SyncBatchNorm (``auto_sync_bn``)."""
import contextlib

import torch.distributed as dist

from mmgen_adv.runs.dist import leave_process_group


@contextlib.contextmanager
def one_rank_group(tmp_path):
    dist.init_process_group('gloo', init_method=f"file://{tmp_path / 'pg'}",
                            rank=0, world_size=1)
    try:
        yield
    finally:
        # as the tools end theirs (a bare destroy deadlocked once in the
        # full MMagic tier: see leave_process_group)
        leave_process_group()
