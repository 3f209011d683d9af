"""Exceptions the tools turn into one-line messages."""


class UserInputError(Exception):
    """Bad input a user can fix (config, arguments, paths)."""


class ConfigError(UserInputError, ValueError):
    """A setting in a config is refused; raised when the model is built."""


class TrainingStopped(RuntimeError):
    """Training cannot go on; checkpoints already written are kept."""


class NonFiniteLossError(TrainingStopped):
    """A loss term became NaN or infinite."""
