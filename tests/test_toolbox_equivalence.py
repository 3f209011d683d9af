"""Equivalences: without an attack the models make the toolbox's updates,
parameter for parameter; the attack's direction read off the D backward
equals a separate input-gradient pass."""
import pytest
import torch

from mmgen_adv.errors import ConfigError

from gan_fixtures import (GAN_TYPES, assert_same_params, batches, build,
                          dcgan, optimizers, sngan, train)


@pytest.mark.parametrize('adv_cfg, active', [
    (None, True),
    (dict(type='DAT', lambda_adv=0), True),
    (dict(type='DAT', variant='reference'), False),
    (dict(type='ASGAN', eps=2.0), False),
])
@pytest.mark.parametrize('train_cfg', [None, dict(disc_steps=2)])
def test_unconditional_matches_the_toolbox(adv_cfg, active, train_cfg):
    """Without adv_cfg, with DAT's lambda_adv=0, or switched off (an eps
    schedule's warm-up): the toolbox's updates, bit for bit."""
    base = build(dcgan(model_type='StaticUnconditionalGAN',
                       train_cfg=train_cfg))
    adv = build(dcgan(adv_cfg, train_cfg=train_cfg))
    if adv.adv is not None:
        adv.adv.active = active
    assert_same_params(base, adv)
    out_base = train(base, 4)
    out_adv = train(adv, 4)
    assert_same_params(base, adv)
    assert [o['log_vars'] for o in out_base] == \
        [o['log_vars'] for o in out_adv]


@pytest.mark.parametrize('adv_cfg, active', [
    (None, True),
    (dict(type='DAT', lambda_adv=0), True),
    (dict(type='ASGAN', update='joint', perturb_fake=True), False),
])
def test_conditional_matches_the_toolbox(adv_cfg, active):
    train_cfg = dict(disc_steps=2, gen_steps=2, batch_accumulation_steps=2)
    base = build(sngan(model_type='BasicConditionalGAN', num_classes=10,
                       train_cfg=train_cfg))
    adv = build(sngan(adv_cfg, model_type='AdvConditionalGAN',
                      num_classes=10, train_cfg=train_cfg))
    if adv.adv is not None:
        adv.adv.active = active
    train(base, 4, conditional=True)
    train(adv, 4, conditional=True)
    assert_same_params(base, adv)


@pytest.mark.parametrize('second_step_fakes', [False, True])
def test_asgan_eps_zero_is_two_updates_on_the_same_batch(second_step_fakes):
    """The paper's eps = 0 point: "updating discriminator twice on same real
    data" (and, with second_step_fakes, the same fakes): the toolbox's
    update followed by one more, made here by hand."""
    train_cfg = dict(disc_steps=2)  # iteration 0 updates D only
    base = build(dcgan(model_type='StaticUnconditionalGAN',
                       train_cfg=train_cfg))
    adv = build(dcgan(dict(type='ASGAN', eps=0,
                           second_step_fakes=second_step_fakes),
                      train_cfg=train_cfg))
    data = next(batches(1))
    optim_base, optim_adv = optimizers(base), optimizers(adv)
    torch.manual_seed(7)
    out = base.train_step(data, optim_base, running_status=dict(iteration=0))
    optim_base['discriminator'].zero_grad()
    loss = base.gan_loss(base.discriminator(data['real_img']), True,
                         is_disc=True)
    if second_step_fakes:
        loss = loss + base.gan_loss(
            base.discriminator(out['results']['fake_imgs']), False,
            is_disc=True)
    loss.backward()
    optim_base['discriminator'].step()

    torch.manual_seed(7)
    log = adv.train_step(data, optim_adv, running_status=dict(iteration=0))
    assert_same_params(base.discriminator, adv.discriminator)
    assert log['log_vars']['adv_delta_real'] == 0
    assert ('loss_disc_fake_second_step' in log['log_vars']) == \
        second_step_fakes


# -- where the attack's gradient comes from ---------------------------------
@pytest.mark.parametrize('cfg, source', [
    # the paper's DCGAN (vanilla, BatchNorm D): the D loss's own gradient
    (dcgan(dict(type='ASGAN')), 'backward'),
    (dcgan(dict(type='ASGAN', score='loss'), gan_type='hinge'), 'backward'),
    (dcgan(dict(type='ASGAN', score='output'), gan_type='wgan'), 'backward'),
    # per-sample signs: BatchNorm mixes samples, so a separate pass
    (dcgan(dict(type='ASGAN', score='output')), 'separate'),
    (sngan(dict(type='ASGAN', score='output'), gan_type='vanilla'),
     'backward_signed'),
    # hinge: samples beyond the margin have no gradient in the backward
    (sngan(dict(type='ASGAN')), 'separate'),
    (sngan(dict(type='DAT')), 'separate'),
    (sngan(dict(type='DAT', score='loss')), 'backward_signed'),
    (sngan(dict(type='DAT'), gan_type='vanilla'), 'backward_signed'),
    (dcgan(dict(type='DAT')), 'separate'),
    (sngan(dict(type='DAT', step='gradient'), gan_type='vanilla'),
     'separate'),
    (sngan(dict(type='DAT', lambda_clean=0), gan_type='vanilla'),
     'separate'),
    (sngan(dict(type='DAT', variant='reference'), gan_type='vanilla'),
     'separate'),
    (sngan(dict(type='DAT', attack_pass='separate'), gan_type='vanilla'),
     'separate'),
])
def test_attack_pass_is_decided_at_build(cfg, source):
    assert build(cfg).adv.attack_pass == source


def test_backward_gradient_refused_where_it_is_not_exact():
    with pytest.raises(ConfigError, match="attack_pass='backward' is not "
                       'exact here: the discriminator mixes samples'):
        build(dcgan(dict(type='DAT', attack_pass='backward')))
    with pytest.raises(ConfigError, match="GANLoss 'hinge' is flat beyond "
                       'its margin'):
        build(sngan(dict(type='ASGAN', attack_pass='backward')))


@pytest.mark.parametrize('adv_cfg', [
    dict(type='ASGAN', eps=2.0, score='loss'),
    dict(type='ASGAN', eps=2.0, score='loss', update='joint',
         perturb_fake=True),
])
@pytest.mark.parametrize('gan_type', GAN_TYPES)
def test_asgan_backward_gradient_equals_separate_pass(adv_cfg, gan_type):
    """Reading x.grad off the D backward gives the same updates, bit for
    bit, as a separate input-gradient pass (BatchNorm D included)."""
    cheap = build(dcgan(dict(adv_cfg, attack_pass='backward'),
                        gan_type=gan_type))
    separate = build(dcgan(dict(adv_cfg, attack_pass='separate'),
                           gan_type=gan_type))
    assert cheap.adv.attack_pass == 'backward'
    assert separate.adv.attack_pass == 'separate'
    train(cheap, 3)
    train(separate, 3)
    assert_same_params(cheap, separate)


def attacked_inputs(cfg, sides):
    """The attacked images of one iteration (frozen D)."""
    model = build(cfg)
    seen = []
    model.discriminator.register_forward_hook(
        lambda module, args, out: seen.append(args[0].detach().clone()))
    frozen = {k: torch.optim.SGD(getattr(model, k).parameters(), lr=0.0)
              for k in ('generator', 'discriminator')}
    torch.manual_seed(3)
    data = next(batches(1, size=32))
    model.train_step(data, frozen, running_status=dict(iteration=0))
    return model, seen[2:2 + sides]


@pytest.mark.parametrize('adv_cfg, sides', [
    (dict(type='DAT', eps=2.0), 2),
    (dict(type='DAT', eps=2.0, score='output'), 2),
    (dict(type='ASGAN', eps=2.0, score='output', perturb_fake=True), 2),
])
@pytest.mark.parametrize('gan_type', ['vanilla', 'lsgan',
                                      'wgan-logistic-ns'])
def test_signed_backward_direction_equals_separate_pass(
        adv_cfg, sides, gan_type):
    """The per-sample signed x.grad of the D backward moves the images as
    the attack objective's own gradient does (the SN ResNet D treats
    samples independently), up to pixels whose gradient rounds to 0."""
    cheap, adv_cheap = attacked_inputs(
        sngan(dict(adv_cfg, attack_pass='backward'), gan_type=gan_type),
        sides)
    _, adv_separate = attacked_inputs(
        sngan(dict(adv_cfg, attack_pass='separate'), gan_type=gan_type),
        sides)
    assert cheap.adv.attack_pass == 'backward_signed'
    for a, b in zip(adv_cheap, adv_separate):
        assert (a == b).float().mean() > 0.999


@pytest.mark.parametrize('cfg, image_passes, output_passes', [
    (dcgan(dict(type='ASGAN', score='loss', attack_pass='backward')), 0, 0),
    (dcgan(dict(type='ASGAN', score='loss', attack_pass='separate')), 1, 0),
    # per-sample signs: one gradient of the objective and one of the loss,
    # with respect to D's outputs, per attacked side
    (sngan(dict(type='ASGAN', score='output'), gan_type='vanilla'), 0, 2),
    (sngan(dict(type='DAT', score='loss'), gan_type='vanilla'), 0, 4),
    (sngan(dict(type='DAT', score='loss', attack_pass='separate'),
           gan_type='vanilla'), 1, 0),
])
def test_the_bound_attack_pass_is_the_one_taken(monkeypatch, cfg,
                                                image_passes, output_passes):
    """Each attack pass does what it says: a separate pass takes the
    images' gradient with autograd.grad, the standard backward does not."""
    model = build(dict(cfg, train_cfg=dict(disc_steps=100)))
    taken = []
    original = torch.autograd.grad

    def counted(outputs, inputs, *args, **kwargs):
        inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        taken.append(inputs[0].dim())
        return original(outputs, inputs, *args, **kwargs)

    monkeypatch.setattr(torch.autograd, 'grad', counted)
    train(model, 1)
    assert taken.count(4) == image_passes
    assert len(taken) - taken.count(4) == output_passes
