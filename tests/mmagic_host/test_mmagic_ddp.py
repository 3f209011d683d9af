"""The MMagic host under MMagic's distributed wrapper: G and D each in
mmengine's ``MMSeparateDistributedDataParallel``, built from the configs'
``model_wrapper_cfg`` as the runner builds it, in a 1-rank gloo group
initialised in this process. The standard update is still MMagic's bit for
bit, and a regularized iteration is the unwrapped model's.

Run in the MMagic environment: ``.venv-mmagic/bin/python -m pytest tests
-m mmagic``.
"""
import contextlib

import pytest
import torch

REASON = ('MMagic tier: runs in the MMagic environment (./setup.sh --host '
          'mmagic; .venv-mmagic/bin/python -m pytest tests -m mmagic)')
pytest.importorskip('mmagic', reason=REASON)
pytestmark = pytest.mark.mmagic

import mmgen_adv.mmagic  # noqa: E402,F401  (first: compat)
from mmengine.config import Config  # noqa: E402
from mmengine.model import (MMDistributedDataParallel,  # noqa: E402
                            MMSeparateDistributedDataParallel)
from mmengine.registry import MODEL_WRAPPERS  # noqa: E402

from mmgen_adv.methods import attacks  # noqa: E402
from mmgen_adv.mmagic.host import MMagicHost  # noqa: E402

from conftest import ROOT  # noqa: E402
from process_group import one_rank_group  # noqa: E402
from test_mmagic_host import (STANDARD_UPDATE_CASES,  # noqa: E402
                              assert_same_parameters, assert_same_training,
                              mmagics_model_and_ours, same_weights, sngan,
                              train)

# its model_wrapper_cfg is MMagic's gen_default_runtime's
CONFIG = ROOT / 'configs' / 'mmagic' / 'dat' / 'sngan_cifar10.py'


def wrap_as_the_runner_does(model):
    """``Runner.wrap_model`` in a distributed run: the config's
    ``model_wrapper_cfg`` with ``device_ids=[LOCAL_RANK]`` (which the
    compat drops for a CPU module where there is no CUDA, as on CPU ranks);
    G and D are wrapped apart, in place."""
    cfg = Config.fromfile(CONFIG).model_wrapper_cfg
    default_args = dict(module=model)
    if not torch.cuda.is_available():
        default_args['device_ids'] = [0]
    wrapper = MODEL_WRAPPERS.build(cfg, default_args=default_args)
    assert isinstance(wrapper, MMSeparateDistributedDataParallel)
    assert wrapper.module is model
    for name in ('generator', 'discriminator'):
        assert isinstance(getattr(model, name), MMDistributedDataParallel)
    return wrapper


@pytest.mark.parametrize('build,base,adv,steps', STANDARD_UPDATE_CASES)
@pytest.mark.parametrize('adv_cfg', [None, 'off'])
def test_the_wrapped_update_is_mmagics(tmp_path, build, base, adv, steps,
                                       adv_cfg):
    """Both models wrapped: ``steps`` D steps per G step, accumulated over
    as many iterations (no_sync on all but the last backward of each
    accumulation), for twice that many; every parameter bit-identical."""
    reference, model = mmagics_model_and_ours(build, base, adv, steps,
                                              adv_cfg)
    with one_rank_group(tmp_path):
        assert_same_training(wrap_as_the_runner_does(reference),
                             wrap_as_the_runner_does(model), steps)


class DiscCalls:
    """Which module each D forward reached: through the wrapper (DDP sees
    it: its backward is synchronised) or the bare ``.module`` alone, with
    grad enabled or not; and the modules given to ``attacks.untouched``
    (what an attack forward must leave as it found)."""

    def __init__(self, wrapper, monkeypatch):
        self.calls, self.untouched, self._wrapper_depth = [], [], 0
        wrapper.register_forward_pre_hook(self._enter_wrapper)
        wrapper.register_forward_hook(self._leave_wrapper)
        wrapper.module.register_forward_pre_hook(self._record_call)
        original = attacks.untouched

        @contextlib.contextmanager
        def untouched(disc, *args, **kwargs):
            self.untouched.append(disc)
            with original(disc, *args, **kwargs):
                yield

        monkeypatch.setattr(attacks, 'untouched', untouched)

    # hooks return None: a forward hook's result would replace the output
    def _enter_wrapper(self, module, args):
        self._wrapper_depth += 1

    def _leave_wrapper(self, module, args, output):
        self._wrapper_depth -= 1

    def _record_call(self, module, args):
        self.calls.append(('wrapper' if self._wrapper_depth else 'bare',
                           torch.is_grad_enabled()))


@pytest.mark.parametrize('adv_cfg', [
    # gap_interval=1: the gap's extra forward under untouched(D) at once
    dict(type='ASGAN', eps=2.0, gap_interval=1),
    dict(type='DAT', eps=2.0),
])
def test_a_regularized_iteration_under_the_wrapper(tmp_path, monkeypatch,
                                                   adv_cfg):
    """One iteration of ASGAN/DAT (D step, then G step) wrapped gives the
    unwrapped model's weights and log bit for bit: one rank's allreduce
    sums one gradient and divides it by a world size of 1.

    Neither makes an attack forward of its own (the attack's input
    gradient comes off the clean forward's graph), so what runs on the bare
    D is what attacks are given: the host's ``discriminator``, the module
    ASGAN's gap forward leaves ``untouched``. Every forward with grad goes
    through the wrapper, so DDP synchronises every backward."""
    torch.manual_seed(0)
    bare = sngan('AdvSNGAN', discriminator_steps=1, adv_cfg=adv_cfg)
    model = sngan('AdvSNGAN', discriminator_steps=1, adv_cfg=adv_cfg)
    same_weights(bare, model)
    logs_bare, _ = train(bare, 1)
    with one_rank_group(tmp_path):
        wrapper = wrap_as_the_runner_does(model)
        assert MMagicHost(model).discriminator is \
            model.discriminator.module
        d_calls = DiscCalls(model.discriminator, monkeypatch)
        logs, _ = train(wrapper, 1)

    assert_same_parameters(bare.discriminator, model.discriminator.module)
    assert_same_parameters(bare.generator, model.generator.module)
    assert set(logs[0]) == set(logs_bare[0])
    assert any(key.startswith('adv_delta') for key in logs[0]), logs[0]
    for key, value in logs_bare[0].items():
        assert logs[0][key].item() == value.item(), key

    assert all(disc is model.discriminator.module
               for disc in d_calls.untouched)
    assert bool(d_calls.untouched) == (adv_cfg['type'] == 'ASGAN')
    with_grad = [where for where, grad in d_calls.calls if grad]
    assert with_grad and set(with_grad) == {'wrapper'}, d_calls.calls
