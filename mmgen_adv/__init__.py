"""mmgen_adv: adversarial training of GAN discriminators for MMGeneration.

Three layers, a folder each:

* ``methods/``: the algorithms, independent of the toolbox (attacks,
  regularizers, the D update they make, SSGAN's task, Rob-GAN's robust
  classifier), and ``models/``: their host in mmgen (the host adapter, the
  models and discriminators registered in mmgen, the methods' hooks);
* ``runs/``: training runs made safe around the toolbox (compat with the
  pinned PyTorch, config and data checks, checkpoints, the work dir, the
  hooks that make runs exact and stoppable, the command-line conventions);
* ``evidence/``: what the claims are measured with (offline datasets and
  metrics, studies over seeds, their statistics, evaluation).

Two hosts, one environment each (their mmcv majors share one import name):

* mmgen 0.7.3: importing the package makes mmgen work on the pinned PyTorch
  (see :mod:`mmgen_adv.runs.compat`) and registers everything it provides
  into mmgen's and mmcv's registries, so a config only needs
  ``custom_imports = dict(imports=['mmgen_adv'], allow_failed_imports=False)``;
* MMagic 1.x: ``import mmgen_adv.mmagic`` (its configs' ``custom_imports``)
  does the same for MMagic; there the package itself imports only the
  methods' registry.
"""
import importlib.util
import warnings

from .version import __version__

if importlib.util.find_spec('mmgen') is not None:
    # mmcv 1.7 announces its 2.0 renaming on import; irrelevant to this pin
    warnings.filterwarnings(
        'ignore', message='On January 1, 2023, MMCV', category=UserWarning)

    from .runs import compat

    compat.apply()

    from . import evidence, models  # noqa: F401 (registries)
    from .runs import hooks  # noqa: F401 (registries)

__all__ = ['__version__']
