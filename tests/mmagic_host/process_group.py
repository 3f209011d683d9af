"""A 1-rank gloo process group in the test's own process, as a rank
launched by dist_train.sh has (for mmengine's DDP wrappers). Models built
inside it differ: MMagic's SNGAN generator then turns its BatchNorms into
SyncBatchNorm (``auto_sync_bn``)."""
import contextlib
import time

import torch.distributed as dist


@contextlib.contextmanager
def one_rank_group(tmp_path):
    dist.init_process_group('gloo', init_method=f"file://{tmp_path / 'pg'}",
                            rank=0, world_size=1)
    try:
        yield
    finally:
        # gloo's worker threads free each finished allreduce, and that frees
        # Python state, taking the GIL; destroying the group joins those
        # threads while this thread holds the GIL (a deadlock seen in the
        # full MMagic tier). Let the queue drain, then release the GIL.
        dist.barrier()
        time.sleep(0.2)
        dist.destroy_process_group()
