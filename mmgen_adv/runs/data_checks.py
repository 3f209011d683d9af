"""Pre-flight checks of a config's datasets, before anything is written.

Two stages:

* :func:`check_dataset_paths` (before building): the files and folders the
  dataset classes would read exist, and image folders hold images. Which
  keys are paths follows the class that is built (its ``__init__``
  parameters, :mod:`mmgen_adv.runs.signatures`): ``imgs_root``,
  ``GrowScaleImgDataset.imgs_roots``, ``SinGANDataset.img_path``, the
  split folders under ``dataroot`` (paired / unpaired), ``data_prefix`` and
  ``ann_file`` (mmcls; CIFAR's files, which mmcls would otherwise try to
  download). A wrapper's ``dataset`` is followed only when the class takes
  one: the toolbox's fp16 quick-test configs keep the base config's
  ``dataset`` key under a ``QuickTestImageDataset``, which reads no files.
* :func:`check_samples` (after building): the dataset is not empty, a sample
  of its items loads, and their images have one size, the size the model
  generates.
"""
import os
import os.path as osp
import sys
from dataclasses import dataclass

import torch
from mmgen.datasets import build_dataset
from mmgen.models import BasicConditionalGAN, StaticUnconditionalGAN

from ..errors import UserInputError
from ..random_state import PreservedRandomState
from .config_keys import resolve_type
from .signatures import accepted_arguments

# image suffixes of the toolbox's folder datasets (mmgen's own classes are
# case-sensitive and say so in _VALID_IMG_SUFFIX)
DEFAULT_IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm',
                          '.tif', '.tiff', '.webp')
SAMPLES_CHECKED = 16


@dataclass
class DataPath:
    """A path a dataset class reads.

    Attributes:
        key (str): The config key that names it (``data.train.imgs_root``).
        path (str): What is read (for ``dataroot``: the split folder).
        kind (str): ``'image_dir'`` (searched for images, recursively),
            ``'class_dir'`` (one folder of images per class), ``'file'``,
            ``'image_file'``, ``'archive'`` (files checked by the class).
        dataset (type): The dataset class.
        note (str): How ``path`` derives from the key's value.
    """
    key: str
    path: str
    kind: str
    dataset: type
    note: str = ''


def _image_suffixes(cls):
    suffixes = getattr(cls, '_VALID_IMG_SUFFIX', None) or getattr(
        sys.modules.get(cls.__module__), 'IMG_EXTENSIONS', None)
    return tuple(suffixes) if suffixes else DEFAULT_IMAGE_SUFFIXES


def _case_sensitive(cls):
    return hasattr(cls, '_VALID_IMG_SUFFIX')


def dataset_reads(data_cfg, where, test_mode=False):
    """The :class:`DataPath` list of what ``data_cfg`` would read.

    Args:
        data_cfg (dict | list): A dataset config (``data.train``).
        where (str): Its config key, for messages.
        test_mode (bool): How the caller builds it (the toolbox builds
            ``data.val`` / ``data.test`` with ``test_mode=True``; paired and
            unpaired datasets read other folders then).
    """
    if isinstance(data_cfg, (list, tuple)):
        return [
            p for i, sub in enumerate(data_cfg)
            for p in dataset_reads(sub, f'{where}[{i}]', test_mode)
        ]
    if not isinstance(data_cfg, dict) or not isinstance(
            data_cfg.get('type'), str):
        return []
    cls, _ = resolve_type(data_cfg['type'], 'dataset')
    if cls is None:
        return []
    signature = accepted_arguments(cls)
    accepted = signature.names
    test_mode = data_cfg.get('test_mode', test_mode)
    found = []

    def add(key, path, kind, note=''):
        if isinstance(path, str) and path:
            found.append(DataPath(f'{where}.{key}', path, kind, cls, note))
        elif path is None and key.split('.')[0] in signature.required:
            # the class needs it: None fails when the dataset is built
            found.append(DataPath(f'{where}.{key}', None, 'unset', cls))

    if 'dataset' in accepted:
        found += dataset_reads(data_cfg.get('dataset'), f'{where}.dataset',
                               test_mode)
    if 'imgs_root' in accepted:
        add('imgs_root', data_cfg.get('imgs_root'), 'image_dir')
    if 'imgs_roots' in accepted:
        roots = data_cfg.get('imgs_roots')
        if not isinstance(roots, dict) or not roots:
            add('imgs_roots', None, 'image_dir')
        else:
            for scale, root in roots.items():
                add(f'imgs_roots.{scale}', root, 'image_dir')
    if 'img_path' in accepted:
        add('img_path', data_cfg.get('img_path'), 'image_file')
    if 'dataroot' in accepted and not isinstance(data_cfg.get('dataroot'),
                                                 str):
        add('dataroot', None, 'dir')
    elif 'dataroot' in accepted:
        root = data_cfg['dataroot']
        if 'domain_a' in accepted:  # unpaired: trainA / trainB
            phase = 'test' if test_mode else 'train'
            for domain in ('A', 'B'):
                add('dataroot', osp.join(root, phase + domain), 'image_dir',
                    f"the '{phase}{domain}' folder of")
        elif 'testdir' in accepted:  # paired: train / <testdir>
            phase = data_cfg.get('testdir', 'test') if test_mode else 'train'
            add('dataroot', osp.join(root, phase), 'image_dir',
                f"the '{phase}' folder of")
        else:
            add('dataroot', root, 'dir')
    if 'data_prefix' in accepted:
        prefix = data_cfg.get('data_prefix')
        if hasattr(cls, '_check_integrity'):
            add('data_prefix', prefix, 'archive')
        elif data_cfg.get('ann_file'):
            add('data_prefix', prefix, 'dir')
        else:
            add('data_prefix', prefix, 'class_dir')
    if 'ann_file' in accepted:
        add('ann_file', data_cfg.get('ann_file'), 'file')
    if 'data_root' in accepted:
        add('data_root', data_cfg.get('data_root'), 'dir')
    return found


def _has_image(folder, suffixes, case_sensitive):
    """Whether ``folder`` holds an image file anywhere below it (stops at
    the first one)."""
    if not case_sensitive:
        suffixes = tuple(s.lower() for s in suffixes)
    for _, _, files in os.walk(folder, followlinks=True):
        for name in files:
            if (name if case_sensitive else name.lower()).endswith(suffixes):
                return True
    return False


def _archive_intact(item):
    """mmcls's own integrity check (which downloads when it fails)."""
    checker = item.dataset.__new__(item.dataset)
    checker.data_prefix = item.path
    return checker._check_integrity()


def _problem(item):
    """What is wrong with ``item`` (None if nothing)."""
    path = item.path
    if item.kind == 'unset':
        return 'is not set'
    if item.kind in ('file', 'image_file'):
        return None if osp.isfile(path) else 'does not exist' if not \
            osp.exists(path) else 'is not a file'
    if not osp.exists(path):
        return 'does not exist'
    if not osp.isdir(path):
        return 'is not a folder'
    suffixes = _image_suffixes(item.dataset)
    if item.kind == 'image_dir' and not _has_image(
            path, suffixes, _case_sensitive(item.dataset)):
        return ('holds no images (searched recursively for '
                f"{', '.join(suffixes)})")
    if item.kind == 'class_dir' and not any(
            osp.isdir(osp.join(path, d)) and _has_image(
                osp.join(path, d), DEFAULT_IMAGE_SUFFIXES, False)
            for d in os.listdir(path)):
        return 'holds no class folders with images'
    if item.kind == 'archive' and not _archive_intact(item):
        return (f'does not hold an intact copy of {item.dataset.__name__} '
                f'(mmcls looks for {item.dataset.base_folder}/ there and '
                'would try to download it)')
    return None


def check_dataset_paths(data_cfg, where, test_mode=False):
    """Refuse a dataset config whose files or folders are missing or empty.

    Checked before anything is built, so a typo is one clear line rather
    than a traceback from a loader (or, for ``mmcls.CIFAR10``, an attempt to
    download into the missing folder).

    Raises:
        UserInputError: Naming the config key, the path and the class.
    """
    if data_cfg is None:
        return
    for item in dataset_reads(data_cfg, where, test_mode):
        problem = _problem(item)
        if problem:
            derived = f', {item.note} {item.key}' if item.note else ''
            shown = '' if item.path is None else f"'{item.path}' "
            raise UserInputError(
                f"{item.key}: {shown}{problem} (dataset "
                f'{item.dataset.__name__}{derived}); prepare the data there '
                f'or set --cfg-options {item.key}=PATH')


# -- after building ------------------------------------------------------
def build_checked(data_cfg, where, default_args=None):
    """``build_dataset``, with what the dataset class refuses (its own
    checks: class folders against its classes, ...) in one line."""
    try:
        return build_dataset(data_cfg, default_args)
    except UserInputError:
        raise
    except Exception as err:  # noqa: BLE001 (reported in one line)
        detail = str(err).strip().splitlines()
        raise UserInputError(
            f'{where}: the dataset cannot be built: {type(err).__name__}: '
            f'{detail[0][:300] if detail else "no detail"}') from None


def _innermost(dataset, index):
    """The dataset (and index) that really holds item ``index`` of
    ``dataset`` (through RepeatDataset)."""
    while hasattr(dataset, 'dataset') and hasattr(dataset, 'times'):
        index = index % len(dataset.dataset)
        dataset = dataset.dataset
    return dataset, index


def _item_source(dataset, index):
    """The file item ``index`` is read from, when the dataset says."""
    dataset, index = _innermost(dataset, index)
    imgs = getattr(dataset, 'imgs_list', None)
    if imgs is not None and index < len(imgs):
        return imgs[index]
    infos = getattr(dataset, 'data_infos', None)
    if infos is not None and index < len(infos):
        info = infos[index]
        if 'pair_path' in info:
            return info['pair_path']
        if isinstance(info.get('img_info'), dict):
            return osp.join(info.get('img_prefix') or '',
                            info['img_info'].get('filename', ''))
    return None


def _image_of(item):
    for key in ('real_img', 'img'):
        image = item.get(key) if isinstance(item, dict) else None
        if hasattr(image, 'shape'):
            return image
    return None


def _shape_text(shape):
    return 'x'.join(str(s) for s in shape)


def sample_indices(length, count=SAMPLES_CHECKED):
    """``count`` indices spread evenly over ``range(length)``."""
    if length <= count:
        return list(range(length))
    return sorted({round(i * (length - 1) / (count - 1))
                   for i in range(count)})


def check_samples(dataset, where, expected_shape=None,
                  count=SAMPLES_CHECKED):
    """Load a sample of ``dataset``'s items (spread over it) and check
    their images.

    Args:
        dataset: The built dataset.
        where (str): Its config key.
        expected_shape (tuple, optional): ``(C, H, W)`` the model generates.
        count (int): Items to load.

    Raises:
        UserInputError: The dataset is empty, an item does not load, the
            images differ in size, or their size is not ``expected_shape``.
    """
    length = len(dataset)
    if length == 0:
        raise UserInputError(f'{where}: the dataset is empty (no images '
                             'found where the config points)')
    inner = _innermost(dataset, 0)[0]
    first = None
    with PreservedRandomState():  # pipelines draw random numbers
        for index in sample_indices(min(length, len(inner)), count):
            source = _item_source(dataset, index)
            named = f' ({source})' if source else ''
            try:
                item = dataset[index]
            except Exception as err:  # noqa: BLE001 (reported in one line)
                detail = str(err).strip().splitlines()
                raise UserInputError(
                    f'{where}: item {index}{named} cannot be loaded: '
                    f'{type(err).__name__}: '
                    f'{detail[0][:200] if detail else "no detail"}') from None
            image = _image_of(item)
            if image is None:
                return  # not an image dataset the checks understand
            shape = tuple(image.shape[-3:])
            if first is None:
                first = (shape, index, named)
            elif shape != first[0]:
                raise UserInputError(
                    f'{where}: images differ in size after the pipeline: '
                    f'{_shape_text(first[0])} (item {first[1]}{first[2]}) '
                    f'and {_shape_text(shape)} (item {index}{named}); add a '
                    'Resize to the pipeline')
    if first is not None and expected_shape is not None and \
            tuple(expected_shape) != first[0]:
        height, width = expected_shape[-2:]
        raise UserInputError(
            f'{where}: images are {_shape_text(first[0])} (CxHxW) after the '
            f'pipeline (item {first[1]}{first[2]}), the model generates '
            f'{_shape_text(expected_shape)}; resize them in the pipeline '
            f"(mmgen: dict(type='Resize', keys=['real_img'], scale=({width}, "
            f"{height}), keep_ratio=False)) or set the model's size")


def generated_shape(model):
    """``(C, H, W)`` of the images ``model`` generates, for the GANs whose
    real images all have one size (unconditional and conditional GANs, not
    progressive or multi-scale ones); None when it cannot be told.

    One image is generated on the CPU, in eval mode, with every random
    generator restored afterwards.
    """
    if not isinstance(model, (StaticUnconditionalGAN, BasicConditionalGAN)):
        return None
    was_training = model.training
    try:
        with PreservedRandomState(), torch.no_grad():
            model.eval()
            image = model.sample_from_noise(
                None, num_batches=1, sample_model='orig')
    except Exception:  # noqa: BLE001 (e.g. fp16 layers on the CPU)
        return None
    finally:
        model.train(was_training)
    return tuple(image.shape[1:]) if image.dim() == 4 else None
