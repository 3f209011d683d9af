"""The MMagic 1.x host: its update is MMagic's own without ``adv_cfg`` (or
while the regularizer is off), parameter for parameter, and with it the
same algorithm as on the mmgen host.

Run in the MMagic environment: ``.venv-mmagic/bin/python -m pytest tests
-m mmagic``.
"""
import copy

import pytest
import torch

REASON = ('MMagic tier: runs in the MMagic environment (./setup.sh --host '
          'mmagic; .venv-mmagic/bin/python -m pytest tests -m mmagic)')
pytest.importorskip('mmagic', reason=REASON)
pytestmark = pytest.mark.mmagic

import mmgen_adv.mmagic  # noqa: E402,F401  (first: compat)
from mmagic.models import DataPreprocessor  # noqa: E402
from mmagic.registry import MODELS  # noqa: E402
from mmagic.structures import DataSample  # noqa: E402
from mmengine import MessageHub  # noqa: E402
from mmengine.optim import OptimWrapper, OptimWrapperDict  # noqa: E402

from mmgen_adv.errors import ConfigError  # noqa: E402
from mmgen_adv.methods.disc_step import DiscBatch  # noqa: E402
from mmgen_adv.mmagic.host import StyleGAN2Host, unwrap  # noqa: E402

import cross_host_probe  # noqa: E402


def sngan(type_, **kwargs):
    """A small SNGAN at 32x32, conditional on 10 classes."""
    return MODELS.build(dict(
        type=type_, noise_size=16, num_classes=10,
        data_preprocessor=DataPreprocessor(),
        generator=dict(type='SNGANGenerator', output_scale=32,
                       base_channels=16, num_classes=10),
        discriminator=dict(type='ProjDiscriminator', input_scale=32,
                           base_channels=16, num_classes=10),
        **kwargs))


def dcgan(type_, **kwargs):
    """A small DCGAN at 32x32."""
    return MODELS.build(dict(
        type=type_, noise_size=16,
        data_preprocessor=DataPreprocessor(),
        generator=dict(type='DCGANGenerator', output_scale=32,
                       base_channels=32, noise_size=16),
        discriminator=dict(type='DCGANDiscriminator', input_scale=32,
                           output_scale=4, out_channels=1, base_channels=32),
        **kwargs))


def biggan(type_, **kwargs):
    """A small BigGAN at 32x32, conditional on 10 classes, with its EMA
    generator updated every iteration."""
    return MODELS.build(dict(
        type=type_, noise_size=16, num_classes=10,
        data_preprocessor=DataPreprocessor(),
        generator=dict(type='BigGANGenerator', output_scale=32,
                       noise_size=16, num_classes=10, base_channels=8,
                       with_shared_embedding=False, split_noise=False,
                       sn_style='torch', auto_sync_bn=False),
        discriminator=dict(type='BigGANDiscriminator', input_scale=32,
                           num_classes=10, base_channels=8,
                           sn_style='torch'),
        ema_config=dict(interval=1, momentum=0.01),
        **kwargs))


def stylegan2(type_, **kwargs):
    """A small StyleGAN2 at 32x32 (R1 and path length at iteration 0)."""
    return MODELS.build(dict(
        type=type_, data_preprocessor=DataPreprocessor(),
        generator=dict(type='StyleGANv2Generator', out_size=32,
                       style_channels=16, num_mlps=2, channel_multiplier=1),
        discriminator=dict(type='StyleGAN2Discriminator', in_size=32,
                           channel_multiplier=1),
        **kwargs))


def optim_wrappers(model, accumulation=1):
    return OptimWrapperDict(**{
        name: OptimWrapper(
            torch.optim.Adam(getattr(model, name).parameters(), lr=1e-3,
                             betas=(0.0, 0.9)),
            accumulative_counts=accumulation)
        for name in ('generator', 'discriminator')})


def batches(num, batch_size=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(num):
        samples = []
        for _ in range(batch_size):
            sample = DataSample(
                gt_img=torch.randint(0, 256, (3, 32, 32), generator=gen,
                                     dtype=torch.uint8))
            sample.set_gt_label(torch.randint(0, 10, (1, ), generator=gen))
            samples.append(sample)
        yield dict(inputs=dict(), data_samples=samples)


def train(model, iters, accumulation=1, seed=0):
    """``iters`` iterations of MMagic's train_step, as its runner calls it
    (on the model or its distributed wrapper); returns the logs."""
    wrappers = optim_wrappers(unwrap(model), accumulation)
    hub = MessageHub.get_current_instance()
    torch.manual_seed(seed)
    logs = []
    for it, data in enumerate(batches(iters)):
        hub.update_info('iter', it)
        logs.append(model.train_step(data, wrappers))
    return logs, wrappers


def same_weights(a, b):
    b.load_state_dict(a.state_dict())


def assert_same_parameters(a, b):
    for (name, pa), (_, pb) in zip(a.state_dict().items(),
                                   b.state_dict().items()):
        assert torch.equal(pa, pb), name


# MMagic's GAN, ours, and the D steps per G step of the standard update
STANDARD_UPDATE_CASES = [
    (sngan, 'SNGAN', 'AdvSNGAN', 2),
    (dcgan, 'DCGAN', 'AdvDCGAN', 2),
    (biggan, 'BigGAN', 'AdvBigGAN', 2),
]


def mmagics_model_and_ours(build, base, adv, steps, adv_cfg):
    """MMagic's model and ours with the same weights; ``adv_cfg`` None (no
    regularizer) or ``'off'`` (DAT held off, as in an eps warm-up)."""
    torch.manual_seed(0)
    reference = build(base, discriminator_steps=steps)
    model = build(adv, discriminator_steps=steps,
                  adv_cfg=None if adv_cfg is None else dict(type='DAT'))
    same_weights(reference, model)
    if adv_cfg == 'off':
        model.adv.active = False
    return reference, model


def assert_same_training(reference, model, steps):
    """``2 * steps`` iterations, accumulated over ``steps``, of both models
    (or their wrappers) make the same update: every parameter of G and D,
    the accumulation counters, every logged value."""
    logs_ref, wrappers_ref = train(reference, 2 * steps, accumulation=steps)
    logs, wrappers = train(model, 2 * steps, accumulation=steps)
    assert_same_parameters(unwrap(reference), unwrap(model))
    for name in ('generator', 'discriminator'):
        assert wrappers[name]._inner_count == wrappers_ref[name]._inner_count
    for log_ref, log in zip(logs_ref, logs):
        assert set(log) == set(log_ref)
        for key in log_ref:
            assert log[key].item() == log_ref[key].item(), key


@pytest.mark.parametrize('build,base,adv,steps', STANDARD_UPDATE_CASES)
@pytest.mark.parametrize('adv_cfg', [None, 'off'])
def test_the_update_is_mmagics_without_a_regularizer(
        build, base, adv, steps, adv_cfg):
    """Without adv_cfg the model is MMagic's; with the regularizer held off
    (an eps schedule's warm-up) the standard update through the host is
    MMagic's too: same draws, losses, accumulation and steps. ``steps`` D
    steps per G step, accumulated over as many iterations, for twice that
    many."""
    reference, model = mmagics_model_and_ours(build, base, adv, steps,
                                              adv_cfg)
    assert_same_training(reference, model, steps)


def test_stylegan2_terms_are_its_disc_loss():
    """StyleGAN2's host gives MMagic's D loss (softplus form, R1 on the
    clean reals every r1_interval iterations) and, as its update does, leaves
    D's predictions on the reals in the MessageHub for ADA. Its whole update
    is not compared here: a 512-channel StyleGAN2 takes minutes per
    iteration on a CPU."""
    torch.manual_seed(0)
    model = stylegan2('AdvStyleGAN2')
    real, fake = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    hub = MessageHub.get_current_instance()
    for iteration, with_r1 in ((0, True), (1, False)):
        hub.update_info('iter', iteration)
        pred_fake = model.discriminator(fake)
        pred_real = model.discriminator(real)
        loss, log = model.disc_loss(pred_fake, pred_real, real)
        terms = StyleGAN2Host(model).disc_terms(
            DiscBatch(real, fake, None, None, iteration), pred_fake,
            pred_real)
        assert ('loss_r1_gp' in terms) == with_r1
        host_loss, host_log = model.parse_losses(terms)
        assert host_log.keys() == log.keys()
        assert host_loss.item() == loss.item()
        assert hub.get_info('disc_pred_real') is pred_real


@pytest.mark.parametrize('adv_cfg', [dict(type='DAT'), dict(type='ASGAN')])
def test_a_regularized_iteration_counts_once(adv_cfg):
    """Extra backwards and ASGAN's second D step within an iteration are one
    pass of the wrapper's accumulation, as MMagic's update."""
    torch.manual_seed(0)
    model = sngan('AdvSNGAN', adv_cfg=adv_cfg)
    before = copy.deepcopy(model.discriminator.state_dict())
    logs, wrappers = train(model, 3)
    assert wrappers['discriminator']._inner_count == 3
    assert any(not torch.equal(before[k], v)
               for k, v in model.discriminator.state_dict().items())
    prefix = 'dat' if adv_cfg['type'] == 'DAT' else 'asgan'
    assert any(k.startswith('loss_disc_adv') or prefix in k
               for k in logs[-1]), logs[-1]


def test_bad_adv_cfg_is_refused_in_one_line():
    with pytest.raises(ConfigError) as err:
        sngan('AdvSNGAN', adv_cfg=dict(type='DAT', variantt='paper'))
    assert '\n' not in str(err.value)
    assert 'variantt' in str(err.value)


def test_both_hosts_make_the_same_update():
    """The same D weights, batch and settings through the mmgen host (its
    environment, in a subprocess) and this one: the same attacked images,
    losses and D step, for hinge and the non-saturating loss (ASGAN, DAT
    and DAT's reference variant)."""
    cases = cross_host_probe.make_cases()
    theirs = cross_host_probe.in_mmgen_environment(cases)
    for case, other in zip(cases, theirs):
        mine = cross_host_probe.run_case(case)
        assert (mine['host'], other['host']) == ('mmagic', 'mmgen')
        diff = cross_host_probe.differences(mine, other)
        assert diff['d_calls'] >= 3, diff  # the attack's calls among them
        assert diff['inputs'] < 1e-6 and diff['log'] < 1e-6 and \
            diff['weights'] < 1e-6, (case['gan_type'], case['adv_cfg'], diff)
