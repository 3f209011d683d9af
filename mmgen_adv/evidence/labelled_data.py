"""Labelled images of an mmgen/mmcls dataset as a resumable stream of
``(images, labels)`` batches: the data of Rob-GAN's fine-tuning and of its
evaluation (``tools/robgan_finetune.py``, ``tools/robust_eval.py``)."""
import torch
from mmcv.parallel import collate
from torch.utils.data import DataLoader, Subset


class LabelledBatches:
    """``(images, labels)`` batches of an mmgen/mmcls labelled dataset
    (samples with ``img``/``real_img`` and ``gt_label``), epoch after epoch
    (``cycle``) or once.

    :meth:`state` / :meth:`restore` put a new stream where an earlier one
    was: the shuffling generator as the epoch began, and the batches drawn
    since (drawn again, so random augmentations draw again too: restore the
    global random state afterwards).
    """

    def __init__(self, dataset, batch_size, shuffle=True, seed=0, cycle=True,
                 limit=None):
        if limit is not None and limit < len(dataset):
            dataset = Subset(dataset, range(limit))
        self.generator = torch.Generator().manual_seed(seed)
        self.loader = DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            generator=self.generator,
            collate_fn=collate,
            drop_last=cycle and len(dataset) >= batch_size)
        self.cycle = cycle
        self._batches = None
        self._epoch_start = None
        self._drawn = 0

    def _new_epoch(self):
        self._epoch_start = self.generator.get_state()
        self._drawn = 0
        self._batches = iter(self.loader)

    def __iter__(self):
        return self

    def __next__(self):
        if self._batches is None:
            self._new_epoch()
        try:
            data = next(self._batches)
        except StopIteration:
            self._batches = None
            if not self.cycle:
                raise
            return next(self)
        self._drawn += 1
        images = data['img'] if 'img' in data else data['real_img']
        return images, data['gt_label'].view(-1).long()

    def state(self):
        return dict(epoch_start=self._epoch_start, drawn=self._drawn)

    def restore(self, state):
        if state['epoch_start'] is None:
            return
        self.generator.set_state(state['epoch_start'])
        self._new_epoch()
        for _ in range(state['drawn']):
            next(self._batches)
        self._drawn = state['drawn']


def labelled_batches(dataset, batch_size, shuffle=True, seed=0, cycle=True,
                     limit=None):
    """A :class:`LabelledBatches` stream."""
    return LabelledBatches(dataset, batch_size, shuffle, seed, cycle, limit)
