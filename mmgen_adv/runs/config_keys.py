"""Config keys checked against what the toolbox's builders accept, before
anything is built or written.

A key nobody reads is a silent no-op (``total_itres=5`` trains the full
run) or a traceback much later (``checkpoint_config.intervall=5`` at the
first save). Checked:

* dicts with a ``type`` (model, its generator/discriminator/losses,
  datasets and pipelines, hooks, runner, optimizers, metrics): every key
  must be a parameter of the registered class (following ``**kwargs`` up
  its bases, see :mod:`mmgen_adv.runs.signatures`), and the type must exist;
* the dicts the training code reads by key (``data``, ``log_config``, the
  data loaders): their known keys, plus those the base configs define;
* top-level keys: one close to a key the tools read (``total_itres``) is
  refused; other new top-level variables (``train_pipeline``) are fine;
* ``--cfg-options``: a key the config does not have is refused unless a
  builder above accepts it.

A refusal suggests the closest allowed key. A genuinely new key is declared:
``new_keys = ['data.my_key']`` in the config, or ``+data.my_key=VALUE`` on
the command line.
"""
import difflib
import re

import mmcls.datasets.builder as mmcls_data
import mmgen.datasets.builder as data
import mmgen.models.builder as models
from mmcv.runner import HOOKS, OPTIMIZERS, RUNNERS
from mmgen.core.registry import METRICS
from mmgen.core.runners.dynamic_iterbased_runner import DynamicIterBasedRunner
from mmgen.datasets import build_dataloader
from torch.utils.data import DataLoader

from ..errors import UserInputError
from ..methods.regularizers import check_adv_cfg
from .signatures import accepted_arguments, accepted_callable

# top-level keys read by tools/train.py, mmgen's train_model, the runner
# and the other tools
TOP_LEVEL_KEYS = frozenset({
    'model', 'train_cfg', 'test_cfg', 'optimizer', 'optimizer_config',
    'optimizer_cfg', 'data', 'total_iters', 'checkpoint_config',
    'log_config', 'lr_config', 'momentum_config', 'custom_hooks', 'runner',
    'evaluation', 'metrics', 'dist_params', 'log_level', 'load_from',
    'resume_from', 'workflow', 'find_unused_parameters', 'use_ddp_wrapper',
    'cudnn_benchmark', 'opencv_num_threads', 'mp_start_method', 'work_dir',
    'gpu_ids', 'seed', 'custom_imports', 'apex_amp', 'fp16', 'new_keys'
})
# data keys mmgen's train_model and the tools read (the loader settings
# are checked against build_dataloader and DataLoader too)
DATA_KEYS = frozenset({
    'train', 'val', 'test', 'train_dataloader', 'val_dataloader',
    'test_dataloader', 'val_data_loader', 'val_samples_per_gpu',
    'val_workers_per_gpu'
})
# model parameters built from MODULES by the toolbox's GANs
MODULE_PARAMS = frozenset({
    'generator', 'discriminator', 'gan_loss', 'disc_auxiliary_loss',
    'gen_auxiliary_loss'
})
SUGGEST_CUTOFF = 0.6
TOP_LEVEL_TYPO_CUTOFF = 0.8
NEW_KEY_HINT = ("if it is a new key, declare it: new_keys = ['{path}'] in "
                'the config, or --cfg-options +{path}=VALUE')


def _registries():
    return dict(
        model=models.MODELS,
        module=models.MODULES,
        dataset=data.DATASETS,
        pipeline=data.PIPELINES,
        mmcls_dataset=mmcls_data.DATASETS,
        mmcls_pipeline=mmcls_data.PIPELINES,
        metric=METRICS,
        hook=HOOKS,
        runner=RUNNERS,
        optimizer=OPTIMIZERS)


def resolve_type(type_name, kind):
    """The class registered as ``type_name`` for ``kind`` (a key of
    :func:`_registries`; datasets named ``mmcls.X`` come from mmcls), or
    None."""
    registries = _registries()
    if kind == 'dataset' and type_name.startswith('mmcls.'):
        kind, type_name = 'mmcls_dataset', type_name[len('mmcls.'):]
    registry = registries[kind]
    return registry.module_dict.get(type_name), registry


def normalize(path):
    """``custom_hooks.1.interval`` / ``custom_hooks[1].interval`` ->
    ``custom_hooks.*.interval``."""
    path = re.sub(r'\[(\d+)\]', r'.\1', path)
    return '.'.join('*' if part.isdigit() else part
                    for part in path.split('.'))


def key_paths(node, prefix=''):
    """Every dict key path in ``node`` (list indices as ``*``)."""
    paths = set()
    if isinstance(node, dict):
        for key, value in node.items():
            path = f'{prefix}.{key}' if prefix else str(key)
            paths.add(path)
            paths |= key_paths(value, path)
    elif isinstance(node, (list, tuple)):
        for value in node:
            paths |= key_paths(value, f'{prefix}.*')
    return paths


def _suggestion(key, allowed, cutoff=SUGGEST_CUTOFF):
    close = difflib.get_close_matches(str(key), sorted(allowed), n=1,
                                      cutoff=cutoff)
    return close[0] if close else None


class _Checker:
    """Walks a config; raises on the first key nothing would read."""

    def __init__(self, known, new_keys):
        self.known = known  # normalized paths the base configs define
        self.new_keys = {normalize(k) for k in new_keys}
        self.checked = set()  # normalized paths of checked containers

    # -- refusing ----------------------------------------------------------
    def _declared(self, path):
        return normalize(path) in self.new_keys

    def refuse_key(self, path, key, allowed, what):
        full = f'{path}.{key}' if path else str(key)
        dotted = re.sub(r'\[(\d+)\]', r'.\1', full)  # --cfg-options form
        close = _suggestion(key, allowed)
        hint = f"did you mean '{close}'?" if close else \
            'it takes ' + ', '.join(sorted(allowed)[:15]) + \
            (', ...' if len(allowed) > 15 else '')
        raise UserInputError(f"config key '{full}' is not read by {what}: "
                             f'{hint} ({NEW_KEY_HINT.format(path=dotted)})')

    def refuse_type(self, path, type_name, registry):
        close = _suggestion(type_name, registry.module_dict)
        hint = f"; did you mean '{close}'?" if close else ''
        raise UserInputError(
            f"{path}.type: '{type_name}' is not registered in the "
            f"'{registry.name}' registry{hint} (a plugin's types need its "
            'package in custom_imports)')

    def check_keys(self, node, path, allowed, what, open_ended=False):
        self.checked.add(normalize(path))
        for key in node:
            full = f'{path}.{key}' if path else str(key)
            if key in allowed or open_ended or self._declared(full) or \
                    normalize(full) in self.known:
                continue
            self.refuse_key(path, key, allowed, what)

    # -- typed dicts -------------------------------------------------------
    def typed(self, node, path, kind, extra=(), default_type=None,
              forwarded_to=None, strict_type=True):
        """Check a ``dict(type=...)`` for the class it builds; returns the
        class (None when it cannot be told)."""
        if not isinstance(node, dict):
            return None
        type_name = node.get('type', default_type)
        if not isinstance(type_name, str):
            return None
        cls, registry = resolve_type(type_name, kind)
        if cls is None:
            if strict_type and '.' not in type_name.replace('mmcls.', '', 1):
                self.refuse_type(path, type_name, registry)
            return None
        accepted = accepted_arguments(cls, forwarded_to)
        self.check_keys(node, path, accepted.names | {'type'} | set(extra),
                        f"{type_name} (the class's arguments)",
                        accepted.open_ended)
        return cls

    def typed_list(self, node, path, kind, **kwargs):
        items = node if isinstance(node, (list, tuple)) else [node]
        for i, item in enumerate(items):
            where = f'{path}[{i}]' if isinstance(node, (list, tuple)) \
                else path
            self.typed(item, where, kind, **kwargs)

    # -- the sections ------------------------------------------------------
    def model(self, node, path='model'):
        if self.typed(node, path, 'model') is None:
            return
        for key, value in node.items():
            if key == 'adv_cfg':
                # the regularizers' own check, the one the build makes
                if value is not None:
                    check_adv_cfg(value, f'{path}.adv_cfg')
                    self.checked.add(normalize(f'{path}.adv_cfg'))
                continue
            strict = key in MODULE_PARAMS
            items = value if isinstance(value, (list, tuple)) else [value]
            for i, item in enumerate(items):
                if isinstance(item, dict) and 'type' in item:
                    where = f'{path}.{key}' if len(items) == 1 and not \
                        isinstance(value, (list, tuple)) else \
                        f'{path}.{key}[{i}]'
                    self.module(item, where, strict)

    def module(self, node, path, strict):
        cls = self.typed(node, path, 'module', strict_type=strict)
        if cls is None:
            return
        for key, value in node.items():
            # nested module configs (blocks); layer configs (norm, act)
            # live in mmcv's registries and are not checked
            if isinstance(value, dict) and isinstance(value.get('type'), str)\
                    and resolve_type(value['type'], 'module')[0]:
                self.module(value, f'{path}.{key}', strict=False)

    def dataset(self, node, path, test_mode=None):
        if isinstance(node, (list, tuple)):
            for i, item in enumerate(node):
                self.dataset(item, f'{path}[{i}]')
            return
        cls = self.typed(node, path, 'dataset')
        if cls is None:
            return
        accepted = accepted_arguments(cls)
        if 'dataset' in accepted and isinstance(node.get('dataset'), dict):
            self.dataset(node['dataset'], f'{path}.dataset')
        if 'pipeline' in accepted and isinstance(node.get('pipeline'),
                                                 (list, tuple)):
            kind = 'mmcls_pipeline' if node['type'].startswith('mmcls.') \
                else 'pipeline'
            self.typed_list(node['pipeline'], f'{path}.pipeline', kind)

    def loader_keys(self):
        return (accepted_callable(build_dataloader).names
                | accepted_arguments(DataLoader).names) - {'dataset'}

    def data(self, node, path='data'):
        if not isinstance(node, dict):
            return
        loader = self.loader_keys()
        self.check_keys(node, path, DATA_KEYS | loader,
                        'the data loaders (mmgen build_dataloader, '
                        'DataLoader)')
        for key, value in node.items():
            if key in ('train', 'val', 'test') and value is not None:
                self.dataset(value, f'{path}.{key}')
            elif key in DATA_KEYS and key.endswith(
                    ('_dataloader', '_data_loader')) and isinstance(
                        value, dict):
                self.check_keys(value, f'{path}.{key}', loader,
                                'the data loader')

    def hooks(self, node, path, extra=('priority', )):
        if isinstance(node, (list, tuple)):
            self.typed_list(node, path, 'hook', extra=extra)
        else:
            self.typed(node, path, 'hook', extra=extra)

    def checkpoint_config(self, node, path='checkpoint_config'):
        self.typed(node, path, 'hook', default_type='CheckpointHook',
                   forwarded_to=DynamicIterBasedRunner.save_checkpoint)

    def log_config(self, node, path='log_config'):
        if not isinstance(node, dict):
            return
        self.check_keys(node, path, {'interval', 'hooks'},
                        "the runner's logger setup")
        self.hooks(node.get('hooks') or [], f'{path}.hooks', extra=())

    def scheduler(self, node, path, suffix):
        """``lr_config`` / ``momentum_config``: ``policy`` names the hook."""
        if not isinstance(node, dict) or not isinstance(
                node.get('policy'), str):
            return
        policy = node['policy']
        name = (policy.title() if policy == policy.lower() else policy) + \
            suffix
        self.typed(dict(node, type=name), path, 'hook', extra=('policy', ))

    def evaluation(self, node, path='evaluation'):
        if self.typed(node, path, 'hook', extra=('priority', )) is None:
            return
        metrics = node.get('metrics')
        if metrics is not None:
            self.typed_list(metrics, f'{path}.metrics', 'metric')

    def metrics(self, node, path='metrics'):
        if isinstance(node, dict):
            for name, metric in node.items():
                self.typed(metric, f'{path}.{name}', 'metric')

    def optimizer(self, node, path='optimizer'):
        if not isinstance(node, dict):
            return
        extra = ('paramwise_cfg', 'constructor')
        if 'type' in node:
            self.typed(node, path, 'optimizer', extra=extra)
        else:
            for name, value in node.items():
                self.typed(value, f'{path}.{name}', 'optimizer', extra=extra)

    def top_level(self, cfg):
        sections = dict(
            model=self.model,
            data=self.data,
            custom_hooks=lambda n: self.hooks(n, 'custom_hooks'),
            checkpoint_config=self.checkpoint_config,
            log_config=self.log_config,
            lr_config=lambda n: self.scheduler(n, 'lr_config',
                                               'LrUpdaterHook'),
            momentum_config=lambda n: self.scheduler(
                n, 'momentum_config', 'MomentumUpdaterHook'),
            evaluation=self.evaluation,
            metrics=self.metrics,
            runner=lambda n: self.typed(n, 'runner', 'runner'),
            optimizer=self.optimizer)
        self.checked.add('')
        for key, value in cfg.items():
            if key in sections:
                sections[key](value)
            elif key not in TOP_LEVEL_KEYS and key not in self.known and \
                    not self._declared(key):
                # a new top-level variable (a pipeline for the data, ...)
                # is fine unless it looks like a key the tools read
                close = _suggestion(key, TOP_LEVEL_KEYS,
                                    TOP_LEVEL_TYPO_CUTOFF)
                if close:
                    raise UserInputError(
                        f"config key '{key}' is not read by the tools: did "
                        f"you mean '{close}'? "
                        f'({NEW_KEY_HINT.format(path=key)})')


def _lookup(cfg, path):
    """The containers along ``path`` (dotted; digits index lists) and the
    first missing segment: ``(container path, container, missing key)``,
    or None when the whole path exists."""
    node, walked = cfg, ''
    for part in path.split('.'):
        if isinstance(node, dict) and part in node:
            node, walked = node[part], f'{walked}.{part}' if walked else part
        elif isinstance(node, (list, tuple)) and part.isdigit() and \
                int(part) < len(node):
            node, walked = node[int(part)], f'{walked}.{part}'
        else:
            return walked, node, part
    return None


def check_config_keys(cfg, known=(), new_keys=(), cfg_options=None,
                      options_base=None):
    """Refuse the first key of ``cfg`` nothing would read.

    Args:
        cfg (dict): The merged config (``--cfg-options`` applied).
        known (set): Normalized key paths the base configs define (allowed
            in the dicts read by key).
        new_keys (iterable): Paths declared new (``new_keys`` in the config,
            ``+KEY`` options).
        cfg_options (dict, optional): The ``--cfg-options`` (without the
            ``+`` ones).
        options_base (dict, optional): The config before the options.

    Raises:
        UserInputError: Naming the key, what would have read it and the
            closest allowed key.
    """
    new_keys = list(new_keys) + list(cfg.get('new_keys') or [])
    checker = _Checker(set(known), new_keys)
    checker.top_level(cfg)
    for option in cfg_options or {}:
        found = _lookup(options_base, option)
        if found is None:
            continue
        container_path, container, missing = found
        if normalize(container_path) in checker.checked and \
                container_path != '':
            continue  # a typed or known dict: the walk above checked it
        allowed = container.keys() if isinstance(container, dict) else []
        if container_path == '':
            allowed = set(allowed) | TOP_LEVEL_KEYS
            if missing in TOP_LEVEL_KEYS:
                continue
        checker.refuse_key(container_path, missing, allowed,
                           'the config (--cfg-options may only change keys '
                           'it has)')
