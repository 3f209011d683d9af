"""Running a study: many training runs, side by side, resumable.

A study (``tools/benchmark_quality.py``, ``tools/benchmark_robust.py``) is a
list of :class:`Run`\\ s, each a sequence of :class:`Step`\\ s (commands of
this project's tools) in its own folder. :func:`run_all` runs up to
``jobs`` runs at once; a step whose result is already there is skipped, so
calling the study again after an interruption continues where it stopped
(training steps pass ``--auto-resume``, so even a half-finished run
continues from its newest checkpoint). Each step's wall-clock time is kept
in ``timing.json`` in its run's folder, summed over sittings: it is
written while the step runs (every ``RECORD_INTERVAL`` seconds), so a
sitting that was killed or failed counts too. The commit of every sitting
that trained a run is kept in its ``commits.json``: runs are reused across
studies and commits, so the commit a report is written at need not be the
one its runs trained at.

A run's numbers must not depend on how many runs share the machine: every
run gets the same intra-op thread count (``--threads``, default 1), not a
share of the cores, because CPU reductions over a different number of
threads differ in the last bits and GAN training amplifies that. What else
determines the numbers is recorded beside them (:func:`environment`).
Nothing here imports a toolbox but :func:`environment` (mmgen's versions,
when they are this environment's).
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy
import torch

from ..errors import UserInputError
from ..runs.checkpoints import commit, temporary_name
from ..version import __version__

ROOT = Path(__file__).resolve().parents[2]  # the repository
DEFAULT_THREADS = 1
RECORD_INTERVAL = 60.0  # seconds of a running step that a kill may lose
# the commit of a sitting from before commits.json was kept
NOT_RECORDED = 'not recorded'


class Step:
    """One command of a run.

    Args:
        name (str): Its name within the run (a key of ``timing.json``).
        command (list | callable): The command line, or a function of the
            run returning it (for steps that need earlier steps' results).
        done (callable): ``done(run)`` is true when the step's result is
            there.
    """

    def __init__(self, name, command, done):
        self.name, self.command, self.done = name, command, done


class Run:
    """A named sequence of steps in the folder ``path``."""

    def __init__(self, name, path, steps, config_text=None):
        self.name, self.path, self.steps = name, Path(path), steps
        self.config_text = config_text

    @property
    def config(self):
        return self.path / 'config.py'

    def _read(self, name, empty):
        file = self.path / name
        return json.loads(file.read_text()) if file.is_file() else empty

    def _write(self, name, data):
        # renamed into place: a reader (or a kill) never meets half a file
        self.path.mkdir(parents=True, exist_ok=True)
        file = str(self.path / name)
        temporary = temporary_name(file)
        Path(temporary).write_text(json.dumps(data, indent=1))
        commit(temporary, file)

    def timing(self):
        """``{step: seconds}`` of the steps run so far."""
        return self._read('timing.json', {})

    def _record(self, step, seconds):
        timing = self.timing()
        timing[step] = timing.get(step, 0.0) + seconds
        self._write('timing.json', timing)

    def commits(self):
        """The commits its sittings ran at, in order (a repeat only where
        another commit came between); ``[]`` for a run from before they
        were recorded."""
        return self._read('commits.json', [])

    def _note_sitting(self, revision):
        # a run begun before commits were kept: the commit of its earlier
        # sittings is not known
        commits = self.commits() or ([NOT_RECORDED] if self.timing()
                                     else [])
        if commits[-1:] != [revision]:
            self._write('commits.json', commits + [revision])

    def prepare(self):
        """Write the run's config; refuse a folder holding another one.
        The same settings from another checkout are the same run (its
        ``_base_`` names the base config by this checkout's path)."""
        if self.config_text is None:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        if self.config.is_file() and \
                _placeless(self.config.read_text()) != \
                _placeless(self.config_text):
            raise UserInputError(
                f'{self.path} holds a run with other settings (its '
                'config.py differs); use another --work-dir, or delete it')
        self.config.write_text(self.config_text)


def _placeless(config_text):
    """``config_text`` with the checkout's location cut from its
    ``_base_`` (the commits a run trained at are kept apart)."""
    return re.sub(r"^(_base_ = \[')[^']*/(configs/)", r'\1\2', config_text,
                  flags=re.MULTILINE)


def add_study_arguments(parser, work_dir):
    """The options every study tool has: the device, how many runs side by
    side and with how many threads each, where the runs go."""
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument(
        '--jobs', type=int, default=1,
        help='runs trained side by side (changes how fast, never what)')
    parser.add_argument(
        '--threads', type=int, default=DEFAULT_THREADS,
        help='intra-op CPU threads of every run (default '
        f'{DEFAULT_THREADS}); part of what determines its numbers')
    parser.add_argument(
        '--deterministic', action=argparse.BooleanOptionalAction,
        default=True,
        help="training runs use the toolbox's deterministic settings "
        '(cuDNN; no effect on the CPU)')
    parser.add_argument('--work-dir', default=work_dir)


def check_study_arguments(args):
    """Refuse what ``add_study_arguments`` and a ``--seeds`` option cannot
    mean."""
    if args.jobs < 1:
        raise UserInputError(f'--jobs must be >= 1, got {args.jobs}')
    if args.threads < 1:
        raise UserInputError(f'--threads must be >= 1, got {args.threads}')
    cores = len(os.sched_getaffinity(0))
    if args.threads > cores:
        # torch caps its default intra-op threads at the cores it sees, so
        # such a run would train with another thread count than asked
        raise UserInputError(
            f'--threads {args.threads} is more than the {cores} cores this '
            f'process may use; allowed: 1 to {cores}')
    if len(set(args.seeds)) != len(args.seeds):
        raise UserInputError(f'--seeds repeats a seed: {args.seeds}')
    if args.device == 'cuda':
        import torch

        # otherwise every run would train, silently, on the CPU
        if not torch.cuda.is_available():
            raise UserInputError(
                '--device cuda: no GPU is visible here '
                '(torch.cuda.is_available() is False); use --device cpu')


def tool(script, *args):
    """The command line of ``tools/<script>`` with this interpreter."""
    return [sys.executable, str(ROOT / 'tools' / script), *map(str, args)]


def run_header(args):
    """The first line of a run's ``config.py``: the settings outside the
    config that change its numbers, so that a run folder trained with other
    ones is refused instead of continued."""
    return (f'# trained on {args.device} with {args.threads} intra-op '
            f"thread(s){', deterministic' if args.deterministic else ''}")


def _git(*args):
    try:
        return subprocess.run(['git', '-C', str(ROOT), *args],
                              capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _cpu_name():
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def current_commit():
    """This checkout's commit, marked where tracked files differ from it."""
    revision = _git('rev-parse', 'HEAD')
    if revision and _git('status', '--porcelain', '--untracked-files=no'):
        revision += ' (with uncommitted changes)'
    return revision or 'unknown'


def training_commits(runs):
    """The distinct commits ``runs`` trained at, in the order met
    (:data:`NOT_RECORDED` for runs trained before commits were kept)."""
    seen = []
    for run in runs:
        for revision in run.commits() or [NOT_RECORDED]:
            if revision not in seen:
                seen.append(revision)
    return seen


def environment(args, runs, versions=None):
    """What determines the numbers of a study's ``runs`` besides its
    settings: versions, device and CPU, threads per run, deterministic mode,
    the commit of this report and those the runs trained at
    (:func:`training_commits`). ``versions`` are those of the environment
    the runs train in where that is not this one (the MMagic host's); by
    default, this one's."""
    if versions is None:
        import mmcv  # here: the rest of a study needs no toolbox
        import mmgen
        versions = dict(python=platform.python_version(),
                        torch=torch.__version__, numpy=numpy.__version__,
                        mmcv=mmcv.__version__, mmgen=mmgen.__version__,
                        mmgen_adv=__version__)
    device = args.device
    if device == 'cuda':
        device += f' ({torch.cuda.get_device_name(0)})'
    return dict(versions=versions, device=device, cpu=_cpu_name(),
                threads_per_run=args.threads,
                deterministic=args.deterministic, commit=current_commit(),
                trained_at=training_commits(runs))


# where this machine keeps things: not part of what a study is
MACHINE_PATHS = ('work_dir', 'mmagic_python', 'compare_with')


def recorded_settings(args):
    """A study's settings as its results file records them: what determines
    the numbers, not where this machine kept the runs, the interpreter and
    the files it compares with (:data:`MACHINE_PATHS`)."""
    return {k: v for k, v in vars(args).items() if k not in MACHINE_PATHS}


def environment_line(env):
    """:func:`environment` in one line of text (results files from before
    ``trained_at`` was kept have none)."""
    versions = ', '.join(f'{k} {v}' for k, v in env['versions'].items())
    line = (f"{env['device']} ({env['cpu']}), {env['threads_per_run']} "
            f"thread(s) per run, deterministic {env['deterministic']}; "
            f"{versions}; commit {env['commit']}")
    trained_at = env.get('trained_at', [env['commit']])
    if trained_at != [env['commit']]:
        line += f" (runs trained at {', '.join(trained_at)})"
    return line


def job_env(threads, device):
    """Environment of one job: its thread count, and CUDA hidden for a
    CPU study on a GPU host."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (str(ROOT), env.get('PYTHONPATH', '')) if p)
    if device == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    return env


def _execute(run, env, log):
    for step in run.steps:
        if step.done(run):
            continue
        command = step.command(run) if callable(step.command) else \
            step.command
        start = recorded = time.time()
        process = subprocess.Popen(command, env=env, text=True,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        while True:
            try:
                stdout, stderr = process.communicate(timeout=RECORD_INTERVAL)
                break
            except subprocess.TimeoutExpired:  # output is kept; wait again
                now = time.time()
                run._record(step.name, now - recorded)
                recorded = now
        run._record(step.name, time.time() - recorded)
        seconds = time.time() - start
        (run.path / f'{step.name}.out').write_text(stdout + stderr)
        if process.returncode != 0 or not step.done(run):
            raise RuntimeError(
                f'{run.name}: step {step.name} failed (exit status '
                f'{process.returncode}; output in '
                f'{run.path / (step.name + ".out")}):\n{stderr[-2000:]}')
        log(f'{run.name}: {step.name} done in {seconds:.0f} s')


def run_all(runs, jobs=1, device='cpu', threads=DEFAULT_THREADS, log=print):
    """Run every unfinished step of ``runs``, ``jobs`` runs at a time, each
    with ``threads`` intra-op threads (whatever ``jobs`` is).

    Returns the wall-clock seconds this call took.
    """
    for run in runs:
        run.prepare()
    pending = [r for r in runs if not all(s.done(r) for s in r.steps)]
    for run in runs:
        if run not in pending:
            log(f'{run.name}: reusing finished run')
    revision = current_commit()
    for run in pending:
        run._note_sitting(revision)
    env = job_env(threads, device)
    start = time.time()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(_execute, r, env, log) for r in pending]:
            future.result()
    return time.time() - start
