"""Exceptions the tools turn into one-line messages, and their exit statuses.

Exit statuses of ``tools/train.py`` (and ``tools/dist_train.sh``):

* 0: training finished;
* 1: training stopped (:class:`TrainingStopped`: a non-finite loss, a
  stalled distributed rank); the checkpoints already written are kept;
* 2: bad input (:class:`UserInputError`), refused before anything is
  written;
* 3: stopped by SIGTERM or SIGINT (:class:`TrainingInterrupted`) after a
  checkpoint of the last finished iteration was written; the same command
  with ``--auto-resume`` continues exactly.
"""

EXIT_STOPPED = 1
EXIT_INPUT_ERROR = 2
EXIT_INTERRUPTED = 3


class UserInputError(Exception):
    """Bad input a user can fix (config, arguments, paths)."""


class ConfigError(UserInputError, ValueError):
    """A setting in a config is refused; raised when the model is built."""


class TrainingStopped(RuntimeError):
    """Training cannot go on; checkpoints already written are kept."""

    exit_status = EXIT_STOPPED


class NonFiniteLossError(TrainingStopped):
    """A loss term became NaN or infinite."""


class TrainingInterrupted(TrainingStopped):
    """A signal asked training to stop; a checkpoint was written first."""

    exit_status = EXIT_INTERRUPTED
