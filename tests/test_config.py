"""Configs inherit the toolbox's own through ``mmgen::`` and dump flat."""
import mmcv
import pytest

from mmgen_adv.errors import UserInputError
from mmgen_adv.runs.config import dump_flat_config, load_config

from conftest import write_config

SNGAN = 'mmgen::sngan_proj/sngan_proj_32_woReLUinplace_lr-2e-4_ndisc5_cifar10_b64x1.py'  # noqa: E501


def test_mmgen_base_merges_with_overrides(tmp_path):
    path = write_config(
        tmp_path / 'cfg.py', f"_base_ = ['{SNGAN}']\n"
        "model = dict(generator=dict(base_channels=32))\n"
        'train_cfg = dict(use_ema=True)\n')
    cfg = load_config(path)
    # overrides merged, everything else inherited from the toolbox
    assert cfg.model.type == 'BasiccGAN'
    assert cfg.model.generator.base_channels == 32
    assert cfg.model.generator.type == 'SNGANGenerator'
    assert cfg.model.discriminator.base_channels == 128
    assert cfg.train_cfg == dict(disc_steps=5, use_ema=True)
    assert cfg.total_iters == 500000
    assert isinstance(cfg, mmcv.Config)


def test_scope_keys_are_stripped(tmp_path):
    cfg = load_config(write_config(tmp_path / 'c.py', f"_base_ = ['{SNGAN}']"))
    assert '_scope_' not in cfg.pretty_text
    assert '_scope_' not in cfg.model and '_scope_' not in cfg.custom_hooks[0]


def test_flat_dump_loads_with_plain_mmcv(tmp_path):
    cfg = load_config(
        write_config(tmp_path / 'c.py', f"_base_ = ['{SNGAN}']\nx = (0, 1.5)"),
        cfg_options={'model.gan_loss.gan_type': 'vanilla'})
    flat = dump_flat_config(cfg, str(tmp_path / 'work'), 'c.py')
    text = open(flat).read()
    assert '_base_' not in text and 'mmgen::' not in text
    reloaded = mmcv.Config.fromfile(flat)
    assert reloaded._cfg_dict.to_dict() == cfg._cfg_dict.to_dict()
    assert reloaded.model.gan_loss.gan_type == 'vanilla'


def test_missing_config_file_is_one_clear_error(tmp_path):
    with pytest.raises(UserInputError, match="config file '.*nope.py' does "
                       'not exist'):
        load_config(str(tmp_path / 'nope.py'))


def test_unknown_mmgen_path_names_it_and_suggests(tmp_path):
    path = write_config(
        tmp_path / 'c.py', "_base_ = ['mmgen::sngan_proj/sngan_proj_32_"
        "woReLUinplace_lr2e-4_ndisc5_cifar10_b64x1.py']")
    with pytest.raises(UserInputError) as err:
        load_config(path)
    message = str(err.value)
    assert 'lr2e-4' in message and 'does not exist' in message
    assert 'did you mean' in message and 'lr-2e-4' in message
    assert '\n' not in message
