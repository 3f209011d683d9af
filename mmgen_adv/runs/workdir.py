"""Who may write into a work dir: one live run at a time (a lock), and a run
never silently replaces another run's checkpoints."""
import errno
import fcntl
import os
import os.path as osp
import socket
import time
from dataclasses import dataclass, field

from ..errors import UserInputError
from .checkpoints import (leftover_temporary_files, list_checkpoints,
                          newest_complete, read_checkpoint)

LOCK_NAME = '.lock'


class WorkDirLock:
    """An exclusive lock on ``work_dir`` for the life of this process.

    ``flock`` on ``work_dir/.lock``: the kernel releases it when the process
    ends, however it ends, so a killed run never leaves a stale lock (the
    file stays; it is not the lock). The file holds the holder's pid, host
    and start time for the refusal message.
    """

    def __init__(self, work_dir):
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self._fd = None

    def acquire(self):
        """Take the lock, or raise :class:`UserInputError` naming the run
        that holds it."""
        os.makedirs(self.work_dir, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = os.read(fd, 200).decode(errors='replace').strip()
            os.close(fd)
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise UserInputError(
                f"work dir '{self.work_dir}' is in use by another training "
                f"run ({holder or 'holder unknown'}); wait for it to end or "
                'choose another --work-dir') from None
        os.ftruncate(fd, 0)
        os.write(fd, (f'pid {os.getpid()} on {socket.gethostname()} since '
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n").encode())
        self._fd = fd
        return self

    def release(self):
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


@dataclass
class StartPlan:
    """How a run starts in its work dir.

    Attributes:
        resume_from (str | None): The checkpoint to resume from.
        delete (list[str]): Files to delete once the run holds the work dir
            (``--overwrite``; an interrupted save's temporary files).
        notes (list[str]): Lines for the log (what auto-resume chose).
        warnings (list[str]): Lines for the log (unreadable checkpoints).
    """
    resume_from: str = None
    delete: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def _names(paths, limit=3):
    names = [osp.basename(p) for p in paths]
    return ', '.join(names[:limit]) + (', ...' if len(names) > limit else '')


def _latest_link(folder, deleted):
    """``latest.pth`` when it names one of ``deleted`` (or nothing)."""
    link = osp.join(folder, 'latest.pth')
    if not osp.lexists(link):
        return []
    target = osp.realpath(link)
    gone = {osp.realpath(p) for p in deleted}
    return [link] if target in gone or not osp.exists(link) else []


def plan_start(folder, filename_tmpl='iter_{}.pth', resume_from=None,
               auto_resume=False, overwrite=False):
    """Decide how a run starts, given the checkpoints in ``folder`` (where
    this run's checkpoint hook writes); reads files, writes nothing.

    * ``auto_resume``: the newest checkpoint that loads, else a new run;
      unreadable files are named in ``warnings`` and left alone.
    * ``resume_from``: that checkpoint; refused if the folder holds later
      checkpoints (this run would replace them, and a later auto-resume
      could pick them up) unless ``overwrite`` (they are deleted).
    * neither: refused if the folder holds checkpoints, unless
      ``overwrite`` (they are deleted).

    Raises:
        UserInputError: The start would replace another run's
            checkpoints; or the options contradict each other.
    """
    if auto_resume and resume_from:
        raise UserInputError('--auto-resume picks the checkpoint itself; '
                             'drop --resume-from (or --auto-resume)')
    if auto_resume and overwrite:
        raise UserInputError('--auto-resume continues the run in the work '
                             'dir, --overwrite deletes it: choose one')
    plan = StartPlan()
    existing = list_checkpoints(folder, filename_tmpl)
    temporaries = leftover_temporary_files(folder)
    if temporaries:
        plan.delete += temporaries
        plan.notes.append('removing what an interrupted save left: '
                          f'{_names(temporaries)}')
    if auto_resume:
        path, unreadable = newest_complete(folder, filename_tmpl)
        plan.warnings += [
            f'auto-resume skips {p}: {reason}' for p, reason in unreadable
        ]
        plan.resume_from = path
        plan.notes.append(
            f'auto-resume: resuming from {path}' if path else
            f'auto-resume: no complete checkpoint in {folder}, starting a '
            'new run')
        return plan
    if resume_from:
        iteration = read_checkpoint(resume_from, '--resume-from',
                                    lazy=True).get('meta', {}).get('iter')
        later = [p for it, p in existing
                 if iteration is not None and it > iteration]
        if later and not overwrite:
            raise UserInputError(
                f"work dir checkpoints folder '{folder}' holds checkpoints "
                f'after iteration {iteration} ({_names(later)}), which the '
                'resumed run would replace; move them away, or pass '
                '--overwrite to delete them')
        plan.resume_from = resume_from
        later += _latest_link(folder, later)
    else:
        later = [p for _, p in existing]
        if later and not overwrite:
            raise UserInputError(
                f"work dir holds checkpoints of an earlier run in '{folder}' "
                f'({_names(later)}); continue it with --auto-resume (or '
                '--resume-from), or pass --overwrite to delete them and '
                'start a new run')
        later += _latest_link(folder, later)
    if later:
        plan.delete += later
        plan.notes.append(f'--overwrite: deleting {_names(later, 10)} in '
                          f'{folder}')
    return plan


def carry_out(plan, logger):
    """Log the plan and delete what it says (after the lock is held)."""
    for line in plan.warnings:
        logger.warning(line)
    for line in plan.notes:
        logger.info(line)
    for path in plan.delete:
        if osp.lexists(path):
            os.remove(path)
