"""Check that mmcv-full's compiled ops can be built, and work, on this host.

    python tools/check_build.py cuda-toolchain          # before a CUDA build
    python tools/check_build.py ops [--device cpu|cuda]  # after the build

``setup.sh`` runs both. ``cuda-toolchain`` checks that torch is a CUDA build
that can use the GPU and that nvcc exists with torch's CUDA major version (a
mismatch fails after minutes of compiling, or builds ops that do not load);
it prints the GPUs' compute capabilities, for ``TORCH_CUDA_ARCH_LIST``.
``ops`` calls the compiled extension in a child process: mmcv's version
queries (which the toolbox's environment report makes at the start of every
training run) and small ops, on the GPU too with ``--device cuda``. A crash
there (e.g. SIGSEGV) or a load failure is reported, not suffered.

A host where the build cannot work ends with one line, ``error: ...``, naming
the likely cause and what to do, and exit status 1. Only the standard
library is imported at module level: this runs before the toolbox is
installed.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys

CPU_OPS = 'or build CPU ops only: MMGEN_ADV_CPU_OPS=1 ./setup.sh'
# uninstalls mmcv-full and runs `pip cache remove mmcv_full` before building
REBUILD = 'MMGEN_ADV_REBUILD_MMCV=1 ./setup.sh'


class BuildCheckError(Exception):
    """What is wrong with the build and what to do, in one line."""


def cuda_major(version):
    return version.split('.')[0]


def nvcc_release(nvcc):
    """The CUDA release ``nvcc --version`` reports (``'13.0'``), or None."""
    try:
        out = subprocess.run([nvcc, '--version'], capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'release (\d+)\.(\d+)', out)
    return f'{match[1]}.{match[2]}' if match else None


def check_cuda_toolchain(torch_cuda, cuda_home):
    """Refuse a CUDA build of mmcv-full that cannot work.

    Args:
        torch_cuda (str | None): ``torch.version.cuda``.
        cuda_home (str | None): the toolkit the build would use
            (``torch.utils.cpp_extension.CUDA_HOME``: ``$CUDA_HOME``, else
            the nvcc on PATH, else /usr/local/cuda).

    Returns:
        tuple: nvcc's path and its CUDA release.
    """
    if not torch_cuda:
        raise BuildCheckError(
            'torch is a CPU-only build (torch.version.cuda is None), so '
            "mmcv-full cannot get CUDA ops from it; install torch's CUDA "
            f'build, {CPU_OPS}')
    nvcc = os.path.join(cuda_home, 'bin', 'nvcc') if cuda_home else None
    if nvcc is None or not os.path.isfile(nvcc):
        found = f'{nvcc} does not exist' if nvcc else \
            'there is none on PATH and CUDA_HOME is not set'
        raise BuildCheckError(
            f'a CUDA build of mmcv-full needs nvcc and {found}: install the '
            f'CUDA {cuda_major(torch_cuda)}.x toolkit (torch was built with '
            f'CUDA {torch_cuda}) and put its bin/ on PATH or set CUDA_HOME, '
            f'{CPU_OPS}')
    release = nvcc_release(nvcc)
    if release is None:
        raise BuildCheckError(
            f"'{nvcc} --version' does not run or names no CUDA release: "
            f'repair that toolkit or point CUDA_HOME at a CUDA '
            f'{cuda_major(torch_cuda)}.x one, {CPU_OPS}')
    if cuda_major(release) != cuda_major(torch_cuda):
        raise BuildCheckError(
            f'{nvcc} is CUDA {release} but torch was built with CUDA '
            f'{torch_cuda}: ops compiled by it would not match torch; point '
            f'CUDA_HOME (or PATH) at a CUDA {cuda_major(torch_cuda)}.x '
            f'toolkit, {CPU_OPS}')
    return nvcc, release


def cuda_toolchain():
    """The ``cuda-toolchain`` command: prints the GPUs' architectures."""
    import torch
    from torch.utils.cpp_extension import CUDA_HOME  # what the build uses
    nvcc, release = check_cuda_toolchain(torch.version.cuda, CUDA_HOME)
    if not torch.cuda.is_available():
        raise BuildCheckError(
            f'nvidia-smi answers but torch {torch.__version__} cannot use '
            'the GPU (torch.cuda.is_available() is False): its CUDA '
            f'{torch.version.cuda} probably needs a newer NVIDIA driver than '
            f'this one (nvidia-smi shows the CUDA it supports); update the '
            f'driver, {CPU_OPS}')
    archs = sorted({
        '%d.%d' % torch.cuda.get_device_capability(i)
        for i in range(torch.cuda.device_count())
    })
    print(f'nvcc {release} ({nvcc}) matches torch {torch.__version__}; '
          f'GPU compute capability {", ".join(archs)}', file=sys.stderr)
    print(';'.join(archs))


# Run in a child process: each step is announced before it runs, so the
# parent knows where a crash happened.
OPS_PROBE = r'''
import json, sys
device = sys.argv[1]

def report(**record):
    print(json.dumps(record), flush=True)

report(step='import mmcv.ops (loads the compiled mmcv._ext)')
import torch
import mmcv
import mmcv.ops
report(mmcv=mmcv.__version__)
report(step='mmcv.ops.get_compiler_version()')
compiler = mmcv.ops.get_compiler_version()
report(step='mmcv.ops.get_compiling_cuda_version()')
report(compiler=compiler, cuda=mmcv.ops.get_compiling_cuda_version())
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                      [20., 20., 30., 30.]])
scores = torch.tensor([0.9, 0.8, 0.7])
for on in ['cpu', 'cuda'] if device == 'cuda' else ['cpu']:
    report(step=f'mmcv.ops.nms on {on}')
    _, keep = mmcv.ops.nms(boxes.to(on), scores.to(on), 0.5)
    report(check=f'nms on {on}', ok=keep.tolist() == [0, 2],
           got=keep.tolist(), expected=[0, 2])
if device == 'cuda':
    # the CUDA kernel StyleGAN2 uses, against its reference formula
    report(step='mmcv.ops.fused_bias_leakyrelu on cuda')
    x = torch.randn(2, 4, 3, 3, device='cuda')
    bias = torch.randn(4, device='cuda')
    out = mmcv.ops.fused_bias_leakyrelu(x, bias)
    ref = torch.nn.functional.leaky_relu(x + bias.view(1, -1, 1, 1),
                                         0.2) * 2**0.5
    error = (out - ref).abs().max().item()
    report(check='fused_bias_leakyrelu on cuda', ok=error < 1e-4,
           got=f'max error {error:.3g}', expected='< 1e-4')
report(step='done')
'''


def signal_name(returncode):
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f'signal {-returncode}'


def explain_failure(step, error):
    """One line for an exception raised in the probe's ``step``."""
    if "No module named 'mmcv._ext'" in error:
        return ('mmcv-full is installed without its compiled ops (no '
                'mmcv._ext: built without MMCV_WITH_OPS=1, or the lite mmcv '
                f'package); rebuild them: {REBUILD}')
    if "No module named 'mmcv'" in error:
        return f'mmcv-full is not installed for {sys.executable}: run ' \
            './setup.sh'
    if 'undefined symbol' in error:
        return (f'mmcv-full\'s compiled ops do not load ({error}): they were '
                'built against another PyTorch, typically a wheel pip cached '
                f'for an earlier torch; rebuild them: {REBUILD}')
    if 'GLIBCXX' in error or 'CXXABI' in error:
        return (f'mmcv-full\'s compiled ops need a newer C++ runtime than '
                f'this process loads ({error}): a compiler / C++ runtime '
                'mismatch; rebuild them with the compiler whose libstdc++ '
                f'is loaded here (CC/CXX): {REBUILD}')
    if 'no kernel image is available' in error:
        return ('mmcv-full\'s CUDA ops were not compiled for this GPU '
                f'({error}); rebuild them: {REBUILD} (it compiles for the '
                'GPUs it finds; TORCH_CUDA_ARCH_LIST=X.Y overrides)')
    return (f"mmcv-full's compiled ops failed in {step}: {error}; rebuild "
            f'them: {REBUILD}')


def check_ops(device='cpu', timeout=600):
    """Call the compiled ops in a child process; return a summary line.

    Raises:
        BuildCheckError: the child crashed or failed, an op gave a wrong
            result, or ``device='cuda'`` and the ops have no CUDA kernels.
    """
    try:
        child = subprocess.run(
            [sys.executable, '-P', '-c', OPS_PROBE, device],
            capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BuildCheckError(
            f"mmcv-full's compiled ops did not finish a small test in "
            f'{timeout} s; rebuild them: {REBUILD}') from None
    records = {}
    steps = ['start-up (before importing mmcv)']
    checks = []
    for line in child.stdout.splitlines():
        if not line.startswith('{'):
            continue
        record = json.loads(line)
        if 'step' in record:
            steps.append(record['step'])
        elif 'check' in record:
            checks.append(record)
        else:
            records.update(record)
    if child.returncode < 0:
        raise BuildCheckError(
            f"mmcv-full's compiled ops crashed the process "
            f'({signal_name(child.returncode)}) in {steps[-1]}: the likely '
            'cause is a compiler / C++ runtime mismatch between their build '
            'and this machine (or torch); rebuild them on this machine, with '
            f'its own compiler (CC/CXX): {REBUILD}')
    if device == 'cuda' and records.get('cuda') == 'not available':
        raise BuildCheckError(
            "mmcv-full's ops were compiled without CUDA (a CPU-ops wheel, "
            "e.g. from pip's cache) but this host has a GPU; "
            f'rebuild them: {REBUILD}, {CPU_OPS}')
    if child.returncode != 0:
        error = (child.stderr.strip().splitlines() or ['(no message)'])[-1]
        raise BuildCheckError(explain_failure(steps[-1], error))
    for check in checks:
        if not check['ok']:
            raise BuildCheckError(
                f"mmcv-full's {check['check']} gave {check['got']} (expected "
                f"{check['expected']}): the build is broken; rebuild it: "
                f'{REBUILD}')
    return (f"mmcv-full {records['mmcv']} compiled ops work: compiler "
            f"{records['compiler']}, CUDA {records['cuda']}; "
            + ', '.join(check['check'] for check in checks))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser(
        'cuda-toolchain',
        help="nvcc matches torch's CUDA and torch sees the GPU; prints the "
        "GPUs' compute capabilities")
    ops = commands.add_parser(
        'ops', help='call the compiled ops in a child process')
    ops.add_argument('--device', choices=['cpu', 'cuda'], default='cpu',
                     help='also run ops on the GPU (cuda)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.command == 'cuda-toolchain':
            cuda_toolchain()
        else:
            print(check_ops(args.device))
    except BuildCheckError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
