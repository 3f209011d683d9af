"""Checkpoint files: reading them safely, checking they fit a model, writing
them atomically and finding the newest complete one in a run's folder.

Every reader here keeps PyTorch's safe loading (``weights_only=True``) and
turns what can go wrong with a file into one :class:`CheckpointError` line:
a missing file, a pickle that asks for a global safe loading refuses (named,
never loaded), a truncated or foreign file, a file without weights, weights
of another architecture (the first differing tensor, both shapes).
"""
import glob
import os
import os.path as osp
import pickle
import re
import shutil
import zipfile

import torch

from ..errors import UserInputError

# mmcv's load_checkpoint strips these prefixes (DataParallel) as well
_WRAPPER_PREFIX = re.compile(r'^module\.')
_REFUSED_GLOBAL = re.compile(r'GLOBAL ([\w.]+)')


class CheckpointError(UserInputError):
    """A checkpoint file that cannot be used, in one line."""


def _starts_like_torch_zip(path):
    with open(path, 'rb') as f:
        return f.read(4) == b'PK\x03\x04'


def _describe_load_error(err, path):
    """Why ``torch.load`` failed, in a few words (no advice to turn safe
    loading off, which the PyTorch message gives)."""
    text = str(err)
    if isinstance(err, pickle.UnpicklingError) and 'Weights only' in text:
        refused = _REFUSED_GLOBAL.search(text)
        what = f"the global '{refused.group(1)}'" if refused else \
            'an object'
        return (f'it asks to load {what}, which safe loading refuses (a '
                'checkpoint holds tensors and plain values; this file may '
                'run code when loaded)')
    if 'central directory' in text or 'failed reading' in text or \
            isinstance(err, (EOFError, zipfile.BadZipFile)) or \
            _starts_like_torch_zip(path):
        return ('it is truncated or not a PyTorch file (a copy or a save '
                'that did not finish)')
    return ('it is not a PyTorch checkpoint '
            f'({type(err).__name__}: '
            f'{text.splitlines()[0][:120] if text else "no detail"})')


def read_checkpoint(path, what='checkpoint', lazy=False):
    """Load the checkpoint at ``path`` with safe loading, on the CPU.

    Args:
        path (str): The file.
        what (str): How messages name it (``'--resume-from'``, ...).
        lazy (bool): Memory-map tensors instead of reading them (for checks
            that only need names, shapes and meta).

    Returns:
        dict: The checkpoint; a bare state dict becomes
        ``{'state_dict': ...}``.

    Raises:
        CheckpointError: With the reason, in one line.
    """
    if not osp.exists(path):
        raise CheckpointError(f"{what} '{path}' does not exist")
    if not osp.isfile(path):
        raise CheckpointError(f"{what} '{path}' is not a file")
    if osp.getsize(path) == 0:
        raise CheckpointError(f"{what} '{path}' cannot be used: it is empty "
                              '(a save that did not finish)')
    # mmap needs the zip format of torch.save; older files load eagerly
    mmap = lazy and zipfile.is_zipfile(path)
    try:
        checkpoint = torch.load(
            path, map_location='cpu', weights_only=True, mmap=mmap)
    except Exception as err:  # noqa: BLE001 (every cause becomes one line)
        raise CheckpointError(f"{what} '{path}' cannot be used: "
                              f'{_describe_load_error(err, path)}') from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f"{what} '{path}' is not a model checkpoint: it holds a "
            f'{type(checkpoint).__name__}, not a dict of weights')
    if 'state_dict' not in checkpoint:
        if checkpoint and all(
                isinstance(v, torch.Tensor) for v in checkpoint.values()):
            return dict(state_dict=checkpoint)
        raise CheckpointError(f"{what} '{path}' is not a model checkpoint: "
                              "it has no 'state_dict'")
    return checkpoint


def require_training_state(checkpoint, path, what='--resume-from'):
    """Refuse a checkpoint that cannot continue a run (weights only)."""
    meta = checkpoint.get('meta')
    if not isinstance(meta, dict) or 'iter' not in meta or \
            'optimizer' not in checkpoint:
        raise CheckpointError(
            f"{what} '{path}' holds weights but not a training state "
            '(optimizer, iteration); load it with --cfg-options '
            'load_from=PATH to start a new run from these weights')


def _shape(value):
    return tuple(value.shape) if hasattr(value, 'shape') else type(
        value).__name__


def strip_wrapper_prefix(state_dict):
    return {_WRAPPER_PREFIX.sub('', k): v for k, v in state_dict.items()}


def state_dict_mismatch(expected, found):
    """The differences between two state dicts' names and shapes.

    Args:
        expected (dict): The model's state dict.
        found (dict): The checkpoint's.

    Returns:
        list[str]: One phrase per differing tensor, in the model's order
        (then the checkpoint's extras); empty when they fit. BatchNorm's
        ``num_batches_tracked`` may be missing (older PyTorch), as mmcv
        allows.
    """
    found = strip_wrapper_prefix(found)
    differences = []
    for key, value in expected.items():
        if key not in found:
            if not key.endswith('num_batches_tracked'):
                differences.append(f"'{key}' {_shape(value)} is in the model "
                                   'but not in the checkpoint')
        elif _shape(found[key]) != _shape(value):
            differences.append(
                f"'{key}' is {_shape(found[key])} in the checkpoint and "
                f'{_shape(value)} in the model')
    differences += [
        f"'{key}' {_shape(value)} is in the checkpoint but not in the model"
        for key, value in found.items() if key not in expected
    ]
    return differences


def check_fits(model, checkpoint, path, what='checkpoint'):
    """Raise unless ``checkpoint``'s weights fit ``model`` exactly."""
    differences = state_dict_mismatch(model.state_dict(),
                                      checkpoint['state_dict'])
    if differences:
        more = f', {len(differences) - 1} more differences' if \
            len(differences) > 1 else ''
        raise CheckpointError(
            f"{what} '{path}' does not fit the config's model: "
            f'{differences[0]} ({type(model).__name__}{more})')


def load_weights(model, path, what='checkpoint', partial=False,
                 logger=None, checkpoint=None):
    """Load ``path``'s weights into ``model``, strictly unless ``partial``.

    With ``partial=True`` the tensors whose name and shape match are loaded
    and the others are named in one log line (never silently skipped).

    Args:
        checkpoint (dict, optional): ``path`` already read.

    Returns:
        dict: The checkpoint (its ``meta`` may matter to the caller).
    """
    # mmcv 1.x: imported here so that the MMagic host (mmcv 2.x, no
    # mmcv.runner) can import this module
    from mmcv.runner import load_state_dict

    if checkpoint is None:
        checkpoint = read_checkpoint(path, what)
    state = strip_wrapper_prefix(checkpoint['state_dict'])
    if not partial:
        check_fits(model, checkpoint, path, what)
        load_state_dict(model, state, strict=True)
        return checkpoint
    expected = model.state_dict()
    differences = state_dict_mismatch(expected, state)
    matching = {
        k: v
        for k, v in state.items()
        if k in expected and _shape(v) == _shape(expected[k])
    }
    # load_state_dict reports what it skips through its own messages
    # (several lines); the summary below says the same in one
    model.load_state_dict(matching, strict=False)
    if differences:
        message = (f"partial load of '{path}': {len(matching)} tensors "
                   f'loaded, {len(differences)} not: ' +
                   '; '.join(differences[:5]) +
                   ('; ...' if len(differences) > 5 else ''))
        (logger.warning if logger else print)(message)
    return checkpoint


# -- writing -------------------------------------------------------------
def _fsync_path(path, directory=False):
    flags = os.O_RDONLY | (getattr(os, 'O_DIRECTORY', 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return  # e.g. a file system that cannot open directories
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temporary_name(path):
    """Where ``path`` is written before it is renamed into place: hidden,
    in the same folder (a rename across file systems is not atomic)."""
    folder, name = osp.split(path)
    return osp.join(folder, f'.{name}.{os.getpid()}.tmp')


def is_temporary_name(name):
    return name.startswith('.') and name.endswith('.tmp')


def commit(temporary, path):
    """Make the finished ``temporary`` file appear as ``path`` at once."""
    _fsync_path(temporary)
    os.replace(temporary, path)
    _fsync_path(osp.dirname(path) or '.', directory=True)


def point_latest(folder, filename, link_name='latest.pth', use_symlink=True):
    """Point ``folder/link_name`` at ``folder/filename`` atomically: a
    symlink (or, where there are none, a copy) is made under a temporary
    name and renamed over the old one, so the link always exists and always
    names a complete file."""
    link = osp.join(folder, link_name)
    temporary = temporary_name(link)
    if osp.lexists(temporary):
        os.remove(temporary)
    if use_symlink:
        os.symlink(filename, temporary)
        os.replace(temporary, link)
    else:
        shutil.copyfile(osp.join(folder, filename), temporary)
        commit(temporary, link)


def save_atomically(save, path):
    """Call ``save(temporary_path)``, then rename the result to ``path``.

    A process killed during ``save`` leaves only a hidden temporary file;
    ``path`` is either the old complete file or the new complete one.
    """
    temporary = temporary_name(path)
    try:
        save(temporary)
        commit(temporary, path)
    except BaseException:
        if osp.exists(temporary):
            os.remove(temporary)
        raise


# -- finding -------------------------------------------------------------
def template_pattern(filename_tmpl='iter_{}.pth'):
    """A regex matching names made from ``filename_tmpl``; group 1 is the
    iteration."""
    before, _, after = filename_tmpl.partition('{}')
    return re.compile(f'^{re.escape(before)}(\\d+){re.escape(after)}$')


def list_checkpoints(folder, filename_tmpl='iter_{}.pth'):
    """``[(iteration, path)]`` of the checkpoints in ``folder``, newest
    first (temporary files and ``latest.pth`` are not listed)."""
    if not osp.isdir(folder):
        return []
    pattern = template_pattern(filename_tmpl)
    found = []
    for name in os.listdir(folder):
        match = pattern.match(name)
        if match and osp.isfile(osp.join(folder, name)):
            found.append((int(match.group(1)), osp.join(folder, name)))
    return sorted(found, reverse=True)


def leftover_temporary_files(folder):
    """Hidden temporary files an interrupted save left in ``folder``."""
    if not osp.isdir(folder):
        return []
    return sorted(
        p for p in glob.glob(osp.join(folder, '.*.tmp'))
        if is_temporary_name(osp.basename(p)))


def newest_complete(folder, filename_tmpl='iter_{}.pth'):
    """The newest checkpoint in ``folder`` that loads, and the unreadable
    ones found on the way.

    Returns:
        tuple: ``(path or None, [(path, reason), ...])``; the unreadable
        files are neither loaded nor deleted.
    """
    unreadable = []
    for _, path in list_checkpoints(folder, filename_tmpl):
        try:
            checkpoint = read_checkpoint(path, 'checkpoint', lazy=True)
            require_training_state(checkpoint, path, 'checkpoint')
        except CheckpointError as err:
            unreadable.append((path, str(err)))
            continue
        return path, unreadable
    return None, unreadable


def checkpoint_folder(cfg):
    """Where the toolbox's ``CheckpointHook`` writes for ``cfg``:
    ``train_model`` puts ``out_dir`` (default ``ckpt``) under the work dir,
    and the hook adds the work dir's name below a folder that is not the
    work dir itself."""
    work_dir = cfg.work_dir
    ckpt_cfg = cfg.get('checkpoint_config') or {}
    out_dir = osp.join(work_dir, ckpt_cfg.get('out_dir', 'ckpt'))
    if out_dir != work_dir:
        out_dir = osp.join(out_dir, osp.basename(work_dir.rstrip(osp.sep)))
    return out_dir


def filename_template(cfg):
    checkpoint_config = cfg.get('checkpoint_config') or {}
    return checkpoint_config.get('filename_tmpl', 'iter_{}.pth')
