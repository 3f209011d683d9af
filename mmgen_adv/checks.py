"""Checks of user settings (config keys, hook arguments).

Each raises :class:`~mmgen_adv.errors.ConfigError` with one line naming the
setting (``owner.key``), the allowed values and what was given.
"""
import math

from .errors import ConfigError


def check_choice(owner, key, value, choices):
    if value not in choices:
        raise ConfigError(
            f'{owner}.{key} must be one of {list(choices)}, got {value!r}')


def check_bool(owner, key, value):
    if not isinstance(value, bool):
        raise ConfigError(f'{owner}.{key} must be True or False, got '
                          f'{value!r}')


def check_int(owner, key, value, low=0, high=None):
    """An int (not a bool) in [low, high] (no upper bound if high is None)."""
    if isinstance(value, bool) or not isinstance(value, int) or \
            value < low or (high is not None and value > high):
        bounds = f'in [{low}, {high}]' if high is not None else f'>= {low}'
        raise ConfigError(f'{owner}.{key} must be an int {bounds}, got '
                          f'{value!r}')


def check_number(owner, key, value, low=None, high=None, low_open=False):
    """A finite real number in [low, high] (or (low, high] if low_open)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value):
        raise ConfigError(f'{owner}.{key} must be a finite number, got '
                          f'{value!r}')
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        if high is None:
            bounds = f'> {low}' if low_open else f'>= {low}'
        elif low is None:
            bounds = f'<= {high}'
        else:
            bounds = f"in {'(' if low_open else '['}{low}, {high}]"
        raise ConfigError(f'{owner}.{key} must be {bounds}, got {value!r}')
