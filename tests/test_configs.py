"""Every shipped config loads, builds and trains a few iterations through
tools/train.py, with its data swapped for a tiny generated dataset."""
import json
import re
from pathlib import Path

import pytest
import torch

from mmgen_adv.methods.regularizers import unbound_regularizer
from mmgen_adv.runs.config import load_config

from conftest import DEVICES, ROOT, run_tool, write_config

CONFIGS = sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / 'configs').rglob('*.py')
    if '_base_' not in p.parts and p.parent.name != 'demo'
    and 'mmagic' not in p.parts)  # the MMagic host's: tests/mmagic_host/

LABELLED_PIPELINE = """
labelled_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Normalize', mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True),
    dict(type='ImageToTensor', keys=['img']),
    dict(type='ToTensor', keys=['gt_label']),
    dict(type='Collect', keys=['img', 'gt_label'])
]
"""


def swap_data(config, tmp_path, class_folder, image_folder, extra=''):
    """A config that inherits ``config`` with only the data (and, for
    StyleGAN2 at 256px, the resolution) made tiny, and an eps schedule's
    warm-up cut to one iteration."""
    cfg = load_config(str(ROOT / config))
    train = cfg.data.train
    repeated = train.type == 'RepeatDataset'
    inner = train.dataset if repeated else train
    if inner.type in ('DigitsDataset', 'StackedDigitsDataset'):
        data = ''  # bundled with scikit-learn: nothing to swap
    elif inner.type.startswith('mmcls'):
        data = (f"type='mmcls.CustomDataset', data_prefix='{class_folder}', "
                'pipeline=labelled_pipeline')
        extra = LABELLED_PIPELINE + extra
    else:
        data = f"imgs_root='{image_folder}'"
    if data:
        data = f', train=dict(dataset=dict({data}))' if repeated else \
            f', train=dict({data})'
    if cfg.model.generator.type == 'StyleGANv2Generator':
        extra += ('model = dict(generator=dict(out_size=32), '
                  'discriminator=dict(in_size=32))\n')
    hooks = [dict(h) for h in cfg.get('custom_hooks', [])]
    for hook in hooks:
        if hook['type'] == 'AdvEpsScheduleHook':  # warm-up: the first iter
            hook.update(start_iter=1, ramp_iters=0)
    if hooks:  # before the caller's settings, which may replace them
        extra = f'custom_hooks = {hooks!r}\n' + extra
    iters = max(cfg.train_cfg.get('disc_steps', 1), 2)
    text = (f"_base_ = ['{ROOT / config}']\n{extra}"
            f'data = dict(samples_per_gpu=4, workers_per_gpu=0{data})\n'
            f'total_iters = {iters}\nlog_config = dict(interval=1)\n')
    return write_config(tmp_path / 'swapped.py', text), iters


def read_log(work_dir):
    log = sorted(Path(work_dir).glob('*.log.json'))[-1]
    return [json.loads(line) for line in log.read_text().splitlines()
            if '"mode"' in line]


def test_all_configs_are_found():
    assert len(CONFIGS) >= 9
    for required in ('configs/dat/sngan_cifar10.py',
                     'configs/dat/sngan-proj_cifar10.py',
                     'configs/dat/dcgan_cifar10.py',
                     'configs/dat/wgangp_cifar10.py',
                     'configs/dat/biggan_cifar10.py',
                     'configs/asgan/dcgan_cifar10.py',
                     'configs/asgan/sngan_cifar10.py',
                     'configs/asgan/stylegan2_lsun-church_256.py',
                     'configs/asgan/dcgan_celeba-cropped_64.py'):
        assert required in CONFIGS


@pytest.mark.parametrize('config', CONFIGS)
@pytest.mark.parametrize('device', DEVICES)
def test_config_trains_on_generated_data(config, device, tmp_path,
                                         class_folder, image_folder):
    cfg = load_config(str(ROOT / config))
    assert cfg.model.type in ('AdvUnconditionalGAN', 'AdvConditionalGAN',
                              'SSGAN', 'RobGAN')
    adv = cfg.model.get('adv_cfg')
    swapped, iters = swap_data(config, tmp_path, class_folder, image_folder)
    work_dir = tmp_path / 'work'
    # ASGAN's second step measures its gap every gap_interval iterations
    options = ['--cfg-options', 'model.adv_cfg.gap_interval=1'] \
        if adv and adv['type'] == 'ASGAN' else []
    result = run_tool('train.py', swapped, '--work-dir', work_dir,
                      '--no-validate', *options, device=device)
    assert f'CUDA available: {device == "cuda"}' in result.stdout + \
        result.stderr
    records = read_log(work_dir)
    assert [r['iter'] for r in records] == list(range(1, iters + 1))
    # Rob-GAN's PGD replaces the reals: no separate adversarial loss term
    logged = ['adv_delta_real'] if adv and adv['type'] == 'PGD' else \
        ['loss_disc_adv_real', 'adv_delta_real', 'adv_gap_real']
    if adv:
        # an eps schedule's warm-up (eps 0) is the base update
        attacked = [r for r in records if r.get('adv_eps', 1) > 0]
        assert attacked and all(key in r for r in attacked for key in logged)
        assert not any(key in r for r in records if r not in attacked
                       for key in logged)
        text = next(work_dir.glob('*.log')).read_text()
        assert all(key in text for key in logged)
    assert 'loss_disc_fake_g' in records[-1]  # the generator was updated


@pytest.mark.parametrize('config, attack, step', [
    ('configs/asgan/dcgan_cifar10.py', 'ASGAN', None),
    ('configs/dat/sngan_cifar10.py', 'DAT', 'sign'),
])
def test_the_eps_guide_override_gives_its_setting(config, attack, step,
                                                  tmp_path):
    """docs/tuning_eps.md tells a user which line to add to a shipped
    config: it must give eps 4 and, for DAT, the paper's sign step (the
    shipped official variant's clamp never binds on the studies' data)."""
    guide = (ROOT / 'docs/tuning_eps.md').read_text()
    family = config.split('/')[1]
    override = re.search(rf'inherits (?:one of )?`configs/{family}/`, '
                         r'(?:override )?with `([^`]+)`', guide).group(1)
    path = write_config(tmp_path / 'tuned.py',
                        f'_base_ = [{str(ROOT / config)!r}]\n{override}\n')
    adv_cfg = load_config(path).model.adv_cfg
    assert adv_cfg.type == attack  # the shipped keys are kept
    regularizer = unbound_regularizer(adv_cfg)
    assert regularizer.eps == 4.0
    if step is not None:
        assert regularizer.step_rule.name == step


def test_dat_dist_train_two_ranks(tmp_path, class_folder, image_folder):
    """The command users type, tools/dist_train.sh CONFIG GPUS, on two CPU
    ranks (gloo, DDP wrapper), with the eps schedule and the probe hooks:
    parameters stay identical."""
    swapped, _ = swap_data(
        'configs/dat/sngan_cifar10.py', tmp_path, class_folder, image_folder,
        "custom_imports = dict(imports=['mmgen_adv', 'rank_dump_hook'])\n"
        "custom_hooks = [dict(type='DumpRankStateHook'), "
        "dict(type='AdvEpsScheduleHook', start_iter=1, ramp_iters=2, "
        'target_eps=2.0), '
        "dict(type='DiscRobustnessProbeHook', interval=5, num_images=4, "
        'max_steps=3)]\n')
    run_tool('dist_train.sh', swapped, 2, '--work-dir', tmp_path / 'w',
             '--no-validate', threads=1)
    # CPU ranks on every host, a GPU host included
    info = json.loads((tmp_path / 'w' / 'rank1_info.json').read_text())
    assert info == dict(backend='gloo', world_size=2, device='cpu')
    ranks = [torch.load(tmp_path / 'w' / f'rank{r}_params.pth')
             for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    for key in ranks[0]:
        assert torch.equal(ranks[0][key], ranks[1][key]), key
    records = read_log(tmp_path / 'w')
    assert [r['adv_eps'] for r in records][:3] == [0.0, 1.0, 2.0]
    # warm-up (eps 0) is the base update; then DAT attacks
    assert ['adv_gap_fake' in r for r in records][:3] == [False, True, True]
    assert 'probe_xi_real' in records[-1]
    assert (tmp_path / 'w' / 'robustness_probe' / 'iter_5.png').is_file()


def test_asgan_dynamic_ddp_two_ranks(tmp_path, class_folder, image_folder):
    """Whole-model DDP with the reducer (the StyleGAN2 config's mode), with
    ASGAN's two D steps per iteration."""
    swapped, _ = swap_data(
        'configs/asgan/stylegan2_lsun-church_256.py', tmp_path, class_folder,
        image_folder,
        "custom_imports = dict(imports=['mmgen_adv', 'rank_dump_hook'])\n"
        "custom_hooks = [dict(type='DumpRankStateHook')]\n"
        'model = dict(generator=dict(style_channels=32, num_mlps=2, '
        'channel_multiplier=1), discriminator=dict(channel_multiplier=1))\n')
    run_tool('dist_train.sh', swapped, 2, '--work-dir', tmp_path / 'w',
             '--no-validate', threads=1)
    ranks = [torch.load(tmp_path / 'w' / f'rank{r}_params.pth')
             for r in (0, 1)]
    for key in ranks[0]:
        assert torch.equal(ranks[0][key], ranks[1][key]), key


def test_ssgan_dat_dist_train_two_ranks(tmp_path, class_folder, image_folder):
    """SSGAN + DAT under the DDP wrapper: the rotation head sits out DAT's
    adversarial backward, which the config's find_unused_parameters
    covers."""
    swapped, _ = swap_data(
        'configs/dat/ssgan_cifar10.py', tmp_path, class_folder, image_folder,
        "custom_imports = dict(imports=['mmgen_adv', 'rank_dump_hook'])\n"
        "custom_hooks = [dict(type='DumpRankStateHook')]\n"
        'model = dict(generator=dict(base_channels=32), '
        'discriminator=dict(base_channels=32))\n')
    run_tool('dist_train.sh', swapped, 2, '--work-dir', tmp_path / 'w',
             '--no-validate', threads=1)
    ranks = [torch.load(tmp_path / 'w' / f'rank{r}_params.pth')
             for r in (0, 1)]
    for key in ranks[0]:
        assert torch.equal(ranks[0][key], ranks[1][key]), key
    assert 'discriminator.aux_head.weight_orig' in ranks[0]


RANK_DUMP = ("custom_imports = dict(imports=['mmgen_adv', 'rank_dump_hook'])\n"
             "custom_hooks = [dict(type='DumpRankStateHook')]\n")


@pytest.mark.cuda
@pytest.mark.parametrize('config', [
    'configs/dat/sngan_cifar10.py',  # the DDP wrapper
    'configs/asgan/stylegan2_lsun-church_256.py',  # whole-model DDP, gradfix
])
def test_dist_train_nccl_on_every_gpu(config, tmp_path, class_folder,
                                      image_folder):
    """tools/dist_train.sh CONFIG GPUS as users run it: one rank per GPU of
    this host over NCCL, parameters identical on every rank."""
    gpus = torch.cuda.device_count()
    swapped, iters = swap_data(config, tmp_path, class_folder, image_folder,
                               RANK_DUMP)
    work_dir = tmp_path / 'w'
    run_tool('dist_train.sh', swapped, gpus, '--work-dir', work_dir,
             '--no-validate', threads=1, device='cuda')
    infos = [json.loads((work_dir / f'rank{r}_info.json').read_text())
             for r in range(gpus)]
    assert [info['backend'] for info in infos] == ['nccl'] * gpus
    assert [info['world_size'] for info in infos] == [gpus] * gpus
    assert [info['device'] for info in infos] == \
        [f'cuda:{r}' for r in range(gpus)]
    ranks = [torch.load(work_dir / f'rank{r}_params.pth')
             for r in range(gpus)]
    for other in ranks[1:]:
        for key in ranks[0]:
            assert torch.equal(ranks[0][key], other[key]), key
    assert [r['iter'] for r in read_log(work_dir)] == \
        list(range(1, iters + 1))
