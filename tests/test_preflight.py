"""Pre-flight checks: config keys, dataset paths and images, and
tools/train.py refusing bad input before it writes anything."""
import copy
import importlib.util
import json
import os
import os.path as osp
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmgen.datasets import build_dataset
from mmgen.models import build_model

from mmgen_adv.errors import UserInputError
from mmgen_adv.runs.config import load_config, toolbox_config_dir
from mmgen_adv.runs.data_checks import (check_dataset_paths, check_samples,
                                        dataset_reads, generated_shape)

from conftest import ROOT, write_config, write_digit_pngs

DEMO = str(ROOT / 'configs/demo/dcgan_digits.py')
ASGAN_CONFIG = str(ROOT / 'configs/asgan/dcgan_cifar10.py')
FP16_QUICKTEST = ('styleganv2/stylegan2_c2_fp16_quicktest_ffhq_256_b4x8_'
                  '800k.py')


def shipped_config_paths():
    """Every config the toolbox ships and can load (six StyleGAN3 configs
    name a base file its release lacks)."""
    paths = []
    for folder, _, files in os.walk(toolbox_config_dir()):
        if '_base_' in folder:
            continue
        for name in sorted(files):
            if name.endswith('.py'):
                path = osp.join(folder, name)
                try:
                    load_config(path, check_keys=False)
                except UserInputError:
                    continue
                paths.append(path)
    return paths


@pytest.fixture(scope='module')
def shipped():
    paths = shipped_config_paths()
    assert len(paths) >= 85
    return paths


# -- config keys ---------------------------------------------------------
def options(*pairs):
    import argparse

    from mmcv import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=DictAction)
    return parser.parse_args(['--o', *pairs]).o


@pytest.mark.parametrize('option, message', [
    ('total_itres=5', "config key 'total_itres' is not read by the tools: "
     "did you mean 'total_iters'?"),
    ('checkpoint_config.intervall=5', "config key 'checkpoint_config."
     "intervall' is not read by CheckpointHook (the class's arguments): did "
     "you mean 'interval'?"),
    ('model.discriminatr.base_channels=8', "config key 'model.discriminatr' "
     "is not read by StaticUnconditionalGAN (the class's arguments): did you "
     "mean 'discriminator'?"),
    ('data.samples_per_gpus=4', "config key 'data.samples_per_gpus' is not "
     'read by the data loaders (mmgen build_dataloader, DataLoader): did you '
     "mean 'samples_per_gpu'?"),
    ('train_cfg.disc_stepz=2', "config key 'train_cfg.disc_stepz' is not read"
     ' by the config (--cfg-options may only change keys it has): did you '
     "mean 'disc_steps'?"),
    ('custom_hooks.0.intervall=3', "config key 'custom_hooks[0].intervall' "
     'is not read by VisualizeUnconditionalSamples'),
    ('model.generator.type=DCGANGenerater', "model.generator.type: "
     "'DCGANGenerater' is not registered in the 'module' registry;"
     " did you mean 'DCGANGenerator'?"),
    # the regularizers' own check, the one the model build makes
    ('model.adv_cfg.gap_intervl=1', "model.adv_cfg.gap_intervl is not an "
     "option of ASGAN; allowed: ['eps', 'score', 'perturb_fake', 'update', "
     "'second_step_fakes', 'direction', 'gap_interval', 'attack_pass']; did "
     "you mean 'gap_interval'?"),
    ('model.adv_cfg.type=ASGANX', "model.adv_cfg.type 'ASGANX' is not one of"
     " ['ASGAN', 'DAT', 'PGD']; did you mean 'ASGAN'?"),
])
def test_cfg_option_typos_are_refused(option, message):
    with pytest.raises(UserInputError) as err:
        load_config(ASGAN_CONFIG if 'adv_cfg' in option else DEMO,
                    options(option))
    assert str(err.value).startswith(message)
    assert '\n' not in str(err.value)


def test_new_keys_are_explicit(tmp_path):
    # a key the config has, or one the class takes, needs nothing
    cfg = load_config(DEMO, options('total_iters=5',
                                    'model.generator.out_channels=1'))
    assert cfg.total_iters == 5 and cfg.model.generator.out_channels == 1
    # a regularizer's option the config leaves at its default
    cfg = load_config(ASGAN_CONFIG, options('model.adv_cfg.gap_interval=1'))
    assert cfg.model.adv_cfg.gap_interval == 1
    # a genuinely new key: +KEY on the command line ...
    cfg = load_config(DEMO, options('+train_cfg.my_setting=2'))
    assert cfg.train_cfg.my_setting == 2
    # ... or new_keys in the config
    path = write_config(
        tmp_path / 'c.py', f"_base_ = ['{DEMO}']\n"
        "data = dict(my_loader_setting=1)\nnew_keys = ['data.my_loader_"
        "setting']\n")
    assert load_config(path).data.my_loader_setting == 1
    path = write_config(tmp_path / 'typo.py',
                        f"_base_ = ['{DEMO}']\ncheckpoint_confg = dict()\n")
    with pytest.raises(UserInputError, match="'checkpoint_confg' .* did you "
                       r"mean 'checkpoint_config'\? \(if it is a new key, "
                       r"declare it: new_keys = \['checkpoint_confg'\]"):
        load_config(path)
    # a new top-level variable that resembles nothing is a helper
    path = write_config(tmp_path / 'helper.py',
                        f"_base_ = ['{DEMO}']\nmy_pipeline = []\n")
    load_config(path)


def test_every_shipped_and_project_config_passes(shipped):
    """No valid config is refused: the toolbox's own (those it can load)
    and this project's."""
    project = sorted(str(p) for p in (ROOT / 'configs').rglob('*.py')
                     if '_base_' not in p.parts and 'mmagic' not in p.parts)
    refused = []
    for path in shipped + project:
        try:
            load_config(path)
        except UserInputError as err:
            refused.append(f'{path}: {err}')
    assert not refused, '\n'.join(refused)


# -- dataset paths -------------------------------------------------------
def test_fp16_quicktest_configs_pass_the_data_check():
    """QuickTestImageDataset reads no files; the base config's `dataset`
    key it keeps is not followed (issue 11.5)."""
    cfg = load_config(osp.join(toolbox_config_dir(), FP16_QUICKTEST))
    assert cfg.data.train.type == 'QuickTestImageDataset'
    assert 'dataset' in cfg.data.train
    check_dataset_paths(cfg.data.train, 'data.train')
    check_dataset_paths(cfg.data.val, 'data.val', test_mode=True)


@pytest.mark.parametrize('data_cfg, message', [
    (dict(type='GrowScaleImgDataset', imgs_roots={'64': '/nope/64'},
          pipeline=[]), "data.train.imgs_roots.64: '/nope/64' does not exist "
     '(dataset GrowScaleImgDataset)'),
    (dict(type='SinGANDataset', img_path='/nope/fish.jpg', min_size=25,
          max_size=250, scale_factor_init=0.75),
     "data.train.img_path: '/nope/fish.jpg' does not exist (dataset "
     'SinGANDataset)'),
    (dict(type='PairedImageDataset', dataroot='/nope', pipeline=[]),
     "data.train.dataroot: '/nope/train' does not exist (dataset "
     "PairedImageDataset, the 'train' folder of data.train.dataroot)"),
    (dict(type='RepeatDataset', times=2, dataset=dict(
        type='UnconditionalImageDataset', imgs_root=None, pipeline=[])),
     'data.train.dataset.imgs_root: is not set (dataset '
     'UnconditionalImageDataset)'),
    (dict(type='mmcls.CIFAR10', data_prefix='/nope', pipeline=[]),
     "data.train.data_prefix: '/nope' does not exist (dataset CIFAR10)"),
])
def test_every_dataset_type_has_its_paths_checked(data_cfg, message):
    with pytest.raises(UserInputError) as err:
        check_dataset_paths(data_cfg, 'data.train')
    assert str(err.value).startswith(message)


def test_empty_folder_and_incomplete_cifar(tmp_path):
    empty = tmp_path / 'empty'
    (empty / 'sub').mkdir(parents=True)
    (empty / 'sub' / 'notes.txt').write_text('no images')
    with pytest.raises(UserInputError, match=r"data.train.imgs_root: '.*"
                       r"empty' holds no images \(searched recursively for "
                       r'.jpg, .png, .jpeg, .JPEG\)'):
        check_dataset_paths(dict(type='UnconditionalImageDataset',
                                 imgs_root=str(empty), pipeline=[]),
                            'data.train')
    with pytest.raises(UserInputError, match='does not hold an intact copy '
                       'of CIFAR10 .* would try to download it'):
        check_dataset_paths(dict(type='mmcls.CIFAR10', data_prefix=str(empty),
                                 pipeline=[]), 'data.train')


def _set(cfg, dotted, value):
    *parents, last = dotted.split('.')
    for part in parents:
        cfg = cfg[part]
    cfg[last] = value


def _image(path, size=64):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((size, size, 3), 127, np.uint8))


def _provide(items):
    """Create what ``items`` say the dataset reads (two tiny images per
    image folder)."""
    prefixes = [i.path for i in items if i.key.endswith('data_prefix')]
    for item in items:
        if item.kind == 'image_dir':
            for i in range(2):
                _image(osp.join(item.path, f'img{i}.png'))
        elif item.kind == 'image_file':
            _image(item.path)
        elif item.kind == 'class_dir':  # mmcls: as many as its CLASSES
            for i in range(len(getattr(item.dataset, 'CLASSES', None) or
                               [0, 1])):
                _image(osp.join(item.path, f'class{i}', 'img.png'), 8)
        elif item.kind == 'dir':
            os.makedirs(item.path, exist_ok=True)
        elif item.kind == 'file':  # an mmcls annotation file
            for prefix in prefixes:
                _image(osp.join(prefix, 'class0', 'img.png'))
            Path(item.path).parent.mkdir(parents=True, exist_ok=True)
            Path(item.path).write_text('class0/img.png 0\n')


def test_data_checks_agree_with_what_the_datasets_read(shipped, tmp_path):
    """For every dataset of every shipped config: as shipped (no data here)
    the check refuses exactly when the class fails to build; with the paths
    the check names moved to a folder holding images, the check passes and
    the class builds a non-empty dataset. (mmcls's CIFAR would download its
    files: only refused, not built.)"""
    seen = set()
    for path in shipped:
        cfg = load_config(path, check_keys=False)
        for split in ('train', 'val', 'test'):
            data_cfg = (cfg.get('data') or {}).get(split)
            if not data_cfg:
                continue
            test_mode = split != 'train'
            fingerprint = json.dumps([data_cfg, test_mode], sort_keys=True,
                                     default=str)
            if fingerprint in seen:
                continue
            seen.add(fingerprint)
            where = f'{osp.basename(path)} data.{split}'
            default_args = dict(test_mode=True) if test_mode else None
            items = dataset_reads(data_cfg, f'data.{split}', test_mode)
            try:
                check_dataset_paths(data_cfg, f'data.{split}', test_mode)
                refused = None
            except UserInputError as err:
                refused = str(err)
            assert (refused is None) == (not items), where
            if refused:
                assert refused.startswith(f'{items[0].key}: '), where
            if any(i.kind == 'archive' for i in items):
                continue
            try:
                build_dataset(data_cfg, default_args)
                built = True
            except Exception:  # noqa: BLE001 (whatever the class raises)
                built = False
            assert built == (refused is None), where

            local = copy.deepcopy(data_cfg)
            root = tmp_path / str(len(seen))
            for n, item in enumerate(items):
                key = item.key.split('.', 2)[2]
                if key.startswith('imgs_roots') and '.' not in key:
                    _set(local, key, {'64': str(root / 'roots')})
                else:
                    suffix = osp.splitext(item.path or '')[1] if \
                        item.kind == 'image_file' else ''
                    _set(local, key, str(root / str(n)) + suffix)
            _provide(dataset_reads(local, f'data.{split}', test_mode))
            check_dataset_paths(local, f'data.{split}', test_mode)
            assert len(build_dataset(local, default_args)) > 0, where


# -- images ----------------------------------------------------------------
def folder_dataset(root):
    return build_dataset(dict(
        type='UnconditionalImageDataset', imgs_root=str(root),
        pipeline=[
            dict(type='LoadImageFromFile', key='real_img'),
            dict(type='Normalize', keys=['real_img'], mean=[127.5] * 3,
                 std=[127.5] * 3, to_rgb=False),
            dict(type='ImageToTensor', keys=['real_img']),
            dict(type='Collect', keys=['real_img'],
                 meta_keys=['real_img_path'])
        ]))


@pytest.fixture(scope='module')
def model_32px():
    return build_model(dict(
        type='StaticUnconditionalGAN',
        generator=dict(type='DCGANGenerator', output_scale=32,
                       base_channels=16),
        discriminator=dict(type='DCGANDiscriminator', input_scale=32,
                           output_scale=4, out_channels=1),
        gan_loss=dict(type='GANLoss', gan_type='vanilla')))


def test_generated_shape_leaves_the_model_and_rngs_alone(model_32px):
    before = {k: v.clone() for k, v in model_32px.state_dict().items()}
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    assert generated_shape(model_32px) == (3, 32, 32)
    assert torch.equal(torch.rand(3), expected)
    assert model_32px.training
    assert all(torch.equal(before[k], v)
               for k, v in model_32px.state_dict().items())


@pytest.mark.parametrize('sizes, message', [
    ([28] * 4, r'data.train: images are 3x28x28 \(CxHxW\) after the '
     r'pipeline \(item 0 \(.*\.png\)\), the model generates 3x32x32; '
     r"resize them in the pipeline \(mmgen: dict\(type='Resize', "
     r"keys=\['real_img'\], scale=\(32, 32\), keep_ratio=False\)\)"),
    ([64] * 4, r'images are 3x64x64 \(CxHxW\) after the pipeline'),
    ([32, 32, 28, 32], r'data.train: images differ in size after the '
     r'pipeline: 3x(32|28)x(32|28) \(item \d .*\.png\)\) and '
     r'3x(28|32)x(28|32) \(item \d .*\.png\)\); add a Resize'),
])
def test_images_must_match_the_model(tmp_path, model_32px, sizes, message):
    for i, size in enumerate(sizes):
        write_digit_pngs(tmp_path / str(i), 1, img_size=size)
        os.replace(tmp_path / str(i) / '0000.png', tmp_path / f'{i:04d}.png')
    with pytest.raises(UserInputError, match=message):
        check_samples(folder_dataset(tmp_path), 'data.train',
                      generated_shape(model_32px))


def test_unreadable_image_is_named(tmp_path, model_32px):
    write_digit_pngs(tmp_path, 3)
    (tmp_path / '0001.png').write_bytes(b'not a png')
    with pytest.raises(UserInputError, match=r'data.train: item \d \(.*'
                       r'0001.png\) cannot be loaded: '):
        check_samples(folder_dataset(tmp_path), 'data.train',
                      generated_shape(model_32px))
    (tmp_path / '0001.png').unlink()
    check_samples(folder_dataset(tmp_path), 'data.train',
                  generated_shape(model_32px))


# -- tools/train.py: refused before anything is written --------------------
@pytest.fixture(scope='module')
def train_tool():
    spec = importlib.util.spec_from_file_location('train_tool',
                                                  ROOT / 'tools' / 'train.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def refusal(tool, argv, capsys):
    with pytest.raises(SystemExit) as stop:
        tool.main([str(a) for a in argv])
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert 'Traceback' not in '\n'.join(lines)
    return lines[-1]


def demo_variant(tmp_path, extra):
    return write_config(tmp_path / 'variant.py', f"_base_ = ['{DEMO}']\n"
                        'model = dict(generator=dict(base_channels=16), '
                        'discriminator=dict(base_channels=16))\n' + extra)


@pytest.fixture(scope='module')
def demo_checkpoint(tmp_path_factory):
    """A checkpoint of the small demo model (weights and optimizer)."""
    from mmgen_adv.runs.config import load_config as load
    tmp = tmp_path_factory.mktemp('demo_ckpt')
    cfg = load(demo_variant(tmp, ''))
    model = build_model(cfg.model, train_cfg=cfg.train_cfg)
    path = tmp / 'iter_3.pth'
    torch.save(dict(state_dict=model.state_dict(),
                    optimizer=dict(generator={}, discriminator={}),
                    meta=dict(iter=3, epoch=1, seed=7)), path)
    return path


class CodeRunner:

    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_train_refuses_bad_input_before_writing(train_tool, tmp_path,
                                                capsys, demo_checkpoint):
    work = tmp_path / 'work'
    config = demo_variant(tmp_path, '')

    def refused(*argv, config=config):
        line = refusal(train_tool, [config, '--work-dir', work, *argv],
                       capsys)
        assert not work.exists(), line  # nothing written, not even a log
        return line

    evil = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, payload=CodeRunner()), evil)
    assert refused('--resume-from', evil) == (
        f"error: --resume-from '{evil}' cannot be used: it asks to load the "
        "global 'posix.system', which safe loading refuses (a checkpoint "
        'holds tensors and plain values; this file may run code when '
        'loaded)')
    torn = tmp_path / 'torn.pth'
    torn.write_bytes(demo_checkpoint.read_bytes()[:5000])
    assert 'it is truncated or not a PyTorch file' in refused(
        '--resume-from', torn)
    assert refused('--resume-from', demo_checkpoint, '--seed', 3) == (
        f'error: --seed 3 conflicts with the seed 7 of the run being resumed '
        f"('{demo_checkpoint}'); drop --seed to continue that run exactly")
    wide = write_config(
        tmp_path / 'wide.py', f"_base_ = ['{DEMO}']\n"
        'model = dict(generator=dict(base_channels=32), '
        'discriminator=dict(base_channels=16))\n')
    line = refused('--resume-from', demo_checkpoint, config=wide)
    assert line.startswith(
        f"error: resume checkpoint '{demo_checkpoint}' does not fit the "
        "config's model: 'generator.noise2feat.conv.weight' is (100, 16, 4, "
        '4) in the checkpoint and (100, 32, 4, 4) in the model')
    line = refused('--cfg-options', f'load_from={demo_checkpoint}',
                   config=wide)
    assert line.startswith(f"error: load_from '{demo_checkpoint}' does not "
                           "fit the config's model: ")
    # a refused adv_cfg, empty data: still nothing written
    assert 'DAT' in refused(config=demo_variant(
        tmp_path, "model = dict(type='AdvUnconditionalGAN', "
        "adv_cfg=dict(type='DAT', variant='nope'))\n"))
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert 'holds no images' in refused(config=demo_variant(
        tmp_path, "data = dict(_delete_=True, samples_per_gpu=4, "
        "workers_per_gpu=0, train=dict(type='UnconditionalImageDataset', "
        f"imgs_root='{empty}', pipeline=[]))\n"))


def test_train_refuses_a_work_dir_in_use(train_tool, tmp_path, capsys):
    from mmgen_adv.runs.workdir import WorkDirLock
    work = tmp_path / 'work'
    lock = WorkDirLock(str(work)).acquire()
    try:
        line = refusal(train_tool, [demo_variant(tmp_path, ''), '--work-dir',
                                    work], capsys)
    finally:
        lock.release()
    assert line.startswith(f"error: work dir '{work}' is in use by another "
                           f'training run (pid {os.getpid()} on ')
    assert os.listdir(work) == ['.lock']
