"""mmgen_adv: adversarial training of GAN discriminators for MMGeneration.

Importing the package makes mmgen 0.7.3 work on the pinned PyTorch (see
:mod:`mmgen_adv.compat`) and registers everything it provides into mmgen's
and mmcv's registries, so a config only needs
``custom_imports = dict(imports=['mmgen_adv'], allow_failed_imports=False)``.
"""
import warnings

# mmcv 1.7 announces its 2.0 renaming on import; irrelevant to this pin
warnings.filterwarnings(
    'ignore', message='On January 1, 2023, MMCV', category=UserWarning)

from . import compat  # noqa: E402

compat.apply()

from . import datasets, hooks, metrics, models  # noqa: E402,F401 (registry)
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'compat']
