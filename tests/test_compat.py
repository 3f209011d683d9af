"""Each compat fix works, and the toolbox fails without it."""
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import torch
import torch.nn as nn

from mmgen_adv.runs import compat

from conftest import tool_env

CPU_ONLY = not torch.cuda.is_available()


def run_python(code):
    return subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True,
                          env=tool_env(),
                          timeout=300)


def test_apply_is_idempotent():
    before = dict(compat.ORIGINALS)
    compat.apply()
    compat.apply()
    assert compat.ORIGINALS == before


def test_toolbox_models_do_not_import_without_the_ada_fix():
    result = run_python('import mmgen.models')
    assert result.returncode != 0
    assert "No module named 'mmgen.models.architectures.stylegan.ada" \
        in result.stderr


def test_stylegan2_builds_and_runs_with_ada_stand_in():
    from mmgen.models import build_module
    gen = build_module(
        dict(type='StyleGANv2Generator', out_size=16, style_channels=16,
             num_mlps=2, channel_multiplier=1))
    disc = build_module(
        dict(type='StyleGAN2Discriminator', in_size=16, channel_multiplier=1))
    out = disc(gen(None, num_batches=2))
    assert out.shape == (2, 1) and torch.isfinite(out).all()


def test_ada_raises_a_clear_error():
    from mmgen.models import build_module
    with pytest.raises(compat.ADANotAvailableError, match='not part of the '
                       'released mmgen 0.7.3'):
        build_module(
            dict(type='ADAStyleGAN2Discriminator', in_size=16,
                 data_aug=dict(type='ADAAug', aug_pipeline=dict(xflip=1))))


def test_get_stream_accepts_an_int_device():
    with pytest.raises(AttributeError, match="'int' object"):
        compat.ORIGINALS['_get_stream'](0)
    import mmcv.parallel._functions as functions
    stream = functions._get_stream(0)
    assert stream is None if CPU_ONLY else stream is not None


def test_adam_gets_float_betas():
    from mmgen.core.optimizer import build_optimizers
    model = nn.Module()
    model.generator = nn.Linear(2, 2)
    cfg = dict(generator=dict(type='Adam', lr=1e-3, betas=(0, 0.99**0.8)))
    with pytest.raises(ValueError, match='betas'):
        compat.ORIGINALS['build_optimizer'](model.generator,
                                            cfg['generator'])
    optim = build_optimizers(model, cfg)['generator']
    assert optim.defaults['betas'] == (0.0, 0.99**0.8)


class Tiny(nn.Module):

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)

    def train_step(self, data, optimizer, ddp_reducer=None, **kwargs):
        return dict(log_vars={}, num_samples=1)


def test_dynamic_ddp_flag_is_dropped_without_ddp():
    from mmcv.parallel import MMDataParallel
    from mmgen.core.runners.dynamic_iterbased_runner import \
        DynamicIterBasedRunner
    kwargs = dict(model=MMDataParallel(Tiny()), logger=mmcv.get_logger('t'),
                  is_dynamic_ddp=True, max_iters=1, work_dir='.')
    unfixed = DynamicIterBasedRunner.__new__(DynamicIterBasedRunner)
    compat.ORIGINALS['DynamicIterBasedRunner.__init__'](unfixed, **kwargs)
    assert unfixed.is_dynamic_ddp is True  # train() would read model.reducer
    assert DynamicIterBasedRunner(**kwargs).is_dynamic_ddp is False


@pytest.mark.skipif(not CPU_ONLY, reason='the crash needs a host without '
                    'CUDA')
def test_resume_maps_to_cpu_without_cuda(tmp_path):
    from mmgen.core.runners.dynamic_iterbased_runner import \
        DynamicIterBasedRunner
    model = Tiny()
    runner = DynamicIterBasedRunner(
        model=model, logger=mmcv.get_logger('test'), max_iters=1,
        work_dir=str(tmp_path))
    path = str(tmp_path / 'ckpt.pth')
    mmcv.runner.save_checkpoint(model, path, meta=dict(epoch=0, iter=3))
    with pytest.raises(RuntimeError):
        compat.ORIGINALS['DynamicIterBasedRunner.resume'](runner, path)
    runner.resume(path)
    assert runner.iter == 3


def test_ddp_forward_without_replicated_tensor_module():
    code = '''
import mmgen_adv, torch, torch.distributed as dist
from mmcv.parallel import MMDistributedDataParallel as D
dist.init_process_group('gloo', init_method='tcp://127.0.0.1:29433',
                        rank=0, world_size=1)
model = D(torch.nn.Linear(2, 1))
print(model(torch.ones(3, 2)).shape)
del D._use_replicated_tensor_module
try:
    model(torch.ones(3, 2))
except AttributeError as err:
    print('without fix:', err)
'''
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert 'torch.Size([3, 1])' in result.stdout
    assert "without fix: 'MMDistributedDataParallel' object has no " \
        "attribute '_use_replicated_tensor_module'" in result.stdout


class _Exploit:
    """Unpickling this would run a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f'touch {self.marker}', ))


def test_checkpoint_loading_never_runs_pickled_code(tmp_path):
    from mmcv.runner import load_checkpoint
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save(
        dict(state_dict=nn.Linear(2, 1).state_dict(),
             meta=dict(x=_Exploit(marker))), path)
    with pytest.raises(Exception, match='Weights only load failed'):
        load_checkpoint(nn.Linear(2, 1), str(path), map_location='cpu')
    assert not marker.exists()


def test_checkpoints_with_numpy_meta_load_safely(tmp_path):
    from mmcv.runner import load_checkpoint
    path = tmp_path / 'ckpt.pth'
    meta = dict(hook_msgs=dict(best_score=np.float64(12.5),
                               best_iter=np.int64(10)),
                stats=np.arange(3, dtype=np.float32))
    torch.save(dict(state_dict=nn.Linear(2, 1).state_dict(), meta=meta),
               path)
    plain = run_python(f'import torch; torch.load({str(path)!r})')
    assert plain.returncode != 0 and 'Weights only load failed' in \
        plain.stderr
    checkpoint = load_checkpoint(nn.Linear(2, 1), str(path),
                                 map_location='cpu')
    assert checkpoint['meta']['hook_msgs']['best_score'] == 12.5
    assert torch.serialization._default_to_weights_only(None) is True


def test_scope_keys_are_removed_everywhere():
    cfg = dict(_scope_='mmgen', model=dict(_scope_='mmgen', type='X',
                                           hooks=[dict(_scope_='m')]))
    assert compat.strip_scope_keys(cfg) == dict(model=dict(type='X',
                                                           hooks=[{}]))


def test_diffusion_models_build_on_numpy_2():
    from mmgen.models import build_model
    plain = run_python('import numpy; print(hasattr(numpy, "cumproduct"))')
    assert plain.stdout.strip() == 'False'  # removed in NumPy 2
    model = build_model(
        dict(type='BasicGaussianDiffusion', num_timesteps=4,
             betas_cfg=dict(type='cosine'),
             denoising=dict(type='DenoisingUnet', image_size=32,
                            in_channels=3, base_channels=32,
                            resblocks_per_downsample=1, attention_res=[]),
             timestep_sampler=dict(type='UniformTimeStepSampler'),
             ddpm_loss=[dict(type='DDPMMSELoss', log_cfgs=None)]))
    assert model.alphas_bar.shape == (4, )
