"""tools/check_build.py (run by setup.sh) refuses builds that cannot work,
in one line; the tools survive a crashing compiled query (environment.py)."""
import importlib.util
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from mmgen_adv.runs import environment

from conftest import ROOT, run_tool, tool_env, write_config

spec = importlib.util.spec_from_file_location('check_build',
                                              ROOT / 'tools/check_build.py')
check_build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_build)

TORCH_CUDA = torch.version.cuda


def fake_toolkit(root, release='13.0'):
    """A CUDA_HOME whose bin/nvcc reports ``release`` as nvcc does."""
    nvcc = root / 'bin' / 'nvcc'
    nvcc.parent.mkdir(parents=True)
    nvcc.write_text('#!/bin/sh\necho "nvcc: NVIDIA (R) Cuda compiler driver"'
                    f'\necho "Cuda compilation tools, release {release}, '
                    f'V{release}.88"\n')
    nvcc.chmod(0o755)
    return str(root)


def other_major(version):
    return f'{int(version.split(".")[0]) + 1}.0'


# -- before a CUDA build: nvcc and torch's CUDA -------------------------------
def test_matching_nvcc_is_accepted(tmp_path):
    home = fake_toolkit(tmp_path, '13.2')
    assert check_build.check_cuda_toolchain('13.0', home) == (
        f'{home}/bin/nvcc', '13.2')


@pytest.mark.parametrize('torch_cuda, toolkit, message', [
    (None, '13.0', 'torch is a CPU-only build'),
    ('13.0', None, 'a CUDA build of mmcv-full needs nvcc and there is none '
     'on PATH and CUDA_HOME is not set: install the CUDA 13.x toolkit'),
    ('13.0', 'empty', 'a CUDA build of mmcv-full needs nvcc and {home}/bin/'
     'nvcc does not exist'),
    ('13.0', '12.4', '{home}/bin/nvcc is CUDA 12.4 but torch was built with '
     'CUDA 13.0: ops compiled by it would not match torch; point CUDA_HOME '
     '(or PATH) at a CUDA 13.x toolkit, or build CPU ops only: '
     'MMGEN_ADV_CPU_OPS=1 ./setup.sh'),
    ('12.8', 'garbage', "'{home}/bin/nvcc --version' does not run or names "
     'no CUDA release'),
])
def test_toolchain_that_cannot_work_is_refused(tmp_path, torch_cuda, toolkit,
                                               message):
    home = None
    if toolkit == 'empty':
        home = str(tmp_path)
    elif toolkit is not None:
        home = fake_toolkit(tmp_path, toolkit)
    with pytest.raises(check_build.BuildCheckError) as err:
        check_build.check_cuda_toolchain(torch_cuda, home)
    assert str(err.value).startswith(message.format(home=home))
    assert 'MMGEN_ADV_CPU_OPS=1 ./setup.sh' in str(err.value)


@pytest.mark.skipif(TORCH_CUDA is None, reason='needs a CUDA build of torch')
def test_cuda_toolchain_command_with_a_fake_nvcc(tmp_path):
    """The command setup.sh runs, with CUDA_HOME at a fake toolkit (the one
    torch's extension builder would use)."""
    env = dict(CUDA_HOME=fake_toolkit(tmp_path / 'other',
                                      other_major(TORCH_CUDA)))
    result = run_check('cuda-toolchain', env=env)
    assert result.returncode == 1
    assert last_line(result).startswith(
        f'error: {env["CUDA_HOME"]}/bin/nvcc is CUDA {other_major(TORCH_CUDA)}'
        f' but torch was built with CUDA {TORCH_CUDA}')
    env = dict(CUDA_HOME=fake_toolkit(tmp_path / 'same', TORCH_CUDA))
    host = 'cuda' if torch.cuda.is_available() else 'cpu'
    result = run_check('cuda-toolchain', env=env, device=host)
    if host == 'cuda':
        assert result.returncode == 0
        assert all(arch.count('.') == 1
                   for arch in result.stdout.strip().split(';'))
    else:
        assert result.returncode == 1
        assert last_line(result).startswith(
            'error: nvidia-smi answers but torch')


# -- after the build: the compiled ops, in a child ----------------------------
def run_check(*args, env=None, pythonpath=None, device='cpu'):
    child_env = tool_env(device=device)
    child_env.update(env or {})
    if pythonpath:
        child_env['PYTHONPATH'] = f'{pythonpath}:{child_env["PYTHONPATH"]}'
    return subprocess.run(
        [sys.executable, str(ROOT / 'tools/check_build.py'), *args],
        capture_output=True, text=True, env=child_env, timeout=600)


def last_line(result):
    return result.stderr.strip().splitlines()[-1]


def test_the_installed_ops_work():
    result = run_check('ops')
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('mmcv-full 1.7.2 compiled ops work: '
                                    'compiler ')
    assert result.stdout.strip().endswith('nms on cpu')


@pytest.mark.cuda
def test_the_installed_ops_work_on_the_gpu():
    result = run_check('ops', '--device', 'cuda', device='cuda')
    assert result.returncode == 0, result.stderr
    assert 'nms on cuda, fused_bias_leakyrelu on cuda' in result.stdout


FAKE_OPS = {
    'segfault': ('import ctypes\n'
                 'def get_compiler_version():\n'
                 '    return ctypes.string_at(0)\n'),
    'other torch': ('raise ImportError("/venv/mmcv/_ext.cpython-311-x86_64-'
                    'linux-gnu.so: undefined symbol: _ZN3c1017RegisterOp")\n'),
    'no ops': "raise ModuleNotFoundError(\"No module named 'mmcv._ext'\")\n",
    'wrong nms': ('import torch\n'
                  "def get_compiler_version(): return 'GCC 12.2'\n"
                  "def get_compiling_cuda_version(): return 'not available'\n"
                  'def nms(boxes, scores, iou):\n'
                  '    return boxes, torch.arange(len(boxes))\n'),
}


def fake_mmcv(root, ops_source):
    """An ``mmcv`` package whose ``mmcv.ops`` is ``ops_source``."""
    (root / 'mmcv' / 'ops').mkdir(parents=True)
    (root / 'mmcv' / '__init__.py').write_text("__version__ = '1.7.2'\n")
    (root / 'mmcv' / 'ops' / '__init__.py').write_text(ops_source)
    return str(root)


@pytest.mark.parametrize('fault, message', [
    ('segfault', "error: mmcv-full's compiled ops crashed the process "
     '(SIGSEGV) in mmcv.ops.get_compiler_version(): the likely cause is a '
     'compiler / C++ runtime mismatch'),
    ('other torch', "error: mmcv-full's compiled ops do not load (ImportError:"
     ' /venv/mmcv/_ext.cpython-311-x86_64-linux-gnu.so: undefined symbol: '
     '_ZN3c1017RegisterOp): they were built against another PyTorch'),
    ('no ops', 'error: mmcv-full is installed without its compiled ops'),
    ('wrong nms', "error: mmcv-full's nms on cpu gave [0, 1, 2] (expected "
     '[0, 2]): the build is broken'),
])
def test_a_broken_build_is_refused_in_one_line(tmp_path, fault, message):
    result = run_check('ops', pythonpath=fake_mmcv(tmp_path, FAKE_OPS[fault]))
    assert result.returncode == 1
    assert last_line(result).startswith(message)
    assert 'MMGEN_ADV_REBUILD_MMCV=1 ./setup.sh' in last_line(result)
    assert 'Traceback' not in result.stderr


def test_cpu_only_ops_on_a_gpu_host_are_refused(tmp_path):
    result = run_check('ops', '--device', 'cuda',
                       pythonpath=fake_mmcv(tmp_path, FAKE_OPS['wrong nms']))
    assert result.returncode == 1
    assert last_line(result).startswith(
        "error: mmcv-full's ops were compiled without CUDA")


# -- the tools' environment report -------------------------------------------
def test_environment_report_gives_mmcvs_answers():
    import mmcv.ops
    env = environment.collect_env()
    assert env['MMCV Compiler'] == mmcv.ops.get_compiler_version()
    assert env['MMCV CUDA Compiler'] == mmcv.ops.get_compiling_cuda_version()


CRASHING_REPORT = textwrap.dedent('''
    import sys
    import mmgen_adv, crashing_compiler_query
    from mmgen.utils import collect_env as toolbox_collect_env
    from mmgen_adv.runs.environment import collect_env
    env = collect_env()
    print('report:', env['MMCV Compiler'], '|', env['MMCV CUDA Compiler'])
    sys.stdout.flush()
    toolbox_collect_env()
    print('the toolbox survived')
''')


def test_a_crashing_query_is_reported_not_suffered():
    result = subprocess.run([sys.executable, '-c', CRASHING_REPORT],
                            capture_output=True, text=True, env=tool_env(),
                            timeout=300)
    unavailable = 'unavailable (the compiled query crashed: SIGSEGV)'
    assert f'report: {unavailable} | {unavailable}' in result.stdout
    # the toolbox's own report dies with the process
    assert result.returncode == -signal.SIGSEGV
    assert 'the toolbox survived' not in result.stdout


def test_training_survives_a_crashing_query(tmp_path):
    config = write_config(
        tmp_path / 'crash.py',
        f"_base_ = ['{ROOT / 'configs/demo/dcgan_digits.py'}']\n"
        "custom_imports = dict(imports=['mmgen_adv', "
        "'crashing_compiler_query'])\n"
        'model = dict(generator=dict(base_channels=16), '
        'discriminator=dict(base_channels=16))\n'
        'data = dict(samples_per_gpu=4)\ntotal_iters = 2\n')
    result = run_tool('train.py', config, '--work-dir', tmp_path / 'w')
    log = next((tmp_path / 'w').glob('*.log')).read_text()
    assert 'MMCV Compiler: unavailable (the compiled query crashed: ' \
        'SIGSEGV)' in log
    assert "mmcv's compiled version query crashed: SIGSEGV" in log
    assert 'check_build.py ops' in result.stderr
    assert list((tmp_path / 'w').rglob('iter_2.pth'))
