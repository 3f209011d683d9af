"""A stacked-digits study's runs on the MMagic host
(``tools/benchmark_quality.py --host mmagic``).

Each run is ``tools/mmagic/train.py --resume`` in the MMagic environment
(its own interpreter) on ``configs/mmagic/stacked_digits/<arch>.py`` with
the method's override (the same text as on the mmgen host: the base config
is already ``AdvDCGAN``, so an override is only its ``adv_cfg``); the seed,
budget, evaluations and checkpoints are in the run's config, as MMagic's
command line has no ``--seed``. The evaluations come from mmengine's
``scalars.json``, one per sitting (``--resume`` continues from the newest
checkpoint, which is written at every evaluation).
"""
import json
import os
import subprocess
from pathlib import Path

from ..errors import UserInputError
from .study import ROOT

DEFAULT_PYTHON = ROOT / '.venv-mmagic' / 'bin' / 'python'
CONFIGS = ROOT / 'configs' / 'mmagic' / 'stacked_digits'
TRAIN = ROOT / 'tools' / 'mmagic' / 'train.py'
PREFIX = 'StackedDigits/'  # the metric's keys in MMagic's logs
VERSIONS = (
    'import json, platform, numpy, torch, mmcv, mmengine, mmagic\n'
    'from mmgen_adv.version import __version__\n'
    'print(json.dumps(dict(python=platform.python_version(), '
    'torch=torch.__version__, numpy=numpy.__version__, '
    'mmcv=mmcv.__version__, mmengine=mmengine.__version__, '
    'mmagic=mmagic.__version__, mmgen_adv=__version__)))')


def base_config(arch):
    """The MMagic config of a study's setting; refused where there is
    none."""
    path = CONFIGS / f'{arch}.py'
    if not path.is_file():
        raise UserInputError(
            f'--host mmagic: the {arch} setting has no MMagic config yet '
            f'({path.relative_to(ROOT)})')
    return path


def check_python(python):
    if not Path(python).is_file():
        raise UserInputError(
            f"--mmagic-python '{python}' does not exist (build the MMagic "
            'environment with ./setup.sh --host mmagic)')


class MMagicStudyHost:
    """A study's runs on MMagic, in its own environment (``python``):
    ``tools/mmagic/train.py --resume`` on ``configs/mmagic/stacked_digits/``
    (the attributes of ``tools/benchmark_quality.py``'s
    ``MMGenStudyHost``)."""

    folder = ('mmagic', )  # runs in <work-dir>/mmagic/<arch>/...
    suffix = '_mmagic'  # results_<study>_mmagic.md
    label = " (MMagic's)"

    def __init__(self, python, metrics):
        self.python, self.metrics = python, metrics

    def prepare(self, args):
        """What the runs' processes need in their environment: mmengine's
        ``deterministic`` calls ``torch.use_deterministic_algorithms``,
        which on a GPU needs cuBLAS's workspace fixed (not yet run on a
        GPU)."""
        if args.deterministic and args.device == 'cuda':
            os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')

    def base_config(self, arch):
        return base_config(arch)

    def config_lines(self, args, seed):
        """What a run's config sets besides the base and the method: the
        seed, the budget, the evaluations (and a checkpoint at each)."""
        interval = args.iters // args.evals
        lines = [
            f'randomness = dict(seed={seed}, '
            f'deterministic={bool(args.deterministic)})',
            f'train_cfg = dict(max_iters={args.iters}, '
            f'val_interval={interval})',
            "val_evaluator = dict(metrics=[dict(type='StackedDigits', "
            f"fake_nums={args.num_images}, sample_model='orig')])",
            f'default_hooks = dict(checkpoint=dict(interval={interval}))',
        ]
        if args.deterministic:
            lines.append('env_cfg = dict(cudnn_benchmark=False)')
        return lines

    def train_command(self, args, config, train_dir, seed):
        # the seed is in the run's config: MMagic's command line has none
        return [str(self.python), str(TRAIN), str(config), '--work-dir',
                str(train_dir), '--resume']

    def evaluations(self, train_dir):
        """``[(iteration, {metric: value})]`` from a run's ``scalars.json``
        files (one per sitting; a later record of an iteration wins)."""
        found = {}
        sittings = Path(train_dir).glob('*/vis_data/scalars.json')
        for scalars in sorted(sittings):
            for line in scalars.read_text().splitlines():
                record = json.loads(line)
                if all(PREFIX + m in record for m in self.metrics):
                    found[record['step']] = {m: record[PREFIX + m]
                                             for m in self.metrics}
        return sorted(found.items())

    def versions(self):
        """The versions of the MMagic environment the runs train in."""
        env = dict(os.environ, PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES='')
        done = subprocess.run([str(self.python), '-c', VERSIONS],
                              capture_output=True, text=True, env=env,
                              check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
