"""The toolbox's own configs train, resume, distribute and evaluate through
tools/, with only the data swapped for a tiny generated dataset."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
from pathlib import Path

import mmcv
import pytest
import torch
from inception_standin import save_standin

from conftest import ROOT, run_tool, tool_env, write_config, write_digit_pngs

IMPORTS = "custom_imports = dict(imports=['mmgen_adv'], " \
    'allow_failed_imports=False)\n'
DCGAN = 'mmgen::dcgan/dcgan_celeba-cropped_64_b128x1_300k.py'
SNGAN = 'mmgen::sngan_proj/sngan_proj_32_woReLUinplace_lr-2e-4_ndisc5_cifar10_b64x1.py'  # noqa: E501
MMCLS_FOLDER_PIPELINE = """
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', flip_prob=0.5, direction='horizontal'),
    dict(type='Normalize', mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True),
    dict(type='ImageToTensor', keys=['img']),
    dict(type='ToTensor', keys=['gt_label']),
    dict(type='Collect', keys=['img', 'gt_label'])
]
"""


def dcgan_config(tmp_path, image_folder, extra=''):
    return write_config(
        tmp_path / 'dcgan.py', f"_base_ = ['{DCGAN}']\n{IMPORTS}"
        'data = dict(samples_per_gpu=4, workers_per_gpu=0, '
        f"train=dict(imgs_root='{image_folder}'))\n" + extra)


def sngan_config(tmp_path, class_folder, extra=''):
    return write_config(
        tmp_path / 'sngan.py', f"_base_ = ['{SNGAN}']\n{IMPORTS}"
        + MMCLS_FOLDER_PIPELINE +
        'data = dict(samples_per_gpu=4, workers_per_gpu=0, '
        "train=dict(type='mmcls.CustomDataset', "
        f"data_prefix='{class_folder}', pipeline=train_pipeline))\n" + extra)


def checkpoint(work_dir, name='latest.pth'):
    return osp.join(work_dir, 'ckpt', osp.basename(work_dir), name)


def json_log(work_dir):
    logs = sorted(Path(work_dir).glob('*.log.json'))
    assert logs, f'no JSON log in {work_dir}'
    return [json.loads(line) for line in logs[-1].read_text().splitlines()
            if '"mode"' in line]


def load_state(path):
    return torch.load(path, map_location='cpu')['state_dict']


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f'{len(differ)} tensors differ, e.g. {differ[:3]}'


@pytest.fixture(scope='module')
def dcgan_run(tmp_path_factory, image_folder):
    """The toolbox's DCGAN CelebA config, 6 iterations, checkpoints at 3, 6."""
    tmp = tmp_path_factory.mktemp('dcgan')
    config = dcgan_config(
        tmp, image_folder, 'total_iters = 6\nlog_config = dict(interval=1)\n'
        'checkpoint_config = dict(interval=3)\n')
    work_dir = str(tmp / 'work')
    run_tool('train.py', config, '--work-dir', work_dir)
    return config, work_dir


def test_toolbox_dcgan_config_trains(dcgan_run):
    config, work_dir = dcgan_run
    records = json_log(work_dir)
    assert [r['iter'] for r in records if r['mode'] == 'train'] == \
        list(range(1, 7))
    assert all(r['loss_disc_real'] >= 0 for r in records)
    state = load_state(checkpoint(work_dir, 'iter_6.pth'))
    assert 'generator.noise2feat.conv.weight' in state
    # the resolved config is flat and plain mmcv reads it
    flat = mmcv.Config.fromfile(osp.join(work_dir, 'dcgan.py'))
    assert flat.model.generator.base_channels == 1024
    assert flat.data.train.imgs_root.endswith('flat_imgs0')


def test_resume_continues_exactly(dcgan_run, tmp_path):
    """Resume from iteration 3 (mid-epoch: 16 images, batch 4) to 6; the
    weights equal the uninterrupted run's."""
    config, work_dir = dcgan_run
    resumed = str(tmp_path / 'resumed')
    result = run_tool('train.py', config, '--work-dir', resumed,
                      '--resume-from', checkpoint(work_dir, 'iter_3.pth'))
    assert 'resumed from epoch: 1, iter 3' in result.stdout + result.stderr
    assert [r['iter'] for r in json_log(resumed)] == [4, 5, 6]
    assert_same_state(
        load_state(checkpoint(work_dir, 'iter_6.pth')),
        load_state(checkpoint(resumed, 'iter_6.pth')))


def test_toolbox_sngan_proj_config_trains(tmp_path, class_folder):
    config = sngan_config(tmp_path, class_folder, 'total_iters = 6\n'
                          'log_config = dict(interval=1)\n')
    work_dir = str(tmp_path / 'work')
    run_tool('train.py', config, '--work-dir', work_dir, '--no-validate')
    records = json_log(work_dir)
    # disc_steps=5: the generator updates at iteration 5 only, and its loss
    # is logged there only (mmcv's log buffer would repeat it at 6)
    has_g_loss = [('loss_disc_fake_g' in r) for r in records]
    assert has_g_loss == [False] * 4 + [True, False]
    state = load_state(checkpoint(work_dir))
    assert state['discriminator.proj_y.weight_orig'].shape == (10, 128)


def test_toolbox_stylegan2_config_trains(tmp_path):
    """Exercises the ADA stand-in and the float betas fix in a real run."""
    config = write_config(
        tmp_path / 'sg2.py',
        "_base_ = ['mmgen::styleganv2/stylegan2_c2_lsun-church_256_b4x8_800k"
        f".py']\n{IMPORTS}"
        'model = dict(generator=dict(out_size=16), '
        'discriminator=dict(in_size=16))\n'
        'data = dict(samples_per_gpu=2, workers_per_gpu=0, '
        f"train=dict(dataset=dict(imgs_root='{tmp_path}')))\n"
        'total_iters = 2\nlog_config = dict(interval=1)\n')
    write_digit_pngs(tmp_path / 'imgs', 4, img_size=16)
    work_dir = str(tmp_path / 'work')
    run_tool('train.py', config, '--work-dir', work_dir, '--no-validate')
    assert [r['iter'] for r in json_log(work_dir)] == [1, 2]


def test_distributed_two_ranks_identical(tmp_path, class_folder):
    """2 processes over gloo with the DDP wrapper (SNGAN-proj config)."""
    config = sngan_config(
        tmp_path, class_folder, 'total_iters = 5\n'
        "custom_imports = dict(imports=['mmgen_adv', 'rank_dump_hook'])\n"
        "custom_hooks = [dict(type='DumpRankStateHook')]\n")
    work_dir = tmp_path / 'work'
    run_tool('dist_train.sh', config, 2, '--work-dir', work_dir,
             '--no-validate', threads=1)
    rank0 = torch.load(work_dir / 'rank0_params.pth')
    rank1 = torch.load(work_dir / 'rank1_params.pth')
    assert_same_state(rank0, rank1)
    assert osp.isfile(checkpoint(str(work_dir)))


def test_distributed_dynamic_ddp_two_ranks(tmp_path, image_folder):
    """2 processes over gloo with whole-model DDP (is_dynamic_ddp=True)."""
    config = dcgan_config(
        tmp_path, image_folder, 'total_iters = 3\n'
        'use_ddp_wrapper = False\nfind_unused_parameters = True\n'
        "runner = dict(is_dynamic_ddp=True)\n"
        "model = dict(generator=dict(base_channels=64))\n"
        "custom_imports = dict(imports=['mmgen_adv', 'rank_dump_hook'])\n"
        "custom_hooks = [dict(type='DumpRankStateHook')]\n")
    work_dir = tmp_path / 'work'
    run_tool('dist_train.sh', config, 2, '--work-dir', work_dir, threads=1)
    assert_same_state(
        torch.load(work_dir / 'rank0_params.pth'),
        torch.load(work_dir / 'rank1_params.pth'))


@pytest.fixture(scope='module')
def standin_inception(tmp_path_factory):
    return save_standin(tmp_path_factory.mktemp('incep') / 'inception.pt')


def test_evaluation_fid_is_with_local_inception(dcgan_run, standin_inception,
                                               tmp_path):
    config, work_dir = dcgan_run
    ckpt = checkpoint(work_dir, 'iter_6.pth')
    beside = sorted(os.listdir(osp.dirname(ckpt)))
    result = run_tool('evaluation.py', config, ckpt, '--eval', 'fid', 'is',
                      '--num-samples', 16, '--batch-size', 5,
                      '--inception-path', standin_inception, '--out-dir',
                      tmp_path / 'eval')
    log = result.stdout + result.stderr
    assert "Load Tero's Inception Model successfully" in log
    # --out-dir: nothing is written beside the (read-only) checkpoint
    assert sorted(os.listdir(osp.dirname(ckpt))) == beside
    assert (tmp_path / 'eval' / 'iter_6_eval_log.txt').is_file()
    results = json.loads((tmp_path / 'eval' / 'iter_6_eval.json').read_text())
    fid = results['metrics']['FID']['fid']
    inception_score = results['metrics']['IS']['is']
    assert fid >= 0 and fid == pytest.approx(
        results['metrics']['FID']['fid_mean'] +
        results['metrics']['FID']['fid_cov'])
    assert 1.0 <= inception_score <= 10.0  # 10 classes in the stand-in
    assert results['num_images'] == dict(FID=16, IS=16)


def test_distributed_evaluation(dcgan_run, standin_inception):
    config, work_dir = dcgan_run
    ckpt = checkpoint(work_dir, 'iter_3.pth')
    run_tool('dist_eval.sh', config, ckpt, 2, '--eval', 'fid',
             '--num-samples', 16, '--batch-size', 5, '--inception-path',
             standin_inception, threads=1)
    results = json.loads(Path(ckpt[:-4] + '_eval.json').read_text())
    assert results['world_size'] == 2
    assert results['metrics']['FID']['fid'] >= 0


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name[:-3], ROOT / 'tools' / name)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_evaluation_refuses_a_checkpoint_that_does_not_fit(
        dcgan_run, standin_inception, tmp_path, image_folder, capsys):
    """Strict loading: a half-random generator is not scored."""
    _, work_dir = dcgan_run
    ckpt = checkpoint(work_dir, 'iter_6.pth')
    narrower = dcgan_config(tmp_path, image_folder,
                            'model = dict(generator=dict(base_channels=512))\n')
    with pytest.raises(SystemExit) as stop:
        load_tool('evaluation.py').main([
            narrower, ckpt, '--eval', 'fid', '--inception-path',
            standin_inception, '--out-dir', str(tmp_path / 'eval')
        ])
    assert stop.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(
        f"error: checkpoint '{ckpt}' does not fit the config's model: "
        "'generator.noise2feat.conv.weight' is (100, 1024, 4, 4) in the "
        'checkpoint and (100, 512, 4, 4) in the model')
    assert not (tmp_path / 'eval').exists()


@pytest.mark.parametrize('args, message', [
    (['nope.py'], "error: config file 'nope.py' does not exist"),
    (['mmgen::dcgan/dcgan_celeba.py'], "error: config 'mmgen::dcgan/dcgan_"
     "celeba.py' does not exist (no 'mmgen::dcgan/dcgan_celeba.py' among"),
])
def test_bad_config_is_one_line(tmp_path, args, message):
    result = run_tool('train.py', *args, '--work-dir', tmp_path / 'w',
                      check=False, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(message)
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'w').exists()


def test_missing_dataset_folder_is_one_line(tmp_path):
    config = dcgan_config(tmp_path, tmp_path / 'missing')
    result = run_tool('train.py', config, '--work-dir', tmp_path / 'w',
                      check=False)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: data.train.imgs_root: '") and \
        'missing' in last and 'does not exist' in last
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'w').exists()


def test_evaluation_without_inception_is_one_line(dcgan_run):
    config, work_dir = dcgan_run
    result = run_tool('evaluation.py', config, checkpoint(work_dir), '--eval',
                      'fid', '--inception-path', '/nonexistent/incep.pt',
                      check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: FID: inception_path '/nonexistent/incep.pt' does not exist; "
        "pass --inception-path PATH to a local copy of "
        "'inception-2015-12-05.pt' (the StyleGAN TorchScript Inception)")


def test_toolbox_tool_refuses_local_rank_dash():
    """Why the alias is needed: the toolbox's own train.py, as launched by
    ``torch.distributed.launch`` on PyTorch 2, stops at argument parsing."""
    code = ('import mmgen_adv, mmgen, runpy, sys, os.path as osp; '
            "sys.argv = ['train.py', 'c.py', '--local-rank=1']; "
            "runpy.run_path(osp.join(osp.dirname(mmgen.__file__), '.mim', "
            "'tools', 'train.py'), run_name='__main__')")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                            text=True, env=tool_env(), timeout=300)
    assert result.returncode == 2
    assert 'unrecognized arguments: --local-rank=1' in result.stderr


def test_local_rank_spellings():
    tool = load_tool('train.py')
    assert tool.parse_args(['c.py', '--local-rank=1']).local_rank == 1
    assert tool.parse_args(['c.py', '--local_rank', '2']).local_rank == 2


def test_toolbox_wgangp_config_trains_without_a_runtime(tmp_path,
                                                        image_folder):
    """``mmgen::wgan-gp/`` has a hyphen mmengine refuses, and the config
    inherits no runtime: both are handled."""
    config = write_config(
        tmp_path / 'wgangp.py',
        "_base_ = ['mmgen::wgan-gp/wgangp_GN_celeba-cropped_128_b64x1_160kiter"
        f".py']\n{IMPORTS}"
        'data = dict(samples_per_gpu=2, workers_per_gpu=0, '
        f"train=dict(imgs_root='{image_folder}'))\n"
        'total_iters = 2\nlog_config = dict(interval=1)\n')
    work_dir = str(tmp_path / 'work')
    result = run_tool('train.py', config, '--work-dir', work_dir)
    assert 'inherits no runtime' in result.stdout + result.stderr
    records = json_log(work_dir)
    assert [r['iter'] for r in records] == [1, 2]
    assert 'loss_gp' in records[0]


def test_fp16_config_on_cpu_is_one_line(tmp_path):
    config = write_config(
        tmp_path / 'fp16.py',
        "_base_ = ['mmgen::styleganv2/stylegan2_c2_fp16_quicktest_ffhq_256_"
        f"b4x8_800k.py']\n{IMPORTS}")
    result = run_tool('train.py', config, '--work-dir', tmp_path / 'w',
                      check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        'error: half-precision training needs CUDA, and this host has none '
        '(model.generator.num_fp16_scales=4')


def test_non_finite_loss_stops_training_and_keeps_checkpoints(
        tmp_path, image_folder):
    config = write_config(
        tmp_path / 'dat.py',
        f"_base_ = ['{DCGAN}']\n"
        "custom_imports = dict(imports=['mmgen_adv', 'nan_loss'])\n"
        "model = dict(type='AdvUnconditionalGAN', adv_cfg=dict(type='DAT'),"
        " disc_auxiliary_loss=dict(type='NaNFromIteration', iteration=3))\n"
        'data = dict(samples_per_gpu=4, workers_per_gpu=0, '
        f"train=dict(imgs_root='{image_folder}'))\n"
        'total_iters = 6\ncheckpoint_config = dict(interval=2)\n')
    work_dir = tmp_path / 'work'
    result = run_tool('train.py', config, '--work-dir', work_dir,
                      check=False)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == ('error: non-finite loss at iteration 3: loss_probe = '
                    'nan. Training stopped before this update; the '
                    'checkpoints already written are kept')
    assert 'Traceback' not in result.stderr
    ckpt = Path(checkpoint(str(work_dir), 'iter_2.pth'))
    assert ckpt.is_file() and not Path(checkpoint(str(work_dir),
                                                  'iter_4.pth')).exists()
    state = load_state(str(ckpt))
    assert all(torch.isfinite(v).all() for v in state.values()
               if v.is_floating_point())
    log = next(work_dir.glob('*.log')).read_text()
    assert 'non-finite loss at iteration 3' in log


def test_a_launched_rank_ends_its_process_group(tmp_path, image_folder):
    """tools/train.py as a launcher's rank (here of 1) destroys its gloo
    group before it returns: one left to the interpreter's exit can abort a
    rank (SIGABRT) after its training is done."""
    config = dcgan_config(tmp_path, image_folder, 'total_iters = 1\n'
                          'model = dict(generator=dict(base_channels=64))\n')
    code = ('import sys, torch.distributed as dist\n'
            'from train import main\n'
            'main(sys.argv[1:])\n'
            "print('group left behind:', dist.is_initialized())\n")
    env = dict(tool_env(), RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
               MASTER_ADDR='127.0.0.1', MASTER_PORT='29478')
    env['PYTHONPATH'] = os.pathsep.join([str(ROOT / 'tools'),
                                         env['PYTHONPATH']])
    result = subprocess.run(
        [sys.executable, '-c', code, config, '--launcher', 'pytorch',
         '--work-dir', str(tmp_path / 'work'), '--no-validate'],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert osp.isfile(checkpoint(str(tmp_path / 'work')))
    assert 'group left behind: False' in result.stdout, result.stdout[-2000:]


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a CPU host')
def test_toolbox_distributed_training_needs_the_cpu_fix(tmp_path,
                                                       image_folder):
    """mmgen's train_model on a gloo group without CUDA: fails as shipped,
    trains once enable_cpu_process_group() has run."""
    config = dcgan_config(tmp_path, image_folder, 'total_iters = 1\n'
                          'model = dict(generator=dict(base_channels=64))\n')
    code = f'''
import sys, torch.distributed as dist
import mmgen_adv
from mmgen_adv.runs import compat
from mmgen_adv.runs.config import load_config
from mmgen.apis import train_model
from mmgen.datasets import build_dataset
from mmgen.models import build_model
dist.init_process_group('gloo', init_method='tcp://127.0.0.1:29477',
                        rank=0, world_size=1)
cfg = load_config({config!r})
cfg.work_dir, cfg.gpu_ids, cfg.seed = {str(tmp_path / 'w')!r}, [0], 0
model = build_model(cfg.model, train_cfg=cfg.train_cfg)
data = [build_dataset(cfg.data.train)]
try:
    train_model(model, data, cfg, distributed=True)
except RuntimeError as err:
    print('as shipped:', err)
compat.enable_cpu_process_group()
model = build_model(cfg.model, train_cfg=cfg.train_cfg)
train_model(model, data, cfg, distributed=True)
print('trained')
'''
    result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                            text=True, env=tool_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'as shipped: Found no NVIDIA driver' in result.stdout
    assert result.stdout.strip().endswith('trained')
