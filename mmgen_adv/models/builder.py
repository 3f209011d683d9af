"""Registry and builder of the adversarial regularizers in ``adv_cfg``."""
import inspect

from mmcv.utils import Registry

from ..errors import ConfigError

ADV_REGULARIZERS = Registry('adversarial regularizer')


def _options(cls):
    params = inspect.signature(cls.__init__).parameters
    return [name for name in params if name != 'self']


def build_adv_regularizer(adv_cfg, model):
    """Build ``adv_cfg`` for ``model``; refuse anything wrong with a message
    naming the key and the allowed values."""
    if not isinstance(adv_cfg, dict) or 'type' not in adv_cfg:
        raise ConfigError(
            f'adv_cfg must be a dict with a type, one of '
            f'{sorted(ADV_REGULARIZERS.module_dict)}; got {adv_cfg!r}')
    options = dict(adv_cfg)
    name = options.pop('type')
    cls = ADV_REGULARIZERS.get(name)
    if cls is None:
        raise ConfigError(f'adv_cfg.type {name!r} is not one of '
                          f'{sorted(ADV_REGULARIZERS.module_dict)}')
    allowed = _options(cls)
    for key in options:
        if key not in allowed:
            hint = cls.key_hints.get(key, '')
            raise ConfigError(
                f'adv_cfg.{key} is not an option of {name}; allowed: '
                f'{allowed}{" (" + hint + ")" if hint else ""}')
    regularizer = cls(**options)
    regularizer.bind(model)
    return regularizer
