"""Checkpoint files (reading, fitting, atomic writing, finding the newest
complete one) and the work dir (one run at a time, no silent overwrite)."""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from mmgen.models import build_model

from mmgen_adv.errors import UserInputError
from mmgen_adv.runs.checkpoints import (CheckpointError, check_fits,
                                        list_checkpoints, load_weights,
                                        newest_complete, point_latest,
                                        read_checkpoint, save_atomically,
                                        state_dict_mismatch)
from mmgen_adv.runs.workdir import WorkDirLock, carry_out, plan_start

from conftest import ROOT, tool_env


def tiny_gan(base_channels=16):
    return build_model(dict(
        type='StaticUnconditionalGAN',
        generator=dict(type='DCGANGenerator', output_scale=16,
                       base_channels=base_channels),
        discriminator=dict(type='DCGANDiscriminator', input_scale=16,
                           output_scale=4, out_channels=1),
        gan_loss=dict(type='GANLoss', gan_type='vanilla')))


def training_checkpoint(path, model=None, iteration=3):
    model = model or tiny_gan()
    torch.save(dict(state_dict=model.state_dict(),
                    optimizer=dict(generator={}),
                    meta=dict(iter=iteration, epoch=1, seed=0)), path)
    return str(path)


class CodeRunner:
    """Unpickling this calls os.system: what safe loading must refuse."""

    def __reduce__(self):
        return (os.system, ('echo pwned',))


# -- reading -------------------------------------------------------------
def test_unsafe_pickle_is_refused_naming_the_global(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, payload=CodeRunner()), path)
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(str(path), '--resume-from')
    message = str(err.value)
    assert message.startswith(f"--resume-from '{path}' cannot be used: it "
                              "asks to load the global 'posix.system', "
                              'which safe loading refuses')
    assert 'weights_only' not in message and '\n' not in message


@pytest.mark.parametrize('content, reason', [
    (None, 'it is truncated or not a PyTorch file'),  # half a checkpoint
    (b'', 'it is empty'),
    (b'hello, not a checkpoint', 'it is not a PyTorch checkpoint'),
])
def test_unreadable_files_are_one_line(tmp_path, content, reason):
    path = tmp_path / 'bad.pth'
    if content is None:
        data = Path(training_checkpoint(tmp_path / 'good.pth')).read_bytes()
        content = data[:len(data) // 2]
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(str(path))
    assert f"checkpoint '{path}' cannot be used: {reason}" in str(err.value)
    assert '\n' not in str(err.value)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="load_from '.*nope.pth' does "
                       'not exist'):
        read_checkpoint(str(tmp_path / 'nope.pth'), 'load_from')
    torch.save([1, 2], tmp_path / 'list.pth')
    with pytest.raises(CheckpointError, match='holds a list, not a dict'):
        read_checkpoint(str(tmp_path / 'list.pth'))
    torch.save(dict(weights=1), tmp_path / 'dict.pth')
    with pytest.raises(CheckpointError, match="has no 'state_dict'"):
        read_checkpoint(str(tmp_path / 'dict.pth'))
    # a bare state dict (torch.save(model.state_dict())) is weights
    torch.save(tiny_gan().state_dict(), tmp_path / 'bare.pth')
    assert 'generator.noise2feat.conv.weight' in read_checkpoint(
        str(tmp_path / 'bare.pth'), lazy=True)['state_dict']


# -- fitting -------------------------------------------------------------
def test_another_architecture_names_the_first_difference(tmp_path):
    path = training_checkpoint(tmp_path / 'wide.pth', tiny_gan(32))
    model = tiny_gan(16)
    with pytest.raises(CheckpointError) as err:
        check_fits(model, read_checkpoint(path, lazy=True), path, 'load_from')
    assert str(err.value) == (
        f"load_from '{path}' does not fit the config's model: "
        "'generator.noise2feat.conv.weight' is (100, 32, 4, 4) in the "
        'checkpoint and (100, 16, 4, 4) in the model (StaticUnconditionalGAN'
        ', 10 more differences)')
    state = model.state_dict()
    extra = dict(state, **{'discriminator.head.weight': torch.ones(3)})
    del extra['generator.noise2feat.conv.weight']
    assert state_dict_mismatch(state, extra) == [
        "'generator.noise2feat.conv.weight' (100, 16, 4, 4) is in the model "
        'but not in the checkpoint',
        "'discriminator.head.weight' (3,) is in the checkpoint but not in "
        'the model'
    ]


def test_partial_load_is_explicit_and_reported(tmp_path):
    donor = tiny_gan(32)
    path = training_checkpoint(tmp_path / 'wide.pth', donor)
    model = tiny_gan(16)
    with pytest.raises(CheckpointError):
        load_weights(model, path)
    messages = []

    class Log:
        warning = messages.append

    load_weights(model, path, partial=True, logger=Log)
    assert len(messages) == 1 and messages[0].startswith(
        f"partial load of '{path}': ")
    assert '11 not:' in messages[0]
    # the discriminator has the same shapes in both: it was loaded
    for key, value in model.state_dict().items():
        if key.startswith('discriminator.'):
            assert torch.equal(value, donor.state_dict()[key])


# -- writing -------------------------------------------------------------
def test_interrupted_write_leaves_the_old_file(tmp_path):
    path = tmp_path / 'iter_3.pth'
    path.write_text('old, complete')

    def half_then_die(temporary):
        Path(temporary).write_text('new, half')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_atomically(half_then_die, str(path))
    assert path.read_text() == 'old, complete'
    assert os.listdir(tmp_path) == ['iter_3.pth']  # no temporary left
    save_atomically(lambda t: Path(t).write_text('new'), str(path))
    assert path.read_text() == 'new'


def test_latest_is_replaced_never_missing(tmp_path):
    for name in ('iter_3.pth', 'iter_6.pth'):
        (tmp_path / name).write_text(name)
    point_latest(str(tmp_path), 'iter_3.pth')
    point_latest(str(tmp_path), 'iter_6.pth')
    latest = tmp_path / 'latest.pth'
    assert latest.is_symlink() and os.readlink(latest) == 'iter_6.pth'
    point_latest(str(tmp_path), 'iter_3.pth', use_symlink=False)
    assert not latest.is_symlink() and latest.read_text() == 'iter_3.pth'
    assert sorted(os.listdir(tmp_path)) == ['iter_3.pth', 'iter_6.pth',
                                            'latest.pth']


# -- finding -------------------------------------------------------------
def test_newest_complete_skips_torn_files_without_touching_them(tmp_path):
    training_checkpoint(tmp_path / 'iter_3.pth', iteration=3)
    good = Path(training_checkpoint(tmp_path / 'iter_6.pth', iteration=6))
    torn = tmp_path / 'iter_9.pth'
    torn.write_bytes(good.read_bytes()[:1000])
    torch.save(dict(state_dict={}), tmp_path / 'iter_12.pth')  # weights only
    (tmp_path / '.iter_15.pth.123.tmp').write_bytes(b'partial')
    assert [it for it, _ in list_checkpoints(str(tmp_path))] == [12, 9, 6, 3]
    path, unreadable = newest_complete(str(tmp_path))
    assert path == str(good)
    assert [p for p, _ in unreadable] == [str(tmp_path / 'iter_12.pth'),
                                          str(torn)]
    assert 'not a training state' in unreadable[0][1]
    assert 'truncated' in unreadable[1][1]
    assert torn.stat().st_size == 1000  # neither loaded nor deleted


def test_start_plans(tmp_path):
    folder = tmp_path / 'ckpt'
    empty = plan_start(str(folder), auto_resume=True)
    assert empty.resume_from is None and empty.notes == [
        f'auto-resume: no complete checkpoint in {folder}, starting a new run'
    ]
    folder.mkdir()
    for it in (3, 6):
        training_checkpoint(folder / f'iter_{it}.pth', iteration=it)
    point_latest(str(folder), 'iter_6.pth')
    (folder / '.iter_9.pth.99.tmp').write_bytes(b'x')
    # a new run would overwrite the earlier run's checkpoints
    with pytest.raises(UserInputError, match='work dir holds checkpoints of '
                       r'an earlier run .* \(iter_6.pth, iter_3.pth\); '
                       'continue it with --auto-resume'):
        plan_start(str(folder))
    # resuming from an earlier point would replace the later ones
    with pytest.raises(UserInputError, match=r'after iteration 3 '
                       r'\(iter_6.pth\), which the resumed run would '
                       'replace'):
        plan_start(str(folder), resume_from=str(folder / 'iter_3.pth'))
    auto = plan_start(str(folder), auto_resume=True)
    assert auto.resume_from == str(folder / 'iter_6.pth')
    assert auto.delete == [str(folder / '.iter_9.pth.99.tmp')]
    with pytest.raises(UserInputError, match='choose one'):
        plan_start(str(folder), auto_resume=True, overwrite=True)
    rewind = plan_start(str(folder), resume_from=str(folder / 'iter_3.pth'),
                        overwrite=True)
    assert rewind.delete[1:] == [str(folder / 'iter_6.pth'),
                                 str(folder / 'latest.pth')]
    logged = []

    class Log:
        info = warning = logged.append

    carry_out(rewind, Log)
    assert sorted(os.listdir(folder)) == ['iter_3.pth']
    assert any('--overwrite: deleting iter_6.pth, latest.pth' in line
               for line in logged)


# -- the lock --------------------------------------------------------------
HOLD_LOCK = textwrap.dedent('''
    import sys, time
    from mmgen_adv.runs.workdir import WorkDirLock
    WorkDirLock(sys.argv[1]).acquire()
    print('locked', flush=True)
    time.sleep(600)
''')


def test_lock_refuses_a_second_run_and_dies_with_its_holder(tmp_path):
    work_dir = str(tmp_path / 'work')
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLD_LOCK, work_dir], cwd=ROOT,
        env=tool_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        with pytest.raises(UserInputError) as err:
            WorkDirLock(work_dir).acquire()
        assert str(err.value).startswith(
            f"work dir '{work_dir}' is in use by another training run (pid "
            f'{holder.pid} on ')
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # killed, the holder leaves no stale lock (the file stays)
    lock = WorkDirLock(work_dir).acquire()
    lock.release()
    assert os.path.isfile(os.path.join(work_dir, '.lock'))
