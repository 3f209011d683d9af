"""The study runner: steps skipped when done, runs side by side, timing."""
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch

from mmgen_adv.errors import UserInputError
from mmgen_adv.evidence import study
from mmgen_adv.evidence.study import (Run, Step, check_study_arguments,
                                      environment, environment_line, job_env,
                                      run_all)


def touch_step(name, seconds=0.0):
    """A step that writes ``<name>.done`` (after ``seconds``)."""
    code = (f'import time, pathlib, sys; time.sleep({seconds}); '
            f"pathlib.Path(sys.argv[1], '{name}.done').write_text('x')")
    return Step(name, lambda run: [sys.executable, '-c', code, run.path],
                lambda run: (run.path / f'{name}.done').is_file())


def test_steps_run_in_order_once_and_are_timed(tmp_path):
    run = Run('a', tmp_path / 'a', [touch_step('one'), touch_step('two')],
              config_text='x = 1\n')
    logged = []
    run_all([run], log=logged.append)
    assert (run.path / 'two.done').is_file()
    assert set(run.timing()) == {'one', 'two'}
    assert (run.path / 'config.py').read_text() == 'x = 1\n'
    # interrupted after 'one': only 'two' runs again
    (run.path / 'two.done').unlink()
    logged.clear()
    run_all([run], log=logged.append)
    assert logged == ['a: two done in 0 s']
    logged.clear()
    run_all([run], log=logged.append)
    assert logged == ['a: reusing finished run']


def test_a_report_names_the_commits_its_runs_trained_at(tmp_path,
                                                        monkeypatch):
    """Runs are reused across studies and commits: every sitting that
    trains a run keeps its commit, and a report written at another commit
    says which ones its runs trained at."""
    run = Run('r', tmp_path / 'r', [touch_step('one'), touch_step('two')],
              config_text='')
    monkeypatch.setattr(study, 'current_commit', lambda: 'aaa')
    run_all([run], log=lambda _: None)
    assert run.commits() == ['aaa']
    (run.path / 'two.done').unlink()  # interrupted; continued at 'bbb'
    monkeypatch.setattr(study, 'current_commit', lambda: 'bbb')
    run_all([run], log=lambda _: None)
    (run.path / 'two.done').unlink()  # and once more at 'bbb'
    run_all([run], log=lambda _: None)
    run_all([run], log=lambda _: None)  # finished: reused, not a sitting
    assert run.commits() == ['aaa', 'bbb']
    # a run trained before commits were kept, continued at 'bbb'
    old = Run('old', tmp_path / 'old', [touch_step('one')], config_text='')
    old.path.mkdir()
    (old.path / 'timing.json').write_text('{"one": 1.0}')
    run_all([old], log=lambda _: None)
    assert old.commits() == ['not recorded', 'bbb']

    args = SimpleNamespace(device='cpu', threads=1, deterministic=True)
    env = environment(args, [run, old])
    assert env['commit'] == 'bbb'
    assert env['trained_at'] == ['aaa', 'bbb', 'not recorded']
    assert environment_line(env).endswith(
        'commit bbb (runs trained at aaa, bbb, not recorded)')
    fresh = Run('f', tmp_path / 'f', [touch_step('one')], config_text='')
    run_all([fresh], log=lambda _: None)
    env = environment(args, [fresh])
    assert env['trained_at'] == ['bbb']
    assert environment_line(env).endswith('commit bbb')
    del env['trained_at']  # a results file from before it was kept
    assert environment_line(env).endswith('commit bbb')


def test_jobs_run_side_by_side(tmp_path):
    """Two runs with jobs=2 overlap in time (each records when it ran)."""
    code = ('import time, pathlib, sys; start = time.time(); '
            'time.sleep(1.0); pathlib.Path(sys.argv[1], "span").write_text('
            'f"{start} {time.time()}")')
    step = Step('s', lambda run: [sys.executable, '-c', code, run.path],
                lambda run: (run.path / 'span').is_file())
    runs = [Run(str(i), tmp_path / str(i), [step]) for i in range(2)]
    for run in runs:
        run.path.mkdir()
    run_all(runs, jobs=2, log=lambda _: None)
    (a0, a1), (b0, b1) = [map(float, (r.path / 'span').read_text().split())
                          for r in runs]
    assert a0 < b1 and b0 < a1


def test_a_failing_step_names_its_output(tmp_path):
    fail = Step('boom', [sys.executable, '-c', 'import sys; sys.exit(3)'],
                lambda run: False)
    run = Run('r', tmp_path / 'r', [fail], config_text='')
    with pytest.raises(RuntimeError, match=r'r: step boom failed \(exit '
                       r'status 3; output in .*boom.out\)'):
        run_all([run], log=lambda _: None)


@pytest.mark.parametrize('jobs', [1, 2])
def test_every_step_trains_with_the_given_threads(tmp_path, monkeypatch,
                                                  jobs):
    """Both study tools run their steps through run_all: the intra-op
    thread count of each step is ``threads`` whatever ``jobs`` is (it is
    part of what determines a run's numbers), whatever the caller's
    environment says."""
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    monkeypatch.setenv('MKL_NUM_THREADS', '2')
    code = ('import pathlib, sys, torch; pathlib.Path(sys.argv[1], '
            "'threads').write_text(str(torch.get_num_threads()))")
    step = Step('s', lambda run: [sys.executable, '-c', code, run.path],
                lambda run: (run.path / 'threads').is_file())
    runs = [Run(f'r{i}', tmp_path / f'r{i}', [step], config_text='')
            for i in range(2)]
    run_all(runs, jobs=jobs, threads=1, log=lambda _: None)
    assert [(r.path / 'threads').read_text() for r in runs] == ['1', '1']


def test_more_threads_than_cores_are_refused():
    cores = len(os.sched_getaffinity(0))
    args = SimpleNamespace(jobs=1, threads=cores + 1, seeds=[0],
                           device='cpu')
    with pytest.raises(UserInputError, match=rf'^--threads {cores + 1} is '
                       rf'more than the {cores} cores this process may use; '
                       rf'allowed: 1 to {cores}$'):
        check_study_arguments(args)
    args.threads = cores
    check_study_arguments(args)


def test_a_folder_holding_other_settings_is_refused(tmp_path):
    Run('r', tmp_path / 'r', [], config_text='a = 1\n').prepare()
    with pytest.raises(UserInputError, match='holds a run with other '
                       'settings'):
        Run('r', tmp_path / 'r', [], config_text='a = 2\n').prepare()


def test_the_same_settings_from_another_checkout_are_the_same_run(
        tmp_path):
    """A run's config names its base by the checkout's path: a run folder
    is continued from a checkout elsewhere (then trains from that one's
    configs), and still refused for other settings."""
    text = ("# trained on cpu with 1 intra-op thread(s)\n"
            "_base_ = ['{}/configs/stacked_digits/dcgan.py']\n"
            "total_iters = 40\n")
    Run('r', tmp_path / 'r', [], config_text=text.format('/a/co')).prepare()
    moved = Run('r', tmp_path / 'r', [],
                config_text=text.format('/b/configs/elsewhere'))
    moved.prepare()
    assert moved.config.read_text() == text.format('/b/configs/elsewhere')
    for other in (text.replace('dcgan', 'sngan'),
                  text.replace('40', '80'),
                  text.replace('1 intra-op', '2 intra-op')):
        with pytest.raises(UserInputError, match='holds a run with other '
                           'settings'):
            Run('r', tmp_path / 'r', [],
                config_text=other.format('/a/co')).prepare()


def test_a_failed_sitting_counts_in_the_time(tmp_path):
    """A step that failed, then succeeded, is timed over both sittings."""
    flag = tmp_path / 'fail_once'
    flag.write_text('x')
    code = ('import pathlib, sys, time; time.sleep(0.3); '
            f"f = pathlib.Path({str(flag)!r}); "
            'sys.exit(3) if f.exists() and not f.unlink() else '
            "pathlib.Path(sys.argv[1], 'ok').write_text('x')")
    step = Step('s', lambda run: [sys.executable, '-c', code, run.path],
                lambda run: (run.path / 'ok').is_file())
    run = Run('r', tmp_path / 'r', [step], config_text='')
    with pytest.raises(RuntimeError, match='step s failed'):
        run_all([run], log=lambda _: None)
    first = run.timing()['s']
    assert first >= 0.3
    run_all([run], log=lambda _: None)
    assert run.timing()['s'] >= first + 0.3


def test_a_killed_sitting_counts_in_the_time(tmp_path):
    """A study killed while a step runs (a session ending) has recorded
    the step's time up to the last ``RECORD_INTERVAL``; the next sitting
    adds to it."""
    run_dir = tmp_path / 'r'
    study = (
        'import sys; from mmgen_adv.evidence import study; '
        'study.RECORD_INTERVAL = 0.2; '
        'step = study.Step("s", [sys.executable, "-c", '
        '"import time; time.sleep(60)"], lambda run: False); '
        f'study.run_all([study.Run("r", {str(run_dir)!r}, [step], '
        'config_text="")])')
    process = subprocess.Popen([sys.executable, '-c', study],
                               env=job_env(1, 'cpu'),
                               start_new_session=True)
    try:
        deadline = time.time() + 30
        while (Run('r', run_dir, []).timing().get('s', 0) < 1.0
               and time.time() < deadline):
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the study and its step
        process.wait()
    killed = Run('r', run_dir, []).timing()['s']
    assert 1.0 <= killed < 60
    run = Run('r', run_dir, [touch_step('s', seconds=0.3)], config_text='')
    run_all([run], log=lambda _: None)
    assert run.timing()['s'] >= killed + 0.3


def test_the_time_is_never_read_half_written(tmp_path):
    """The study records a running step's time while others (the test
    above, a second study sitting) read it: a reader must always meet a
    whole file, never a truncated one."""
    writer = subprocess.Popen([
        sys.executable, '-c',
        'from mmgen_adv.evidence.study import Run; '
        f'run = Run("r", {str(tmp_path)!r}, []); '
        '[run._record("s", 0.001) for _ in range(500)]'
    ], env=job_env(1, 'cpu'))
    run, reads = Run('r', tmp_path, []), 0
    try:
        while writer.poll() is None:
            run.timing()  # raised JSONDecodeError on a half-written file
            reads += 1
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == 0 and reads > 0
    assert run.timing()['s'] == pytest.approx(0.5)
    assert [p.name for p in tmp_path.iterdir()] == ['timing.json']


def test_device_cuda_without_a_gpu_is_refused(monkeypatch):
    """Otherwise every run of a GPU study would train on the CPU, at the
    GPU's 20k-iteration budget, without a word."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    args = SimpleNamespace(jobs=2, threads=1, seeds=[0, 1], device='cuda')
    with pytest.raises(UserInputError, match=r'^--device cuda: no GPU is '
                       r'visible here \(torch.cuda.is_available\(\) is '
                       r'False\); use --device cpu$'):
        check_study_arguments(args)
    args.device = 'cpu'
    check_study_arguments(args)
