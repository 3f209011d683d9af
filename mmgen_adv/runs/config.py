"""Loading configs that inherit the toolbox's own (``_base_ = 'mmgen::...'``).

mmcv 1.x has no ``package::path`` syntax; mmengine's ``Config`` resolves it
into the installed toolbox's shipped configs (``mmgen/.mim/configs``). The
result is handed to mmgen as a plain, flat :class:`mmcv.Config`, which is
also what gets written to the work dir.
"""
import difflib
import functools
import os
import os.path as osp

import mmcv
import mmgen
import torch
from mmcv.utils import import_modules_from_strings
from mmengine import Config as EngineConfig

from ..errors import UserInputError
from .compat import strip_scope_keys
from .config_keys import check_config_keys, key_paths, normalize


def toolbox_config_dir():
    return osp.join(osp.dirname(mmgen.__file__), '.mim', 'configs')


def _missing_base_hint(missing):
    root = toolbox_config_dir()
    rel = osp.relpath(missing, root)
    if rel.startswith('..'):
        return ''
    shipped = []
    for dirpath, _, files in os.walk(root):
        shipped += [
            osp.relpath(osp.join(dirpath, f), root) for f in files
            if f.endswith('.py')
        ]
    close = difflib.get_close_matches(rel, shipped, n=3, cutoff=0.6)
    hint = f" (no 'mmgen::{rel}' among the toolbox's configs in {root}"
    if close:
        hint += '; did you mean ' + ', '.join(f"'mmgen::{c}'" for c in close)
    return hint + ')'


def load_config(path, cfg_options=None, check_keys=True):
    """Load ``path`` (and its ``mmgen::`` bases) as a flat mmcv Config.

    ``path`` may itself be ``mmgen::PATH``: a config shipped with the toolbox.
    ``cfg_options`` keys starting with ``+`` add a new key (not checked).

    Raises:
        UserInputError: the file or one of its bases does not exist, or it
            does not parse; or (``check_keys``) a key nothing would read
            (see :mod:`mmgen_adv.runs.config_keys`).
    """
    if path.startswith('mmgen::'):
        shipped = osp.join(toolbox_config_dir(), path[len('mmgen::'):])
        if not osp.isfile(shipped):
            raise UserInputError(f"config '{path}' does not exist"
                                 f'{_missing_base_hint(shipped)}')
        path = shipped
    if not osp.isfile(path):
        raise UserInputError(f"config file '{path}' does not exist")
    try:
        engine_cfg = EngineConfig.fromfile(path, import_custom_modules=False)
    except FileNotFoundError as err:
        missing = err.filename or str(err).split('"')[1 if '"' in str(
            err) else 0]
        raise UserInputError(
            f"config '{path}': base config '{missing}' does not exist"
            f'{_missing_base_hint(missing)}') from None
    except SyntaxError as err:
        raise UserInputError(f"config '{err.filename or path}' line "
                             f'{err.lineno}: {err.msg}') from None
    except (AssertionError, TypeError, KeyError) as err:
        # unknown 'package::' scope; a key merged into a base of another
        # type; a `{{_base_.x}}` reference that does not exist
        raise UserInputError(f"config '{path}': {err}") from None
    cfg_dict = strip_scope_keys(engine_cfg.to_dict())
    cfg = mmcv.Config(cfg_dict, filename=path)
    options = dict(cfg_options or {})
    added = [key[1:] for key in options if key.startswith('+')]
    options = {key.lstrip('+'): value for key, value in options.items()}
    options_base = cfg._cfg_dict.to_dict() if options else None
    if options:
        try:
            cfg.merge_from_dict(options)
        except (TypeError, KeyError, IndexError) as err:
            raise UserInputError(f'--cfg-options: {err}') from None
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    if check_keys:
        check_config_keys(
            cfg._cfg_dict.to_dict(),
            known=base_key_paths(path),
            new_keys=added,
            cfg_options={k: v
                         for k, v in options.items() if k not in added},
            options_base=options_base)
    return cfg


@functools.lru_cache(maxsize=256)
def _config_key_paths(path, mtime):
    cfg = load_config(path, check_keys=False)._cfg_dict.to_dict()
    return frozenset(normalize(p) for p in key_paths(cfg))


def base_key_paths(path):
    """Normalized key paths defined by the base configs of ``path``."""
    paths = set()
    for base in EngineConfig._get_base_files(path):
        base_path = EngineConfig._get_cfg_path(base, path)[0]
        if osp.isfile(base_path):
            paths |= _config_key_paths(base_path, os.stat(base_path).st_mtime)
    return paths


def add_missing_runtime(cfg):
    """Take the keys ``cfg`` lacks from the toolbox's default runtime.

    The toolbox's WGAN-GP configs inherit no runtime config, so they have no
    ``log_level``, ``workflow`` or ``dist_params`` and its train tool fails
    on them. Returns the keys that were added.
    """
    runtime = load_config(
        osp.join(toolbox_config_dir(), '_base_', 'default_runtime.py'),
        check_keys=False)
    added = [key for key in runtime if key not in cfg]
    for key in added:
        cfg[key] = runtime[key]
    return added


def dump_flat_config(cfg, work_dir, name):
    """Write ``cfg`` resolved into one file plain ``mmcv.Config`` can load."""
    out = osp.join(work_dir, osp.splitext(osp.basename(name))[0] + '.py')
    mmcv.mkdir_or_exist(work_dir)
    with open(out, 'w') as f:
        f.write(cfg.pretty_text)
    return out


def _find_keys(cfg, keys, where=''):
    """``(dotted path, value)`` of every key in ``keys`` inside ``cfg``."""
    found = []
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            path = f'{where}.{key}' if where else key
            if key in keys:
                found.append((path, value))
            found += _find_keys(value, keys, path)
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            found += _find_keys(value, keys, f'{where}.{i}')
    return found


def check_fp16_needs_cuda(cfg):
    """Refuse half-precision settings on a host without CUDA.

    The toolbox's fp16 paths (``num_fp16_scales``, ``fp16_enabled``, the
    runner's ``fp16_loss_scaler``, ``apex_amp``) cast to half on CUDA only;
    on the CPU they fail in the first forward with a dtype mismatch.
    """
    if torch.cuda.is_available():
        return
    fp16 = [(path, value) for path, value in _find_keys(
        cfg._cfg_dict.to_dict(),
        ('num_fp16_scales', 'fp16_enabled', 'fp16_loss_scaler', 'apex_amp'))
            if value]
    if fp16:
        settings = ', '.join(f'{path}={value!r}' for path, value in fp16)
        raise UserInputError(
            f'half-precision training needs CUDA, and this host has none '
            f'({settings}); drop these settings to train in fp32 on the CPU')
