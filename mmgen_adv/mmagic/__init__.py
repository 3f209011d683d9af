"""The host of the methods in MMagic 1.x (its own environment:
``./setup.sh --host mmagic``). ``import mmgen_adv.mmagic`` (a config's
``custom_imports``) makes MMagic run on the pinned stack (``compat``) and
registers the adversarially trained GANs and SSGAN in
``mmagic.registry.MODELS`` (``models``, ``architectures``); their D update
reaches MMagic through ``host``."""
from . import compat

compat.apply()

from . import (architectures, evaluation, hooks, models,  # noqa: E402,F401
               stacked_digits)  # (registries)
from .host import MMagicHost  # noqa: E402

__all__ = [
    'MMagicHost', 'architectures', 'compat', 'evaluation', 'hooks', 'models',
    'stacked_digits'
]
