"""Fixes that make MMGeneration 0.7.3 (with mmcv-full 1.7.2) run on PyTorch
2.13.

Everything here is applied once by :func:`apply` when ``mmgen_adv`` is
imported; calling it again changes nothing. Each fix keeps the object it
replaces in :data:`ORIGINALS`, so tests can show the fix is still needed.

The fixes, in the order they are applied:

* ``missing_ada``: the 0.7.3 sdist ships without the package
  ``mmgen/models/architectures/stylegan/ada`` (it has no ``__init__.py`` in
  the toolbox's git tree, so packaging skipped it) and ``import mmgen.models``
  fails. A stand-in package is registered; StyleGAN2 works, and asking for
  ADA raises a clear error.
* ``get_stream``: mmcv's scatter calls ``torch.nn.parallel._functions.
  _get_stream`` with an int, which PyTorch >= 2.1 reads as a ``torch.device``.
* ``replicated_tensor_module``: mmcv's DDP forward reads
  ``_use_replicated_tensor_module``, which PyTorch DDP no longer defines.
* ``safe_checkpoints``: PyTorch >= 2.6 loads checkpoints with
  ``weights_only=True``. That stays on; the few non-tensor types that mmcv
  and mmgen checkpoints contain (numpy scalars in hook messages) are
  allowlisted.
* ``dynamic_ddp_without_ddp``: ``DynamicIterBasedRunner(is_dynamic_ddp=True)``
  (the toolbox's default runtime) reads ``model.reducer`` even when the model
  is not distributed; the flag now only takes effect on a model with a reducer.
* ``resume_on_cpu``: ``runner.resume`` maps the checkpoint onto
  ``torch.cuda.current_device()`` by default; without CUDA it now loads to
  the CPU.
* ``adam_betas``: the toolbox's StyleGAN2 configs give Adam
  ``betas=(0, 0.99**r)``; PyTorch refuses a mixed int/float pair.

* ``numpy_cumproduct``: mmgen's diffusion models (DDPM) call
  ``np.cumproduct``, which NumPy 2 removed; it is aliased to ``np.cumprod``.
* ``mmengine_hyphenated_paths``: mmengine's ``package::path`` parser rejects
  paths with ``-`` in them, such as the toolbox's ``mmgen::wgan-gp/...``.
* ``conv2d_gradfix_weight_grad``: StyleGAN2's custom convolution (used on
  CUDA) takes its weight gradient from cuDNN ops PyTorch no longer has; it
  now comes from ``aten::convolution_backward``.

Two more are applied on demand, because they depend on how a run starts:

* :func:`enable_cpu_process_group` makes the toolbox's distributed code
  (``model.cuda()``, ``device_ids=[torch.cuda.current_device()]``) work on a
  gloo process group on hosts without CUDA.
* :func:`strip_scope_keys` removes the ``_scope_`` keys mmengine's ``Config``
  adds when it resolves ``mmgen::`` bases; mmcv registries reject them.
"""
import importlib.util
import os.path as osp
import sys
import types

import torch

ORIGINALS = {}
_APPLIED = set()

ADA_PACKAGE = 'mmgen.models.architectures.stylegan.ada'


class ADANotAvailableError(ImportError):
    """ADA (adaptive discriminator augmentation) is not in mmgen 0.7.3's
    released package."""


def apply_once(name):

    def decorator(fn):

        def wrapper():
            if name not in _APPLIED:
                fn()
                _APPLIED.add(name)

        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        return wrapper

    return decorator


def _mmgen_dir():
    spec = importlib.util.find_spec('mmgen')
    return list(spec.submodule_search_locations)[0]


@apply_once('missing_ada')
def fix_missing_ada():
    """Register a stand-in for the ADA package the sdist does not ship.

    Only done when the real files are absent (an editable install of the
    toolbox's git tree has them).
    """
    real = osp.join(_mmgen_dir(), 'models', 'architectures', 'stylegan',
                    'ada', 'augment.py')
    if osp.exists(real) or ADA_PACKAGE in sys.modules:
        return

    class AugmentPipe:
        """Stand-in: ADA's augmentation pipeline is not released in 0.7.3."""

        def __init__(self, *args, **kwargs):
            raise ADANotAvailableError(
                'ADA (ADAStyleGAN2Discriminator with data_aug / ADAAug) is '
                'not part of the released mmgen 0.7.3 package: its '
                'stylegan/ada files are missing from the sdist. Use '
                'StyleGAN2Discriminator, or install mmgen from its git tag '
                'v0.7.3 to use ADA.')

    def constant(value, shape=None, dtype=None, device=None,
                 memory_format=None):
        """A tensor filled from ``value`` (the helper ADA imports)."""
        tensor = torch.as_tensor(
            value, dtype=dtype or torch.get_default_dtype(), device=device)
        if shape is not None:
            tensor = tensor.expand(tuple(shape))
        return tensor.contiguous(
            memory_format=memory_format or torch.contiguous_format)

    package = types.ModuleType(ADA_PACKAGE)
    package.__path__ = []
    augment = types.ModuleType(ADA_PACKAGE + '.augment')
    augment.AugmentPipe = AugmentPipe
    misc = types.ModuleType(ADA_PACKAGE + '.misc')
    misc.constant = constant
    package.augment, package.misc = augment, misc
    sys.modules.update({
        ADA_PACKAGE: package,
        augment.__name__: augment,
        misc.__name__: misc
    })


@apply_once('get_stream')
def fix_get_stream():
    """mmcv passes an int device index to ``_get_stream``."""
    import mmcv.parallel._functions as functions
    original = functions._get_stream
    ORIGINALS['_get_stream'] = original

    def _get_stream(device):
        if isinstance(device, int):
            device = torch.device('cuda', device)
        return original(device)

    functions._get_stream = _get_stream


@apply_once('replicated_tensor_module')
def fix_replicated_tensor_module():
    """mmcv's ``_run_ddp_forward`` reads an attribute DDP no longer has."""
    from mmcv.parallel import MMDistributedDataParallel
    if not hasattr(MMDistributedDataParallel, '_use_replicated_tensor_module'):
        MMDistributedDataParallel._use_replicated_tensor_module = False


def checkpoint_safe_globals():
    """Non-tensor types found in mmcv/mmgen checkpoints besides builtins."""
    import numpy as np
    multiarray = np._core.multiarray if hasattr(np, '_core') else \
        np.core.multiarray
    safe = [multiarray.scalar, multiarray._reconstruct, np.ndarray, np.dtype]
    # numpy pickles a dtype by its class (e.g. numpy.dtypes.Float64DType)
    safe += [type(np.dtype(t)) for t in np.sctypeDict.values()]
    return safe


@apply_once('safe_checkpoints')
def fix_safe_checkpoints():
    """Keep ``weights_only=True`` loading; allowlist what checkpoints hold."""
    torch.serialization.add_safe_globals(checkpoint_safe_globals())


@apply_once('dynamic_ddp_without_ddp')
def fix_dynamic_ddp_without_ddp():
    """``is_dynamic_ddp=True`` on a non-distributed model crashes the
    runner."""
    from mmgen.core.runners.dynamic_iterbased_runner import \
        DynamicIterBasedRunner
    original = DynamicIterBasedRunner.__init__
    ORIGINALS['DynamicIterBasedRunner.__init__'] = original

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        # only a DistributedDataParallel model has a reducer to pass on
        if self.is_dynamic_ddp and not hasattr(self.model, 'reducer'):
            self.is_dynamic_ddp = False

    DynamicIterBasedRunner.__init__ = __init__


@apply_once('resume_on_cpu')
def fix_resume_on_cpu():
    """``runner.resume`` maps checkpoints to ``torch.cuda.current_device()``
    by default, which raises on a host without CUDA."""
    from mmgen.core.runners.dynamic_iterbased_runner import \
        DynamicIterBasedRunner
    original = DynamicIterBasedRunner.resume
    ORIGINALS['DynamicIterBasedRunner.resume'] = original

    def resume(self, checkpoint, *args, map_location='default', **kwargs):
        if map_location == 'default' and not torch.cuda.is_available():
            map_location = 'cpu'
        return original(
            self, checkpoint, *args, map_location=map_location, **kwargs)

    DynamicIterBasedRunner.resume = resume


@apply_once('adam_betas')
def fix_adam_betas():
    """Give optimizers float betas: ``(0, 0.99**r)`` is refused by torch."""
    import mmgen.core.optimizer.builder as builder
    original = builder.build_optimizer
    ORIGINALS['build_optimizer'] = original

    def build_optimizer(model, cfg):
        betas = cfg.get('betas') if hasattr(cfg, 'get') else None
        if isinstance(betas, (tuple, list)):
            cfg = cfg.copy()
            cfg['betas'] = tuple(float(b) for b in betas)
        return original(model, cfg)

    builder.build_optimizer = build_optimizer


def _identity_cuda(module, device=None):
    return module


def enable_cpu_process_group():
    """Let the toolbox's distributed code run on CPU ranks (gloo).

    ``mmgen.apis.train_model`` and mmgen's ``DistributedDataParallelWrapper``
    assume every distributed run is on CUDA: they call ``module.cuda()`` and
    pass ``device_ids=[torch.cuda.current_device()]``, and the distributed
    sampler broadcasts its seed from a CUDA tensor. On a host without CUDA
    those calls can only fail, so here they become the CPU equivalents:
    ``.cuda()`` leaves a module where it is, the current device is mmcv's CPU
    index ``-1``, DDP gets no device ids and the seed travels on the CPU.
    PyTorch's SyncBatchNorm only runs on CUDA, so the BatchNorm layers mmgen
    converts (SNGAN/BigGAN generators) stay per-rank BatchNorm.
    """
    if torch.cuda.is_available() or 'cpu_process_group' in _APPLIED:
        return
    from mmcv.parallel import MMDistributedDataParallel
    ORIGINALS['Module.cuda'] = torch.nn.Module.cuda
    ORIGINALS['cuda.current_device'] = torch.cuda.current_device
    ORIGINALS['MMDistributedDataParallel.__init__'] = \
        MMDistributedDataParallel.__init__
    original_ddp_init = MMDistributedDataParallel.__init__

    def ddp_init(self, module, device_ids=None, output_device=None, **kw):
        if device_ids is not None and list(device_ids) == [-1]:
            device_ids = output_device = None
        original_ddp_init(
            self,
            module,
            device_ids=device_ids,
            output_device=output_device,
            **kw)

    import mmgen.datasets.samplers.distributed_sampler as sampler
    seed_sync = sampler.sync_random_seed
    ORIGINALS['sync_random_seed'] = seed_sync

    ORIGINALS['convert_sync_batchnorm'] = \
        torch.nn.SyncBatchNorm.convert_sync_batchnorm

    torch.nn.Module.cuda = _identity_cuda
    torch.cuda.current_device = lambda: -1
    # SyncBatchNorm is CUDA-only; mmgen converts BN when a group exists
    torch.nn.SyncBatchNorm.convert_sync_batchnorm = classmethod(
        lambda cls, module, process_group=None: module)
    from mmcv.cnn import NORM_LAYERS
    ORIGINALS['NORM_LAYERS.SyncBN'] = NORM_LAYERS.get('SyncBN')
    NORM_LAYERS.register_module('SyncBN', module=torch.nn.BatchNorm2d,
                                force=True)
    MMDistributedDataParallel.__init__ = ddp_init
    # the sampler broadcasts its seed from a CUDA tensor
    sampler.sync_random_seed = lambda seed=None: seed_sync(seed, device='cpu')
    _APPLIED.add('cpu_process_group')


@apply_once('numpy_cumproduct')
def fix_numpy_cumproduct():
    """mmgen's diffusion models call ``np.cumproduct``, removed in NumPy 2."""
    import numpy as np
    if not hasattr(np, 'cumproduct'):
        np.cumproduct = np.cumprod


@apply_once('mmengine_hyphenated_paths')
def fix_mmengine_hyphenated_paths():
    """mmengine only accepts ``package::dir/file`` whose names match ``\\w*``,
    which refuses the toolbox's own ``mmgen::wgan-gp/...`` configs."""
    import mmengine.config.config as engine_config
    original = engine_config._get_package_and_cfg_path
    ORIGINALS['_get_package_and_cfg_path'] = original

    def _get_package_and_cfg_path(cfg_path):
        package, _, rel_path = cfg_path.partition('::')
        # let mmengine check the package; the path is checked on opening
        package, _ = original(f'{package}::config/path.py')
        return package, rel_path

    engine_config._get_package_and_cfg_path = _get_package_and_cfg_path


def _closure_variable(function, name):
    """The value ``function`` sees for the free variable ``name``."""
    cells = dict(zip(function.__code__.co_freevars, function.__closure__))
    return cells[name].cell_contents


@apply_once('conv2d_gradfix_weight_grad')
def fix_conv2d_gradfix_weight_grad():
    """Give ``mmgen.ops.conv2d_gradfix`` a weight gradient that exists.

    StyleGAN2's modulated convolutions go through the toolbox's
    ``conv2d_gradfix`` (NVIDIA's op with arbitrarily high-order gradients)
    whenever the input is on CUDA and cuDNN is enabled. Its weight gradient
    (class ``Conv2dGradWeight``, built per convolution shape by
    ``_conv2d_gradfix``) calls ``torch._C._jit_get_operation(
    'aten::cudnn_convolution[_transpose]_backward_weight')``; on PyTorch 2
    that lookup returns a tuple and those cuDNN ops are gone, so the first
    weight gradient on a GPU fails with ``TypeError: 'tuple' object is not
    callable``. On the CPU the toolbox uses plain ``F.conv2d``, which is why
    CPU runs never meet it.

    ``_conv2d_gradfix`` is wrapped so that each ``Conv2dGradWeight`` class it
    builds (it caches one per shape, and builds the nested ones for the
    higher-order gradients through the same function) computes the general
    case with the public ``aten::convolution_backward``, which dispatches to
    cuDNN on the GPU with the global cuDNN flags; the 1x1 case keeps the
    toolbox's own matrix product, and the class's backward (the double
    backward R1 and the path-length regularizer need) is the toolbox's.
    """
    import mmgen.ops.conv2d_gradfix as gradfix
    original = gradfix._conv2d_gradfix
    ORIGINALS['_conv2d_gradfix'] = original

    def _conv2d_gradfix(transpose, weight_shape, stride, padding,
                        output_padding, dilation, groups):
        conv = original(transpose, weight_shape, stride, padding,
                        output_padding, dilation, groups)
        grad_weight = _closure_variable(conv.backward, 'Conv2dGradWeight')
        if 'toolbox_forward' not in vars(grad_weight):  # once per class
            grad_weight.toolbox_forward = grad_weight.forward
            grad_weight.forward = staticmethod(
                _weight_gradient_forward(
                    grad_weight.toolbox_forward, transpose, weight_shape,
                    stride, padding, output_padding, dilation, groups))
        return conv

    gradfix._conv2d_gradfix = _conv2d_gradfix


def _weight_gradient_forward(toolbox_forward, transpose, weight_shape,
                             stride, padding, output_padding, dilation,
                             groups):
    """``Conv2dGradWeight.forward`` for one convolution shape."""
    from mmgen.ops.conv2d_gradfix import _null_tensor, _tuple_of_ints
    weight_shape = tuple(weight_shape)
    stride, padding, output_padding, dilation = (
        _tuple_of_ints(value, 2)
        for value in (stride, padding, output_padding, dilation))

    def forward(ctx, grad_output, input):
        if weight_shape[2:] == stride == dilation == (1, 1) and \
                padding == (0, 0):
            return toolbox_forward(ctx, grad_output, input)  # no cuDNN op
        # what the toolbox's backward reads, saved as its forward does
        ctx.save_for_backward(
            grad_output if input.requires_grad else _null_tensor,
            input if grad_output.requires_grad else _null_tensor)
        ctx.grad_output_shape = grad_output.shape
        ctx.input_shape = input.shape
        # only the weight's shape, dtype and device are read: no memory
        weight = input.new_zeros(()).expand(weight_shape)
        return torch.ops.aten.convolution_backward(
            grad_output, input, weight, None, stride, padding, dilation,
            transpose, output_padding, groups, (False, True, False))[1]

    return forward


def strip_scope_keys(cfg):
    """Remove mmengine's ``_scope_`` keys from a nested dict/list in place."""
    if isinstance(cfg, dict):
        cfg.pop('_scope_', None)
        for value in cfg.values():
            strip_scope_keys(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            strip_scope_keys(value)
    return cfg


def apply():
    """Apply every import-time fix (idempotent)."""
    fix_missing_ada()
    fix_get_stream()
    fix_replicated_tensor_module()
    fix_safe_checkpoints()
    fix_dynamic_ddp_without_ddp()
    fix_resume_on_cpu()
    fix_adam_betas()
    fix_numpy_cumproduct()
    fix_mmengine_hyphenated_paths()
    fix_conv2d_gradfix_weight_grad()
