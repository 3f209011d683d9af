"""AdvUnconditionalGAN / AdvConditionalGAN with ASGAN and DAT."""
import copy
import math

import pytest
import torch
from mmgen.models import build_model

from mmgen_adv import attacks
from mmgen_adv.errors import ConfigError, NonFiniteLossError
from mmgen_adv.models.gan_losses import per_sample_gan_loss

GAN_TYPES = ['vanilla', 'lsgan', 'wgan', 'hinge', 'wgan-logistic-ns']


def dcgan(adv_cfg=None, model_type='AdvUnconditionalGAN', gan_type='vanilla',
          **kwargs):
    cfg = dict(
        type=model_type,
        generator=dict(type='DCGANGenerator', output_scale=16,
                       base_channels=32),
        discriminator=dict(type='DCGANDiscriminator', input_scale=16,
                           output_scale=4, out_channels=1),
        gan_loss=dict(type='GANLoss', gan_type=gan_type), **kwargs)
    if adv_cfg is not None:
        cfg['adv_cfg'] = adv_cfg
    return cfg


def sngan(adv_cfg=None, model_type='AdvUnconditionalGAN', num_classes=0,
          **kwargs):
    """The toolbox's SNGAN ResNet at 32px: spectral norm, no D BatchNorm."""
    cfg = dict(
        type=model_type,
        generator=dict(type='SNGANGenerator', output_scale=32,
                       base_channels=16, num_classes=num_classes,
                       use_cbn=num_classes > 0),
        discriminator=dict(type='ProjDiscriminator', input_scale=32,
                           base_channels=16, num_classes=num_classes),
        gan_loss=dict(type='GANLoss', gan_type='hinge'), **kwargs)
    if num_classes:
        cfg['num_classes'] = num_classes
    if adv_cfg is not None:
        cfg['adv_cfg'] = adv_cfg
    return cfg


def build(cfg, seed=0):
    torch.manual_seed(seed)
    return build_model(cfg)


def optimizers(model, lr=2e-4):
    return dict(
        generator=torch.optim.Adam(model.generator.parameters(), lr=lr,
                                   betas=(0.5, 0.999)),
        discriminator=torch.optim.Adam(model.discriminator.parameters(),
                                       lr=lr, betas=(0.5, 0.999)))


def batches(n, conditional=False, size=16, batch=4, seed=123):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(n):
        img = torch.rand(batch, 3, size, size, generator=gen) * 2 - 1
        if conditional:
            yield dict(img=img,
                       gt_label=torch.randint(0, 10, (batch, ),
                                              generator=gen))
        else:
            yield dict(real_img=img)


def image_size(model):
    gen = model.generator
    return getattr(gen, 'output_scale', getattr(gen, 'out_size', None))


def train(model, n, conditional=False, seed=7, optim=None, **kwargs):
    optim = optim or optimizers(model)
    torch.manual_seed(seed)
    outputs = []
    for i, data in enumerate(
            batches(n, conditional, size=image_size(model))):
        outputs.append(
            model.train_step(data, optim,
                             running_status=dict(iteration=i), **kwargs))
    return outputs


def assert_same_params(a, b, exact=True):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        if exact:
            assert torch.equal(sa[key], sb[key]), key
        else:
            assert torch.allclose(sa[key], sb[key], atol=1e-6), key


# -- same updates as the toolbox without (effective) adversarial training --
@pytest.mark.parametrize('adv_cfg', [
    None,
    dict(type='DAT', lambda_adv=0),
    dict(type='DAT', eps=0, variant='reference'),
    dict(type='ASGAN', eps=0),
])
@pytest.mark.parametrize('train_cfg', [None, dict(disc_steps=2)])
def test_unconditional_matches_the_toolbox(adv_cfg, train_cfg):
    base = build(dcgan(model_type='StaticUnconditionalGAN',
                       train_cfg=train_cfg))
    adv = build(dcgan(adv_cfg, train_cfg=train_cfg))
    assert_same_params(base, adv)
    out_base = train(base, 4)
    out_adv = train(adv, 4)
    assert_same_params(base, adv)
    assert [o['log_vars'] for o in out_base] == \
        [o['log_vars'] for o in out_adv]


@pytest.mark.parametrize('adv_cfg', [
    None,
    dict(type='DAT', lambda_adv=0),
    dict(type='ASGAN', eps=0.0, update='joint', perturb_fake=True),
])
def test_conditional_matches_the_toolbox(adv_cfg):
    train_cfg = dict(disc_steps=2, gen_steps=2, batch_accumulation_steps=2)
    base = build(sngan(model_type='BasicConditionalGAN', num_classes=10,
                       train_cfg=train_cfg))
    adv = build(sngan(adv_cfg, model_type='AdvConditionalGAN',
                      num_classes=10, train_cfg=train_cfg))
    train(base, 4, conditional=True)
    train(adv, 4, conditional=True)
    assert_same_params(base, adv)


# -- the input gradient from the standard backward --------------------------
@pytest.mark.parametrize('adv_cfg', [
    dict(type='ASGAN', eps=2.0),
    dict(type='ASGAN', eps=2.0, update='joint', perturb_fake=True),
])
@pytest.mark.parametrize('gan_type', GAN_TYPES)
def test_asgan_backward_gradient_equals_separate_pass(adv_cfg, gan_type):
    """Reading x.grad off the D backward gives the same updates, bit for
    bit, as a separate input-gradient pass (BatchNorm D included)."""
    cheap = build(dcgan(dict(adv_cfg, attack_pass='backward'),
                        gan_type=gan_type))
    separate = build(dcgan(dict(adv_cfg, attack_pass='separate'),
                           gan_type=gan_type))
    assert cheap.adv.grad_from_backward and \
        not separate.adv.grad_from_backward
    train(cheap, 3)
    train(separate, 3)
    assert_same_params(cheap, separate)


@pytest.mark.parametrize('gan_type', GAN_TYPES)
def test_dat_backward_direction_equals_separate_pass(gan_type):
    """DAT's per-sample direction sign(g_i - t) * sign(dg_i/dx) from the
    clean backward equals the gradient of the attack distance."""
    cfg = sngan(dict(type='DAT', eps=2.0))
    cfg['gan_loss']['gan_type'] = gan_type
    model = build(cfg)
    assert model.adv.grad_from_backward
    disc, gan_loss = model.discriminator, model.gan_loss
    real = next(batches(1, size=32))['real_img']
    fake = torch.rand_like(real) * 2 - 1
    with torch.no_grad():
        target = per_sample_gan_loss(gan_loss, disc(fake), True).mean()

    # the separate pass: gradient of DAT's distance itself
    def distance(out):
        return attacks.dat_distance(
            per_sample_gan_loss(gan_loss, out, True), target)

    separate = attacks.input_gradient(disc, real, distance)
    # the backward pass: x.grad of the clean loss, signed per sample
    x = real.clone().requires_grad_()
    with attacks.untouched(disc):
        pred = disc(x)
        gan_loss(pred, True, is_disc=True).backward()
        side = torch.sign(per_sample_gan_loss(gan_loss, pred, True) - target)
    cheap = x.grad * side.view(-1, 1, 1, 1)
    for p in disc.parameters():
        p.grad = None
    agree = torch.sign(cheap) == torch.sign(separate)
    # signs differ only where float rounding leaves a gradient near zero
    scale = separate.abs().amax(dim=(1, 2, 3), keepdim=True)
    assert agree[separate.abs() > 1e-5 * scale].all()
    assert agree.float().mean() > 0.999
    differ = attacks.dat_step(real, cheap, 0.01) != attacks.dat_step(
        real, separate, 0.01)
    assert differ.float().mean() < 1e-3


def test_dat_model_backward_and_separate_agree():
    cheap = build(sngan(dict(type='DAT', eps=2.0, attack_pass='backward')))
    separate = build(sngan(dict(type='DAT', eps=2.0,
                                attack_pass='separate')))
    out_c, out_s = train(cheap, 2), train(separate, 2)
    for a, b in zip(out_c, out_s):
        for key in ('loss_disc_adv_real', 'loss_disc_adv_fake'):
            assert math.isclose(a['log_vars'][key], b['log_vars'][key],
                                rel_tol=1e-4)
    assert_same_params(cheap, separate, exact=False)


def test_backward_gradient_refused_where_it_is_not_exact():
    with pytest.raises(ConfigError, match="attack_pass='backward' is not "
                       'exact here: the discriminator mixes samples'):
        build(dcgan(dict(type='DAT', attack_pass='backward')))
    # auto: separate pass for a BatchNorm D, backward for an SN ResNet D
    assert not build(dcgan(dict(type='DAT'))).adv.grad_from_backward
    assert build(sngan(dict(type='DAT'))).adv.grad_from_backward
    assert build(dcgan(dict(type='ASGAN'))).adv.grad_from_backward
    assert not build(sngan(dict(type='DAT', variant='reference'))
                     ).adv.grad_from_backward


# -- the updates themselves --------------------------------------------------
def test_asgan_second_step_is_a_second_update():
    model = build(dcgan(dict(type='ASGAN')))
    optim = optimizers(model)
    steps = []
    optim['discriminator'].step = (
        lambda orig=optim['discriminator'].step: steps.append(1) or orig())
    train(model, 2, optim=optim)
    assert len(steps) == 4
    joint = build(dcgan(dict(type='ASGAN', update='joint')))
    optim = optimizers(joint)
    steps.clear()
    optim['discriminator'].step = (
        lambda orig=optim['discriminator'].step: steps.append(1) or orig())
    train(joint, 2, optim=optim)
    assert len(steps) == 2


@pytest.mark.parametrize('adv_cfg', [
    dict(type='ASGAN', eps=3.0),
    dict(type='ASGAN', eps=3.0, perturb_fake=True, update='joint'),
    dict(type='DAT', eps=3.0),
    dict(type='ASGAN', eps=3.0, direction='gaussian'),
])
def test_logs_show_the_attack(adv_cfg):
    out = train(build(sngan(adv_cfg)), 1)[0]['log_vars']
    assert 'loss_disc_adv_real' in out and 'adv_gap_real' in out
    # a sign step of 3 gray levels moves every pixel by 3 levels, except
    # where the image range clips it (random images reach +-1)
    assert 1.5 < out['adv_delta_real'] <= 3.0 + 1e-4
    if adv_cfg['type'] == 'DAT' or adv_cfg.get('perturb_fake'):
        assert 'loss_disc_adv_fake' in out
    total = sum(v for k, v in out.items() if k.startswith('loss_disc') and
                not k.endswith('_g'))
    assert math.isclose(out['loss'], total, rel_tol=1e-5)


def test_asgan_attack_raises_d_loss_on_reals():
    """The adversarial reals are harder for D than the clean ones."""
    model = build(sngan(dict(type='ASGAN', eps=4.0, update='joint')))
    logs = train(model, 3)
    for out in logs:
        log = out['log_vars']
        assert log['loss_disc_adv_real'] > log['loss_disc_real']
        assert log['adv_gap_real'] < 0  # D's score on reals went down


def test_dat_reference_trains_on_adversarial_loss_only():
    model = build(sngan(dict(type='DAT', variant='reference')))
    assert model.adv.lambda_clean == 0 and model.adv.eps == 127.5
    log = train(model, 1)[0]['log_vars']
    assert 'loss_disc_real' not in log and 'disc_real_clean' in log
    assert math.isclose(
        log['loss'], log['loss_disc_adv_real'] + log['loss_disc_adv_fake'],
        rel_tol=1e-5)


def test_gradient_penalty_is_kept():
    cfg = dcgan(dict(type='DAT', eps=2.0), gan_type='wgan',
                disc_auxiliary_loss=dict(
                    type='GradientPenaltyLoss', loss_weight=10,
                    norm_mode='HWC',
                    data_info=dict(discriminator='disc',
                                   real_data='real_imgs',
                                   fake_data='fake_imgs')))
    log = train(build(cfg), 1)[0]['log_vars']
    assert log['loss_gp'] > 0
    assert 'loss_disc_adv_real' in log


def test_r1_in_stylegan2_keeps_training():
    cfg = dict(
        type='AdvUnconditionalGAN',
        generator=dict(type='StyleGANv2Generator', out_size=16,
                       style_channels=16, num_mlps=2, channel_multiplier=1),
        discriminator=dict(type='StyleGAN2Discriminator', in_size=16,
                           channel_multiplier=1),
        gan_loss=dict(type='GANLoss', gan_type='wgan-logistic-ns'),
        disc_auxiliary_loss=dict(
            type='R1GradientPenalty', loss_weight=5.0, interval=1,
            data_info=dict(real_data='real_imgs', discriminator='disc')),
        adv_cfg=dict(type='DAT', eps=1.0))
    model = build(cfg)
    assert not model.adv.grad_from_backward  # minibatch stddev mixes
    logs = train(model, 2)
    assert all('loss_r1_gp' in o['log_vars'] for o in logs)


def test_conditional_attacks_pass_labels():
    model = build(sngan(dict(type='DAT', eps=2.0),
                        model_type='AdvConditionalGAN', num_classes=10))
    calls = []
    model.discriminator.register_forward_pre_hook(
        lambda m, args, kwargs: calls.append(kwargs.get('label')),
        with_kwargs=True)
    train(model, 1, conditional=True)
    # clean fake + real, adversarial real + fake, then the G step
    assert len(calls) == 5 and all(c is not None for c in calls)


def test_fp16_loss_scaler_between_two_steps():
    """A GradScaler unscales each optimizer once per update(): the second
    ASGAN step needs an update in between (CPU scaler, fp32 weights)."""
    model = build(sngan(dict(type='ASGAN', eps=2.0)))
    optim = optimizers(model)
    scaler = torch.amp.GradScaler('cpu', init_scale=512.0)
    before = copy.deepcopy(model.discriminator.state_dict())
    for i, data in enumerate(batches(2, size=32)):
        log = model.train_step(data, optim, loss_scaler=scaler,
                               running_status=dict(iteration=i))
        scaler.update()  # as the runner does after each iteration
        assert 'loss_disc_adv_real' in log['log_vars']
    after = model.discriminator.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert scaler.get_scale() == 512.0  # no overflow was seen


def test_non_finite_loss_stops_before_the_update():
    model = build(sngan(dict(type='DAT')))
    optim = optimizers(model)
    train(model, 1, optim=optim)
    before = {k: v.clone() for k, v in model.named_parameters()}
    data = dict(real_img=torch.full((4, 3, 32, 32), float('nan')))
    with pytest.raises(NonFiniteLossError,
                       match=r'non-finite loss at iteration 5: '
                       r'loss_disc_real = nan'):
        model.train_step(data, optim, running_status=dict(iteration=5))
    for name, param in model.named_parameters():
        assert torch.equal(before[name], param), name


# -- validation -------------------------------------------------------------
@pytest.mark.parametrize('adv_cfg, message', [
    (dict(type='FGSM'), r"adv_cfg.type 'FGSM' is not one of \['ASGAN', "
     r"'DAT'"),
    (dict(eps=1.0), 'adv_cfg must be a dict with a type'),
    (dict(type='ASGAN', epsilon=1.0), r'adv_cfg.epsilon is not an option '
     r"of ASGAN; allowed: \['eps', 'perturb_fake', 'update', 'direction', "
     r"'attack_pass'\]"),
    (dict(type='ASGAN', lambda_adv=1.0), 'adv_cfg.lambda_adv is not an '
     'option of ASGAN.*loss weights are DAT options'),
    (dict(type='ASGAN', eps=-1.0), r'adv_cfg \(ASGAN\).eps must be in '
     r'\[0.0, 64.0\], got -1.0'),
    (dict(type='ASGAN', eps=100), r'eps must be in \[0.0, 64.0\], got 100'),
    (dict(type='DAT', eps=100), r'adv_cfg \(DAT\).eps must be in '
     r'\[0.0, 64.0\], got 100'),
    (dict(type='DAT', eps=300, variant='reference'), r'adv_cfg \(DAT\).eps '
     r'must be in \[0.0, 255.0\], got 300'),
    (dict(type='DAT', eps=float('nan')), 'eps must be a finite number'),
    (dict(type='DAT', eps='1'), 'eps must be a finite number'),
    (dict(type='ASGAN', update='twice'), r"update must be one of "
     r"\['second_step', 'joint'\], got 'twice'"),
    (dict(type='ASGAN', direction='noise'), r"direction must be one of "
     r"\['grad', 'gaussian'\]"),
    (dict(type='DAT', variant='official'), r"variant must be one of "
     r"\['paper', 'reference'\], got 'official'"),
    (dict(type='DAT', lambda_adv=-1), r'lambda_adv must be in \[0.0, None'),
    (dict(type='DAT', lambda_clean=0, lambda_adv=0), 'cannot both be 0'),
    (dict(type='DAT', attack_pass='fast'), r"attack_pass must be one of "
     r"\['auto', 'backward', 'separate'\]"),
])
def test_bad_adv_cfg_is_refused_at_build(adv_cfg, message):
    with pytest.raises(ConfigError, match=message):
        build(dcgan(adv_cfg))


def test_conditional_discriminator_without_labels_is_refused():
    cfg = sngan(dict(type='ASGAN'))
    cfg['discriminator']['num_classes'] = 10
    with pytest.raises(ConfigError, match=r'ProjDiscriminator is a '
                       r'conditional discriminator \(num_classes=10\) but '
                       'AdvUnconditionalGAN has no labels'):
        build(cfg)


def test_second_step_with_batch_accumulation_is_refused():
    with pytest.raises(ConfigError, match="update='second_step'.*"
                       'batch_accumulation_steps=2'):
        build(sngan(dict(type='ASGAN'), model_type='AdvConditionalGAN',
                    num_classes=10,
                    train_cfg=dict(batch_accumulation_steps=2)))
