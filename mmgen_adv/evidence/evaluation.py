"""Choosing the toolbox's metrics for ``tools/evaluation.py``, offline-safe.

mmgen's FID/IS load an Inception network from disk or, failing that, from
the network; on a machine without network that ends in a long wait and a
traceback. Here the network is looked for first, and its absence is one
clear error naming the option that fixes it.
"""
import copy
import os.path as osp

import torch
from mmgen.utils import MMGEN_CACHE_DIR

from ..errors import UserInputError

# the file mmgen downloads for ``inception_args=dict(type='StyleGAN')``
TERO_INCEPTION = 'inception-2015-12-05.pt'
TORCH_WEIGHTS = dict(
    FID='pt_inception-2015-12-05-6726825d.pth',
    IS='inception_v3_google-0cc3c7bd.pth')


def _default_metric(kind):
    if kind == 'FID':
        return dict(
            type='FID',
            num_images=50000,
            inception_pkl=None,
            bgr2rgb=True,
            inception_args=dict(type='StyleGAN'))
    if kind == 'IS':
        return dict(
            type='IS', num_images=50000, inception_args=dict(type='StyleGAN'))
    raise UserInputError(
        f"--eval: no metric '{kind}' in the config's `metrics`; "
        "without one only 'fid' and 'is' are known")


def resolve_metric_cfg(cfg, name):
    """The config of metric ``name``: a key of ``cfg.metrics``, or a metric
    type (``fid``, ``is``) looked up in ``cfg.evaluation.metrics``."""
    metrics = cfg.get('metrics') or {}
    if name in metrics:
        return copy.deepcopy(dict(metrics[name]))
    kind = name.upper()
    evaluation = cfg.get('evaluation') or {}
    for metric in evaluation.get('metrics', []) or []:
        if metric.get('type', '').upper() == kind:
            return copy.deepcopy(dict(metric))
    return _default_metric(kind)


def check_inception_available(metric_cfg):
    """Raise if ``metric_cfg`` needs Inception weights that are not on disk."""
    kind = metric_cfg.get('type')
    if kind not in ('FID', 'IS'):
        return
    args = metric_cfg.get('inception_args') or {}
    hint = ('pass --inception-path PATH to a local copy of '
            f"'{TERO_INCEPTION}' (the StyleGAN TorchScript Inception)")
    if args.get('type') == 'StyleGAN':
        path = args.get('inception_path') or TERO_INCEPTION
        if 'http' in path or path == TERO_INCEPTION:
            cached = osp.join(
                osp.expanduser(MMGEN_CACHE_DIR), osp.basename(path))
            if not osp.isfile(cached):
                raise UserInputError(
                    f'{kind} needs the Inception network, which is not in '
                    f'the cache ({cached}) and cannot be downloaded here; '
                    f'{hint}')
        elif not osp.isfile(path):
            raise UserInputError(
                f"{kind}: inception_path '{path}' does not exist; {hint}")
    else:
        cached = osp.join(torch.hub.get_dir(), 'checkpoints',
                          TORCH_WEIGHTS[kind])
        if not (args.get('load_fid_inception') is False
                or osp.isfile(cached)):
            raise UserInputError(
                f'{kind} with the PyTorch Inception needs {cached}, which '
                f'cannot be downloaded here; {hint}')
    pkl = metric_cfg.get('inception_pkl')
    if pkl and not osp.isfile(pkl):
        raise UserInputError(
            f"{kind}: inception_pkl '{pkl}' does not exist (make it with the "
            "toolbox's tools/utils/inception_stat.py, or drop it to compute "
            'real statistics from the dataset)')


def build_metric_cfgs(cfg, names, num_samples=None, inception_path=None):
    """Metric configs for ``--eval NAMES`` with the command-line overrides."""
    metric_cfgs = []
    for name in names:
        metric_cfg = resolve_metric_cfg(cfg, name)
        if num_samples:
            metric_cfg['num_images'] = num_samples
        if inception_path and metric_cfg.get('type') in ('FID', 'IS'):
            metric_cfg['inception_args'] = dict(
                type='StyleGAN', inception_path=inception_path)
        check_inception_available(metric_cfg)
        metric_cfgs.append(metric_cfg)
    return metric_cfgs
