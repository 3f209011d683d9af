"""Preemption-safe training through tools/train.py and tools/dist_train.sh:
a run killed at any point (SIGKILL between iterations, during a checkpoint
write, between the checkpoint and ``latest.pth``; SIGTERM / SIGINT; a
SIGTERM to the whole process group under torchrun) and rerun with the same
command ends with the weights, optimizer state and logged values of an
uninterrupted run. Kill points come from tests/kill_switch.py."""
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import ROOT, run_tool, tool_env, write_config

DEMO = ROOT / 'configs/demo/dcgan_digits_probe.py'
ITERS = 10
# compared between runs; the rest (time, data_time, lr, memory) is not a
# result of training
NOT_COMPARED = ('time', 'data_time')


def preemptible_config(tmp_path, workers=0):
    """The demo DCGAN, small, with the robustness probe every 3 iterations
    (a sparse logged key), checkpoints every 4 (and at the end), logs every
    2."""
    return write_config(
        tmp_path / 'preemptible.py', f"_base_ = ['{DEMO}']\n"
        "custom_imports = dict(imports=['mmgen_adv', 'kill_switch'])\n"
        'model = dict(generator=dict(base_channels=32), '
        'discriminator=dict(base_channels=16))\n'
        f'data = dict(samples_per_gpu=8, workers_per_gpu={workers})\n'
        f'total_iters = {ITERS}\nlog_config = dict(interval=2)\n'
        'checkpoint_config = dict(interval=4, max_keep_ckpts=-1)\n'
        "custom_hooks = [dict(type='DiscRobustnessProbeHook', interval=3, "
        "num_images=4, max_steps=3), dict(type='KillSwitchHook')]\n")


def ckpt(work_dir, name):
    return Path(work_dir) / 'ckpt' / Path(work_dir).name / name


def flatten(value, prefix=''):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f'{prefix}.{key}')
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from flatten(item, f'{prefix}.{i}')
    else:
        yield prefix, value


def assert_same_training_state(a, b):
    """Weights and optimizer state, tensor for tensor."""
    a, b = (torch.load(p, map_location='cpu') for p in (a, b))
    for part in ('state_dict', 'optimizer'):
        flat_a, flat_b = dict(flatten(a[part])), dict(flatten(b[part]))
        assert flat_a.keys() == flat_b.keys()
        differ = [
            k for k in flat_a
            if not (torch.equal(flat_a[k], flat_b[k]) if torch.is_tensor(
                flat_a[k]) else flat_a[k] == flat_b[k])
        ]
        assert not differ, f'{part}: {len(differ)} differ, e.g. {differ[:3]}'


def train_records(work_dir):
    """``{iteration: logged values}`` of the newest JSON log."""
    log = sorted(Path(work_dir).glob('*.log.json'))[-1]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    return {
        r['iter']: {k: v for k, v in r.items() if k not in NOT_COMPARED}
        for r in records if r.get('mode') == 'train'
    }


def run_killed(script, args, spec, expect_status, cwd=None):
    env = dict(tool_env(1), MMGEN_ADV_TEST_KILL=spec, PYTHON=sys.executable)
    cmd = [sys.executable, str(ROOT / 'tools' / script)] if \
        script.endswith('.py') else ['bash', str(ROOT / 'tools' / script)]
    # its own session: a process-group signal stays within the run
    result = subprocess.run(cmd + list(map(str, args)), env=env, cwd=cwd,
                            capture_output=True, text=True, timeout=600,
                            start_new_session=True)
    assert result.returncode == expect_status, result.stderr[-3000:]
    return result


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """The uninterrupted run (seed 5)."""
    tmp = tmp_path_factory.mktemp('reference')
    config = preemptible_config(tmp)
    work_dir = tmp / 'work'
    run_tool('train.py', config, '--work-dir', work_dir, '--seed', 5,
             threads=1)
    return config, work_dir


def test_probe_values_are_logged_as_measured(reference):
    """The log holds the probe's own values on the iterations it ran (its
    JSON), not a running mean, and nothing where it did not run."""
    _, work_dir = reference
    records = train_records(work_dir)
    probe = {
        int(p.stem.split('_')[1]): json.loads(p.read_text())
        for p in (work_dir / 'robustness_probe').glob('iter_*.json')
    }
    assert sorted(probe) == [3, 6, 9]
    # logs every 2: the probe of iteration 3 is in the window 3-4, and so on;
    # the windows 1-2 and 7-8 measured nothing
    for logged_at, probed_at in ((4, 3), (6, 6), (10, 9)):
        for key in ('probe_grad_l1', 'probe_xi_real', 'probe_xi_fake'):
            assert records[logged_at][key] == pytest.approx(
                probe[probed_at][key], abs=1e-5)
    assert not any('probe_grad_l1' in records[it] for it in (2, 8))


@pytest.mark.parametrize('spec, resumes_from', [
    ('iter:7', 'iter_4.pth'),  # SIGKILL between iterations
    ('save:8', 'iter_4.pth'),  # SIGKILL with half of iter_8.pth written
    ('latest:8', 'iter_8.pth'),  # SIGKILL before latest.pth moved on
    ('term:7', 'iter_7.pth'),  # SIGTERM: iteration 7 ends with a checkpoint
])
def test_killed_run_continues_exactly(reference, tmp_path, spec,
                                      resumes_from):
    config, reference_dir = reference
    work_dir = tmp_path / 'work'
    command = [config, '--work-dir', work_dir, '--seed', 5, '--auto-resume']
    signalled = spec.startswith(('term', 'int'))
    killed = run_killed('train.py', command, spec, 3 if signalled else -9)
    folder = ckpt(work_dir, '')
    if signalled:
        name = 'SIGTERM' if spec.startswith('term') else 'SIGINT'
        assert killed.stderr.strip().splitlines()[-1] == (
            f'stopped: stopped by {name} after iteration {spec[-1]}, '
            f'checkpoint written: {folder}/{resumes_from}; the same command '
            'with --auto-resume continues')
    if spec == 'save:8':
        # the torn file is a hidden temporary; latest.pth is the old one
        assert [p.name for p in folder.glob('.iter_8.pth.*.tmp')]
        assert not (folder / 'iter_8.pth').exists()
    assert (folder / 'latest.pth').resolve().is_file()

    # the same command again; the seed comes from the checkpoint when the
    # rerun does not repeat it (SIGTERM case)
    rerun = command if spec != 'term:7' else command[:3] + command[5:]
    result = run_tool('train.py', *rerun, threads=1)
    assert f'auto-resume: resuming from {folder}/{resumes_from}' in \
        result.stderr
    assert not list(folder.glob('.*.tmp'))
    assert_same_training_state(ckpt(reference_dir, f'iter_{ITERS}.pth'),
                               folder / f'iter_{ITERS}.pth')
    # logged values after the resume are the uninterrupted run's
    expected, resumed = train_records(reference_dir), train_records(work_dir)
    assert resumed and all(resumed[it] == expected[it] for it in resumed)


def test_sigint_stops_with_a_checkpoint(reference, tmp_path):
    """Ctrl-C: as SIGTERM (whose resume is tested above)."""
    config, _ = reference
    work_dir = tmp_path / 'work'
    killed = run_killed('train.py', [config, '--work-dir', work_dir, '--seed',
                                     5], 'int:5', 3)
    assert killed.stderr.strip().splitlines()[-1].startswith(
        'stopped: stopped by SIGINT after iteration 5, checkpoint written: ')
    assert sorted(p.name for p in ckpt(work_dir, '').glob('iter_*.pth')) == \
        ['iter_4.pth', 'iter_5.pth']
    assert os.readlink(ckpt(work_dir, 'latest.pth')) == 'iter_5.pth'
    saved = torch.load(ckpt(work_dir, 'iter_5.pth'), map_location='cpu')
    assert saved['meta']['iter'] == 5 and saved['meta']['seed'] == 5


def test_rerun_without_auto_resume_is_refused(reference):
    config, work_dir = reference
    result = run_tool('train.py', config, '--work-dir', work_dir,
                      check=False, threads=1)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        'error: work dir holds checkpoints of an earlier run in')
    assert len(list(Path(work_dir).glob('*.log'))) == 1  # nothing new


@pytest.fixture(scope='module')
def dist_reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('dist_reference')
    config = preemptible_config(tmp, workers=1)
    work_dir = tmp / 'work'
    run_tool('dist_train.sh', config, 2, '--work-dir', work_dir, threads=1)
    return config, work_dir


@pytest.mark.parametrize('spec, status, resumes_from', [
    ('iter:7@1', 1, 'iter_4.pth'),  # rank 1 killed: torchrun ends rank 0
    # SIGTERM to the launcher, both ranks and their data workers, as a
    # scheduler sends it: every rank ends iteration 5, rank 0 saves it
    ('groupterm:5@0', 3, 'iter_5.pth'),
])
def test_killed_distributed_run_continues_exactly(dist_reference, tmp_path,
                                                  spec, status,
                                                  resumes_from):
    config, reference_dir = dist_reference
    work_dir = tmp_path / 'work'
    command = [config, 2, '--work-dir', work_dir, '--auto-resume']
    run_killed('dist_train.sh', command, spec, status)
    result = run_tool('dist_train.sh', *command, threads=1)
    folder = ckpt(work_dir, '')
    assert f'auto-resume: resuming from {folder}/{resumes_from}' in \
        result.stderr
    assert_same_training_state(ckpt(reference_dir, f'iter_{ITERS}.pth'),
                               folder / f'iter_{ITERS}.pth')


def test_stalled_rank_ends_the_run_naming_it(tmp_path):
    """Rank 1 frozen (SIGSTOP) before iteration 4: rank 0 ends the run with
    one line naming rank 1 after --dist-timeout seconds."""
    config = preemptible_config(tmp_path)
    env = dict(tool_env(1), MMGEN_ADV_TEST_KILL='stop:4@1',
               PYTHON=sys.executable)
    run = subprocess.Popen(
        ['bash', str(ROOT / 'tools/dist_train.sh'), config, '2',
         '--work-dir', str(tmp_path / 'work'), '--dist-timeout', '5'],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, start_new_session=True)
    stalled = None
    try:
        for line in run.stderr:
            if line.startswith('error: distributed training stalled'):
                stalled = line.strip()
                # the frozen rank would wait for torchrun's 30 s grace
                pid = int(re.search(r'rank 1 \(pid (\d+)', line).group(1))
                os.kill(pid, signal.SIGKILL)
                break
        status = run.wait(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert stalled is not None
    assert re.fullmatch(
        r'error: distributed training stalled: rank 1 \(pid \d+ on \S+\) '
        r'stopped responding \d+ s ago \(last seen at iteration \d\), '
        r'while rank 0 waited \d+ s at iteration 4 \(--dist-timeout 5\)',
        stalled), stalled
    assert status == 1
