"""Evaluating on the MMagic host (``tools/mmagic/test.py``): what is
checked before mmengine's Runner builds anything or writes its work dir.

mmengine loads ``load_from`` non-strictly: a checkpoint of another model
(another architecture or width, a run without the EMA generator the config
samples from) only logs warnings, and the metrics then score a generator
that is partly untrained. Here the checkpoint must fit the config's model
exactly (read and compared as the mmgen host does, with
:mod:`mmgen_adv.runs.checkpoints`), and the FID and IS metrics' local
Inception files must exist (MMagic would otherwise try to download them).
"""
import os.path as osp

from mmagic.evaluation.metrics import FrechetInceptionDistance, InceptionScore
from mmagic.registry import METRICS, MODELS
from mmengine.registry import DefaultScope

from ..errors import UserInputError
from ..runs.checkpoints import (CheckpointError, read_checkpoint,
                                state_dict_mismatch)
from .compat import is_local_inception_path

#: how many differences a refusal names (the rest are counted)
SHOWN_DIFFERENCES = 3
INCEPTION_METRICS = (FrechetInceptionDistance, InceptionScore)


def _scope(cfg):
    return DefaultScope.overwrite_default_scope(
        cfg.get('default_scope') or 'mmagic')


def build_model(cfg):
    """The config's model on the CPU, as the runner would build it (only
    its names and shapes are used)."""
    with _scope(cfg):
        return MODELS.build(cfg.model)


def check_checkpoint_fits(cfg, checkpoint_path, config_path,
                          what='checkpoint'):
    """Refuse a checkpoint that is not the config's model, in one line.

    Args:
        cfg (Config): The config (its ``model``).
        checkpoint_path (str): The checkpoint file.
        config_path (str): How the message names the config.
        what (str): How the message names the checkpoint.

    Raises:
        CheckpointError: The file is missing, unreadable, holds no weights,
            or its tensors' names or shapes differ from the model's (a few
            differences named, all counted). EMA weights are part of the
            model (``generator_ema.*``); a leading ``module.`` (a wrapped
            model's save) is ignored, as mmengine ignores it when loading.
    """
    checkpoint = read_checkpoint(checkpoint_path, what, lazy=True)
    model = build_model(cfg)
    expected = model.state_dict()
    differences = state_dict_mismatch(expected, checkpoint['state_dict'])
    if not differences:
        return
    raise CheckpointError(
        f"{what} '{checkpoint_path}' does not fit the model of "
        f"'{config_path}' ({type(model).__name__}): "
        f'{describe_differences(differences)}; the model has '
        f"{len(expected)} tensors, the checkpoint "
        f"{len(checkpoint['state_dict'])})")


def describe_differences(differences):
    """A few of ``state_dict_mismatch``'s phrases, one of each kind first
    (another model shows a missing and an unexpected tensor, another width
    a shape), then the counts of each kind (the parenthesis left open)."""
    by_kind = {}
    for difference in differences:
        by_kind.setdefault(_kind(difference), []).append(difference)
    shown = [found[0] for found in by_kind.values()]
    shown += [d for d in differences if d not in shown]
    counts = ', '.join(f'{len(found)} {kind}'
                       for kind, found in by_kind.items())
    return (f"{'; '.join(shown[:SHOWN_DIFFERENCES])} "
            f'({len(differences)} differences: {counts}')


def _kind(difference):
    """Which kind of difference a phrase of ``state_dict_mismatch`` is."""
    if difference.endswith('but not in the checkpoint'):
        return 'missing'
    if difference.endswith('but not in the model'):
        return 'unexpected'
    return 'of another shape'


def _dicts(node):
    """Every dict in a (nested) config value, depth first."""
    if isinstance(node, dict):
        yield node
        node = list(node.values())
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from _dicts(item)


def inception_metric_cfgs(cfg, evaluator_key='test_evaluator'):
    """The FID and IS metrics (and their subclasses) of an evaluator."""
    found = []
    with _scope(cfg):
        for node in _dicts(cfg.get(evaluator_key)):
            metric_type = node.get('type')
            metric_cls = METRICS.get(metric_type) if isinstance(
                metric_type, str) else metric_type
            if isinstance(metric_cls, type) and issubclass(
                    metric_cls, INCEPTION_METRICS):
                found.append(node)
    return found


def check_inception_files(cfg, evaluator_key='test_evaluator'):
    """Refuse an FID or IS metric whose local ``inception_path`` is not a
    file: MMagic would try the path as a URL (or take a file of that name
    from its download cache). Without ``inception_path`` MMagic downloads
    the StyleGAN Inception, as it documents; that is left to it."""
    for metric in inception_metric_cfgs(cfg, evaluator_key):
        path = metric.get('inception_path')
        if metric.get('inception_style', 'StyleGAN') == 'StyleGAN' and \
                is_local_inception_path(path) and not osp.isfile(path):
            raise UserInputError(
                f"{evaluator_key}: {metric['type']}'s inception_path "
                f"'{path}' is not a file (a TorchScript Inception, e.g. "
                'inception-2015-12-05.pt)')


def check_test_loop(cfg):
    """The runner needs all three to test; refused before it writes."""
    missing = [key for key in ('test_dataloader', 'test_cfg',
                               'test_evaluator') if not cfg.get(key)]
    if missing:
        raise UserInputError(
            f"the config has no {', '.join(missing)} (the runner's test "
            'needs test_dataloader, test_cfg and test_evaluator)')
