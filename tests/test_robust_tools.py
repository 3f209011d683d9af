"""tools/robgan_finetune.py and tools/robust_eval.py end to end, on the
bundled digits (the README's offline Rob-GAN evidence, in miniature)."""
import csv
import json

import cv2
import pytest
import torch

from conftest import DEVICES, ROOT, run_tool

CONFIG = str(ROOT / 'configs/robgan/robgan_digits.py')
SMALL = ['--cfg-options', 'model.generator.base_channels=16',
         'model.discriminator.base_channels=16']


@pytest.fixture(scope='module', params=DEVICES)
def device(request):
    """Every test here runs the tools on the CPU, and on the GPU (the CUDA
    tier)."""
    return request.param


@pytest.fixture(scope='module')
def gan_checkpoint(tmp_path_factory, device):
    work = tmp_path_factory.mktemp('robgan')
    run_tool('train.py', CONFIG, '--work-dir', work, *SMALL,
             'total_iters=3', 'data.samples_per_gpu=8', device=device)
    return str(work / 'ckpt' / work.name / 'latest.pth')


@pytest.fixture(scope='module')
def finetuned(gan_checkpoint, tmp_path_factory, device):
    rob = tmp_path_factory.mktemp('finetune')
    madry = tmp_path_factory.mktemp('madry')
    common = ['--iters', 4, '--batch-size', 8, '--eps', 2, '--log-interval',
              2, *SMALL]
    run_tool('robgan_finetune.py', CONFIG, gan_checkpoint, '--work-dir', rob,
             '--lam', 0.3, *common, device=device)
    run_tool('robgan_finetune.py', CONFIG, '--from-scratch', '--work-dir',
             madry, *common, device=device)
    return rob, madry


def test_finetune_writes_a_checkpoint_and_log(finetuned, gan_checkpoint):
    rob, madry = finetuned
    for work, stage in ((rob, 'robgan_finetune'), (madry, 'madry')):
        ckpt = torch.load(work / 'finetuned.pth', map_location='cpu')
        assert ckpt['meta']['finetune']['stage'] == stage
        log = [json.loads(line) for line in
               (work / 'finetune_log.json').read_text().splitlines()]
        assert [entry['iter'] for entry in log] == [2, 4]
    gan = torch.load(gan_checkpoint, map_location='cpu')['state_dict']
    tuned = torch.load(rob / 'finetuned.pth',
                       map_location='cpu')['state_dict']
    # the discriminator was trained, the generator kept
    assert not torch.equal(gan['discriminator.aux_head.weight'],
                           tuned['discriminator.aux_head.weight'])
    gen_keys = [k for k in gan if k.startswith('generator.')]
    assert gen_keys and all(torch.equal(gan[k], tuned[k]) for k in gen_keys)


def test_robust_eval_table_csv_and_plot(finetuned, tmp_path, device):
    rob, madry = finetuned
    result = run_tool('robust_eval.py', CONFIG, '--checkpoint',
                      f'robgan={rob}/finetuned.pth',
                      f'madry={madry}/finetuned.pth', '--out-dir', tmp_path,
                      '--eps-grid', 0, 4, '--steps', 3, '--num-images', 20,
                      '--batch-size', 10, *SMALL, device=device)
    assert '| eps (gray levels) | eps ([-1, 1]) | robgan | madry |' in \
        result.stdout
    rows = list(csv.reader(open(tmp_path / 'robust_accuracy.csv')))
    assert rows[0] == ['eps_gray_levels', 'eps_input_scale', 'robgan',
                       'madry']
    assert [float(r[0]) for r in rows[1:]] == [0.0, 4.0]
    for row in rows[1:]:
        assert all(0.0 <= float(v) <= 1.0 for v in row[2:])
    data = json.loads((tmp_path / 'robust_accuracy.json').read_text())
    assert data['num_images'] == 20 and data['steps'] == 3
    png = cv2.imread(str(tmp_path / 'robust_accuracy.png'))
    assert png.shape == (420, 600, 3)


def test_finetune_refuses_bad_input(tmp_path, gan_checkpoint, device):
    result = run_tool('robgan_finetune.py', CONFIG, '--work-dir', tmp_path,
                      check=False, device=device)
    assert result.returncode == 2
    assert 'or --from-scratch' in result.stderr.splitlines()[-1]
    result = run_tool('robgan_finetune.py',
                      str(ROOT / 'configs/dat/sngan_cifar10.py'),
                      '--from-scratch', '--work-dir', tmp_path, check=False,
                      device=device)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert 'data.train.data_prefix' in last or 'class head' in last
    result = run_tool('robust_eval.py', CONFIG, '--checkpoint', 'x.pth',
                      '--out-dir', tmp_path, check=False, device=device)
    assert result.returncode == 2
    assert "--checkpoint takes NAME=PATH, got 'x.pth'" in result.stderr
    # a checkpoint of another network (16 channels; the config says 32) is
    # refused, not half loaded
    for tool, args in (('robust_eval.py', ['--checkpoint',
                                           f'gan={gan_checkpoint}',
                                           '--out-dir', tmp_path / 'e']),
                       ('robgan_finetune.py', [gan_checkpoint, '--work-dir',
                                               tmp_path / 'f'])):
        result = run_tool(tool, CONFIG, *args, check=False, device=device)
        assert result.returncode == 2, result.stderr
        assert f"checkpoint '{gan_checkpoint}' does not fit the config's " \
            'model: ' in result.stderr.splitlines()[-1]
        assert not (tmp_path / 'f' / 'finetuned.pth').exists()


def test_truncated_checkpoint_is_named_as_such(gan_checkpoint, tmp_path,
                                               capsys):
    """Not 'does not fit the model': the file is broken, and says so."""
    import importlib.util
    from pathlib import Path
    torn = tmp_path / 'torn.pth'
    torn.write_bytes(Path(gan_checkpoint).read_bytes()[:4096])
    for tool, args in (('robust_eval.py', ['--checkpoint', f'gan={torn}',
                                           '--out-dir', tmp_path / 'e']),
                       ('robgan_finetune.py', [torn, '--work-dir',
                                               tmp_path / 'f'])):
        spec = importlib.util.spec_from_file_location(
            tool[:-3], ROOT / 'tools' / tool)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with pytest.raises(SystemExit) as stop:
            module.main([CONFIG, *map(str, args), *SMALL])
        assert stop.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            f"error: checkpoint '{torn}' cannot be used: it is truncated or "
            'not a PyTorch file (a copy or a save that did not finish)')
    assert not (tmp_path / 'e').exists() and not (tmp_path / 'f').exists()


def test_finetune_stops_on_sigterm_and_resumes_exactly(gan_checkpoint,
                                                       tmp_path):
    """Checkpoints every 2 steps; SIGTERM once the first is written: the
    run ends its step with a checkpoint (exit 3), and the same command with
    --auto-resume ends where an uninterrupted run does."""
    import signal
    import subprocess
    import sys

    from conftest import tool_env
    common = [CONFIG, gan_checkpoint, '--iters', 8, '--batch-size', 8,
              '--eps', 2, '--log-interval', 1, '--checkpoint-interval', 2,
              '--lam', 0.3, *SMALL]
    run_tool('robgan_finetune.py', *common[:2], '--work-dir',
             tmp_path / 'ref', *common[2:], threads=1)
    command = [sys.executable, str(ROOT / 'tools/robgan_finetune.py'),
               *map(str, common[:2]), '--work-dir', str(tmp_path / 'run'),
               *map(str, common[2:]), '--auto-resume']
    run = subprocess.Popen(command, env=tool_env(1), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    for line in run.stdout:
        if line.startswith('checkpoint written to') and 'iter_2' in line:
            run.send_signal(signal.SIGTERM)
            break
    assert run.wait(timeout=300) == 3
    last = run.stderr.read().strip().splitlines()[-1]
    assert last.startswith('stopped: stopped by SIGTERM after step ')
    assert not (tmp_path / 'run' / 'finetuned.pth').exists()
    result = subprocess.run(command, env=tool_env(1), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'auto-resume: resuming from' in result.stdout
    reference, resumed = (
        torch.load(tmp_path / name / 'finetuned.pth',
                   map_location='cpu')['state_dict'] for name in ('ref', 'run'))
    assert all(torch.equal(reference[k], resumed[k]) for k in reference)
    logs = [[json.loads(line)['loss'] for line in
             (tmp_path / name / 'finetune_log.json').read_text().splitlines()]
            for name in ('ref', 'run')]
    assert logs[0] == logs[1] and len(logs[0]) == 8
    assert not list((tmp_path / 'run').glob('.*.tmp'))


def test_benchmark_robust_quick_compares_over_seeds(tmp_path):
    result = run_tool('benchmark_robust.py', '--quick', '--jobs', 2,
                      '--work-dir', tmp_path)
    assert 'Rob-GAN vs madry_updates: eps 0 ' in result.stdout
    data = json.loads((tmp_path / 'results_robust.json').read_text())
    env = data['environment']
    assert env['trained_at'] == [env['commit']]  # trained here, just now
    results = data['results']
    assert results['eps_grid'] == [0, 4] and results['seeds'] == [0, 1]
    # per seed, the table's values are robust_eval's
    for i, seed in enumerate((0, 1)):
        found = json.loads((tmp_path / f'seed{seed}' / 'eval' /
                            'robust_accuracy.json').read_text())
        for model, entry in results['models'].items():
            assert [v[i] for v in entry['values']] == [
                found['accuracy'][model]['0.0'],
                found['accuracy'][model]['4.0']]
    # the equal-time baseline ran the steps its budget allowed
    for seed, steps in results['madry_time_steps'].items():
        log = (tmp_path / f'seed{seed}' / 'madry_time' /
               'finetune_log.json').read_text().splitlines()
        assert json.loads(log[-1])['iter'] == steps >= 1
        timing = results['seconds'][seed]
        per_step = timing['madry_updates'] / 6
        assert steps == max(1, round(
            (timing['gan'] + timing['finetune']) / per_step))
    diffs = results['robgan_vs_madry_updates'][1]['diffs']
    robgan, madry = (results['models'][m]['values'][1]
                     for m in ('robgan', 'madry_updates'))
    assert diffs == pytest.approx([r - m for r, m in zip(robgan, madry)])
    assert (tmp_path / 'robust.png').stat().st_size > 5000
    # a CPU study (CUDA hidden from its jobs) trains on the CPU
    assert 'training on cpu' in (tmp_path / 'seed0' /
                                 'madry_updates.out').read_text()
    again = run_tool('benchmark_robust.py', '--quick', '--work-dir',
                     tmp_path)
    assert again.stdout.count('reusing finished run') == 2


@pytest.mark.cuda
def test_benchmark_robust_quick_on_the_gpu(tmp_path):
    run_tool('benchmark_robust.py', '--quick', '--device', 'cuda', '--jobs',
             2, '--work-dir', tmp_path, device='cuda')
    for seed in (0, 1):
        out = (tmp_path / f'seed{seed}' / 'gan.out').read_text()
        assert 'CUDA available: True' in out
        for step in ('finetune', 'madry_updates', 'madry_time'):
            out = (tmp_path / f'seed{seed}' / f'{step}.out').read_text()
            assert 'training on cuda' in out, step
    assert (tmp_path / 'results_robust.json').is_file()
