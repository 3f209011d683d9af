"""The regularizers' own registry, and ``adv_cfg`` checked against it.

A regularizer is registered where it is defined
(``@REGULARIZERS.register_module()``) and selected by ``adv_cfg=dict(
type=NAME, **options)``; its options are its ``__init__`` arguments. Both
the config check before a run (:mod:`mmgen_adv.runs.config_keys`) and the
model build refuse a bad ``adv_cfg`` through :func:`check_adv_cfg`.
"""
import difflib
import inspect

from mmengine.registry import Registry

from ...errors import ConfigError

REGULARIZERS = Registry('adversarial regularizer')


def options_of(cls):
    """The ``adv_cfg`` keys a regularizer class takes."""
    params = inspect.signature(cls.__init__).parameters
    return [name for name in params if name != 'self']


def check_adv_cfg(adv_cfg, where='adv_cfg'):
    """Refuse an ``adv_cfg`` that names no registered regularizer or a key
    its regularizer does not take, in one line naming the key and the
    allowed values. Returns the regularizer class."""
    names = sorted(REGULARIZERS.module_dict)
    if not isinstance(adv_cfg, dict) or 'type' not in adv_cfg:
        raise ConfigError(f'{where} must be a dict with a type, one of '
                          f'{names}; got {adv_cfg!r}')
    cls = REGULARIZERS.get(adv_cfg['type'])
    if cls is None:
        close = difflib.get_close_matches(str(adv_cfg['type']), names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ''
        raise ConfigError(f"{where}.type {adv_cfg['type']!r} is not one of "
                          f'{names}{hint} (a regularizer of your own needs '
                          'its module in custom_imports)')
    allowed = options_of(cls)
    for key in adv_cfg:
        if key == 'type' or key in allowed:
            continue
        others = [name for name in names
                  if key in options_of(REGULARIZERS.get(name))]
        hint = f" ({key} is an option of {', '.join(others)})" if others \
            else ''
        close = difflib.get_close_matches(key, allowed, n=1)
        if close and not others:
            hint = f"; did you mean '{close[0]}'?"
        raise ConfigError(f'{where}.{key} is not an option of '
                          f"{adv_cfg['type']}; allowed: {allowed}{hint}")
    return cls


def unbound_regularizer(adv_cfg, where='adv_cfg'):
    """The regularizer of ``adv_cfg``, its keys and values checked, not yet
    bound to a model (what a tool checks before a run)."""
    cls = check_adv_cfg(adv_cfg, where)
    return cls(**{k: v for k, v in adv_cfg.items() if k != 'type'})


def build_regularizer(adv_cfg, host):
    """The regularizer of ``adv_cfg``, checked and bound to the model behind
    ``host`` (a :class:`~mmgen_adv.methods.host.DiscHost`)."""
    regularizer = unbound_regularizer(adv_cfg)
    regularizer.bind(host)
    return regularizer
