"""AdvUnconditionalGAN / AdvConditionalGAN with ASGAN and DAT."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmgen.models import build_model

from mmgen_adv.errors import ConfigError, NonFiniteLossError
from mmgen_adv.methods import attacks
from mmgen_adv.models.host import NonFiniteGuard

MAX_NONFINITE_FP16_ITERS = NonFiniteGuard.MAX_FP16_ITERS

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
          gan_type='hinge', **kwargs):
    """The toolbox's SNGAN ResNet at 32px: spectral norm, no D BatchNorm."""
    cfg = dict(
        type=model_type,
        generator=dict(type='SNGANGenerator', output_scale=32,
                       base_channels=16, num_classes=num_classes,
                       use_cbn=num_classes > 0),
        discriminator=dict(type='ProjDiscriminator', input_scale=32,
                           base_channels=16, num_classes=num_classes),
        gan_loss=dict(type='GANLoss', gan_type=gan_type), **kwargs)
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


def count_calls(obj, name):
    """Wrap ``obj.name`` to count its calls; returns the counter list."""
    calls = []
    original = getattr(obj, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    setattr(obj, name, counted)
    return calls


# -- the toolbox's updates where no attack is made ----------------------------
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


# -- attack directions, per GAN loss, on a discriminator with known answers --
class LinearDisc(nn.Module):
    """D(x) = <w, x> per sample: the input gradient is w everywhere."""

    def __init__(self, size=16):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        w = torch.randn(3, size, size, generator=gen)
        # |w|_1 = 8: an image 0.5 * a * sign(w) scores D = 4a
        self.weight = nn.Parameter(w / w.abs().sum() * 8)

    def forward(self, x):
        return (x * self.weight).flatten(1).sum(1, keepdim=True)

    def images(self, outputs):
        """Images on which D outputs exactly ``outputs`` (within the image
        range by a margin, so small steps are not clamped)."""
        a = torch.tensor(outputs).view(-1, 1, 1, 1) / 4
        return 0.5 * a * self.weight.detach().sign()


class FixedGenerator(nn.Module):
    """A generator that always returns the same images."""

    def __init__(self, images):
        super().__init__()
        self.images = images
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, noise, num_batches=0, **kwargs):
        return self.images.clone()


# reals outside the hinge margin (3, 1.5), inside it (0.5), and below the
# fakes' mean (-2); the fakes mirror them. Means: reals 0.75, fakes -0.75.
REAL_D = [3.0, 1.5, 0.5, -2.0]
FAKE_D = [-3.0, -1.5, -0.5, 2.0]


def linear_d_inputs(adv_cfg, gan_type):
    """One iteration with a frozen linear D on reals/fakes of known scores;
    returns the model, D, the reals, the fakes, every input D saw (in
    order: clean fakes, clean reals, attacked reals (, attacked fakes)) and
    the step's output."""
    model = build(dcgan(adv_cfg, gan_type=gan_type,
                        train_cfg=dict(disc_steps=100)))
    disc = LinearDisc()
    reals, fakes = disc.images(REAL_D), disc.images(FAKE_D)
    model.discriminator = disc
    model.generator = FixedGenerator(fakes)
    model.adv.bind(model.host_class(model))
    seen = []
    disc.register_forward_hook(
        lambda module, args, out: seen.append(args[0].detach().clone()))
    frozen = {k: torch.optim.SGD(getattr(model, k).parameters(), lr=0.0)
              for k in ('generator', 'discriminator')}
    out = model.train_step(dict(real_img=reals), frozen,
                           running_status=dict(iteration=0))
    return model, disc, reals, fakes, seen, out


def attacked_moves(adv_cfg, gan_type, eps=2.0):
    """Per side, each sample's move along the linear D's gradient (see
    ``linear_d_inputs``): +1 (D up, toward "real"), -1 (toward "fake") or 0
    (not moved)."""
    model, disc, reals, fakes, seen, _ = linear_d_inputs(
        dict(adv_cfg, eps=eps), gan_type)
    moves = {}
    for side, clean, adv in (('real', reals, seen[2]),
                             ('fake', fakes, seen[3] if len(seen) > 3 else
                              None)):
        if adv is None:
            continue
        along = ((adv - clean) * disc.weight.detach().sign()).flatten(1)
        step = attacks.gray_levels(eps)
        # a sign step: each sample moves every pixel by +-step, or not at all
        full = ((along.abs() - step).abs() < 1e-6).all(1)
        still = (along == 0).all(1)
        assert (full | still).all()
        moves[side] = (along.mean(1) / step).round().tolist()
    return model, moves


@pytest.mark.parametrize('attack_pass', ['auto', 'separate'])
@pytest.mark.parametrize('gan_type', GAN_TYPES)
def test_asgan_moves_every_real_toward_fake_by_default(gan_type, attack_pass):
    """Reals with D(x) > 1 included (hinge's dead zone, LSGAN's turn)."""
    _, moves = attacked_moves(dict(type='ASGAN', attack_pass=attack_pass),
                              gan_type)
    assert moves == dict(real=[-1, -1, -1, -1])


@pytest.mark.parametrize('update', ['second_step', 'joint'])
@pytest.mark.parametrize('gan_type', GAN_TYPES)
def test_asgan_perturb_fake_moves_every_fake_toward_real(gan_type, update):
    model, moves = attacked_moves(
        dict(type='ASGAN', perturb_fake=True, update=update), gan_type)
    assert moves == dict(real=[-1, -1, -1, -1], fake=[1, 1, 1, 1])


@pytest.mark.parametrize('gan_type, expected', [
    ('vanilla', [-1, -1, -1, -1]),
    ('wgan', [-1, -1, -1, -1]),
    ('wgan-logistic-ns', [-1, -1, -1, -1]),
    # the literal form's dead zone: reals beyond the margin stay put
    ('hinge', [0, 0, -1, -1]),
    # and LSGAN's: above the real label (1) the loss ascent pushes D up
    ('lsgan', [1, 1, -1, -1]),
])
def test_asgan_literal_loss_form(gan_type, expected):
    _, moves = attacked_moves(dict(type='ASGAN', score='loss'), gan_type)
    assert moves == dict(real=expected)


def toward_mean(scores, target):
    """DAT's expected move of each sample: toward the other side's mean."""
    return [float(-math.copysign(1, s - target)) if s != target else 0.0
            for s in scores]


@pytest.mark.parametrize('attack_pass', ['auto', 'separate'])
@pytest.mark.parametrize('gan_type', GAN_TYPES)
def test_dat_moves_each_sample_toward_the_other_classs_mean(
        gan_type, attack_pass):
    """Reals toward the fakes' mean output (-0.75), fakes toward the reals'
    (0.75): a real below the fakes' mean moves up; one between the fakes'
    mean and its own moves down (the reals' own mean would send it up)."""
    _, moves = attacked_moves(
        dict(type='DAT', score='output', attack_pass=attack_pass), gan_type)
    assert moves == dict(real=toward_mean(REAL_D, -0.75),
                         fake=toward_mean(FAKE_D, 0.75))
    assert moves['real'] == [-1, -1, -1, 1]


# per-sample D losses, written out independently of GANLoss
PER_SAMPLE_LOSS = {
    'vanilla': (lambda d: F.softplus(-d), lambda d: F.softplus(d)),
    'lsgan': (lambda d: (d - 1)**2, lambda d: d**2),
    'wgan': (lambda d: -d, lambda d: d),
    'hinge': (lambda d: F.relu(1 - d), lambda d: F.relu(1 + d)),
    'wgan-logistic-ns': (lambda d: F.softplus(-d), lambda d: F.softplus(d)),
}


def literal_dat_moves(gan_type):
    """Eq. 9-10 by hand: each side's per-sample loss g (as that side)
    moved toward g's mean over the other side; the move in D is
    -sign(g_i - target) * sign(g'(D_i))."""
    moves = {}
    for side, own, other, index in (('real', REAL_D, FAKE_D, 0),
                                    ('fake', FAKE_D, REAL_D, 1)):
        g = PER_SAMPLE_LOSS[gan_type][index]
        target = g(torch.tensor(other)).mean()
        d = torch.tensor(own, requires_grad=True)
        values = g(d)
        slope, = torch.autograd.grad(values.sum(), d)
        moves[side] = (-torch.sign(values.detach() - target) *
                       torch.sign(slope)).tolist()
    return moves


@pytest.mark.parametrize('attack_pass', ['auto', 'separate'])
@pytest.mark.parametrize('gan_type', GAN_TYPES)
def test_dat_literal_loss_form_follows_eq_9(gan_type, attack_pass):
    _, moves = attacked_moves(
        dict(type='DAT', score='loss', attack_pass=attack_pass), gan_type)
    assert moves == literal_dat_moves(gan_type)


def test_dat_literal_form_has_the_dead_zone_under_hinge():
    """Under hinge, reals beyond the margin (D > 1) and fakes below -1 are
    not moved by the literal form; 'auto' moves them."""
    _, literal = attacked_moves(dict(type='DAT', score='loss'), 'hinge')
    assert literal['real'][:2] == [0, 0] and literal['fake'][:2] == [0, 0]
    model, auto = attacked_moves(dict(type='DAT'), 'hinge')
    assert model.adv.score == 'output'
    assert 0 not in auto['real'] + auto['fake']


def test_dat_gradient_step_is_eq_10():
    """step='gradient': x - eps * grad_x sum_i |D(x_i) - t| (2/255 per gray
    level), the raw gradient of Eq. 10, not its sign."""
    cfg = dict(type='DAT', step='gradient', eps=3.0, score='output')
    model, disc, reals, _, seen, _ = linear_d_inputs(cfg, 'wgan')
    assert model.adv.attack_pass == 'separate'  # needs the size
    side = torch.tensor(toward_mean(REAL_D, -0.75)).view(-1, 1, 1, 1)
    expected = reals + attacks.gray_levels(3.0) * side * disc.weight.detach()
    assert torch.allclose(seen[2], expected, atol=1e-7)


def test_dat_reference_step_is_the_clamped_raw_gradient():
    """The official code: x - clamp(grad_x |mean D(x) - t|, -eps, eps):
    every real moves by w / N (toward the fakes), under the clamp."""
    _, disc, reals, fakes, seen, log = linear_d_inputs(
        dict(type='DAT', variant='reference', eps=0.2), 'hinge')
    step = (-disc.weight.detach() / 4).clamp(-attacks.gray_levels(0.2),
                                             attacks.gray_levels(0.2))
    assert torch.allclose(seen[2], reals + step, atol=1e-7)
    assert torch.allclose(seen[3], fakes - step, atol=1e-7)
    # D trains on the adversarial loss only
    assert 'loss_disc_real' not in log['log_vars']


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


# -- the updates themselves --------------------------------------------------
def test_asgan_second_step_is_a_second_update():
    model = build(dcgan(dict(type='ASGAN')))
    optim = optimizers(model)
    steps = count_calls(optim['discriminator'], 'step')
    train(model, 2, optim=optim)
    assert len(steps) == 4
    joint = build(dcgan(dict(type='ASGAN', update='joint')))
    optim = optimizers(joint)
    steps = count_calls(optim['discriminator'], 'step')
    train(joint, 2, optim=optim)
    assert len(steps) == 2


@pytest.mark.parametrize('arch', [sngan, dcgan])
def test_asgan_gap_costs_a_forward_only_when_logged(arch):
    """update='second_step' measures D(x_adv) - D(x) under the updated D
    every gap_interval iterations (one more D forward then), else not
    (BatchNorm D included: the extra forward leaves its buffers as the
    backward needs them)."""
    model = build(arch(dict(type='ASGAN', gap_interval=3),
                       train_cfg=dict(disc_steps=100)))
    forwards = []
    model.discriminator.register_forward_hook(
        lambda *args: forwards.append(1))
    optim = optimizers(model)
    logged, per_iteration = [], []
    for i, data in enumerate(batches(6, size=image_size(model))):
        forwards.clear()
        out = model.train_step(data, optim, running_status=dict(iteration=i))
        logged.append('adv_gap_real' in out['log_vars'])
        per_iteration.append(len(forwards))
    assert logged == [False, False, True, False, False, True]
    assert per_iteration == [3, 3, 4, 3, 3, 4]
    assert all('adv_gap_real' in o['log_vars']
               for o in train(build(sngan(dict(type='ASGAN',
                                                update='joint'))), 2))


@pytest.mark.parametrize('adv_cfg', [
    dict(type='ASGAN', eps=3.0, update='joint'),
    dict(type='ASGAN', eps=3.0, perturb_fake=True, update='joint'),
    dict(type='DAT', eps=3.0),
    dict(type='ASGAN', eps=3.0, direction='gaussian', gap_interval=1),
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
    for out in train(model, 3):
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


def test_dat_weights_the_clean_and_adversarial_terms():
    lam = dict(lambda_clean=0.25, lambda_adv=2.0)
    weighted = train(build(sngan(dict(type='DAT', eps=1.0, **lam))),
                     1)[0]['log_vars']
    plain = train(build(sngan(dict(type='DAT', eps=1.0))), 1)[0]['log_vars']
    for key, factor in (('loss_disc_real', 0.25), ('loss_disc_fake', 0.25),
                        ('loss_disc_adv_real', 2.0),
                        ('loss_disc_adv_fake', 2.0)):
        assert math.isclose(weighted[key], factor * plain[key],
                            rel_tol=1e-5), key


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
    assert model.adv.attack_pass == 'separate'  # minibatch stddev
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


class CountingScaler(torch.amp.GradScaler):
    """The CPU GradScaler, counting its updates."""

    def __init__(self):
        super().__init__('cpu', init_scale=512.0)
        self.updates = 0

    def update(self, new_scale=None):
        self.updates += 1
        super().update(new_scale)


@pytest.mark.parametrize('adv_cfg, updates_per_iteration', [
    (None, 1),
    (dict(type='DAT', eps=2.0), 1),
    (dict(type='ASGAN', eps=2.0, update='joint'), 1),
    # each D optimizer step is a scaler step: one more between the two
    (dict(type='ASGAN', eps=2.0), 2),
])
def test_fp16_loss_scaler_updates(adv_cfg, updates_per_iteration):
    """A GradScaler unscales each optimizer once per update(): ASGAN's
    second step updates it in between; the runner then updates it once
    more after the iteration (done here by hand). CPU scaler, fp32."""
    model = build(sngan(adv_cfg))
    optim = optimizers(model)
    scaler = CountingScaler()
    before = {k: v.clone() for k, v in model.discriminator.state_dict()
              .items()}
    for i, data in enumerate(batches(3, size=32)):
        log = model.train_step(data, optim, loss_scaler=scaler,
                               running_status=dict(iteration=i))
        scaler.update()  # as the runner does after each iteration
        assert all(math.isfinite(v) for v in log['log_vars'].values())
    assert scaler.updates == 3 * updates_per_iteration
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


def test_fp16_overflow_is_skipped_until_it_persists():
    """Under the loss scaler a non-finite loss is an overflow the scaler
    skips (D unchanged, scale lowered); only a run of
    MAX_NONFINITE_FP16_ITERS such iterations stops training."""
    model = build(sngan(dict(type='DAT')))
    optim = optimizers(model)
    scaler = CountingScaler()
    nan_batch = dict(real_img=torch.full((4, 3, 32, 32), float('nan')))
    disc = {k: v.clone() for k, v in model.discriminator.named_parameters()}
    for i in range(MAX_NONFINITE_FP16_ITERS - 1):
        model.train_step(nan_batch, optim, loss_scaler=scaler,
                         running_status=dict(iteration=i))
        scaler.update()
    for name, param in model.discriminator.named_parameters():
        assert torch.equal(disc[name], param), name
    assert scaler.get_scale() == 512.0 / 2**(MAX_NONFINITE_FP16_ITERS - 1)
    # a finite iteration ends the run of skipped ones ...
    model.train_step(next(iter(batches(1, size=32))), optim,
                     loss_scaler=scaler, running_status=dict(iteration=20))
    scaler.update()
    assert any(not torch.equal(disc[name], param)
               for name, param in model.discriminator.named_parameters())
    for i in range(MAX_NONFINITE_FP16_ITERS - 1):
        model.train_step(nan_batch, optim, loss_scaler=scaler,
                         running_status=dict(iteration=21 + i))
        scaler.update()
    # ... and one that persists stops training
    with pytest.raises(NonFiniteLossError, match=(
            r'loss_disc_real = nan.* \(16 iterations in a row under the fp16 '
            r'loss scaler\)')):
        model.train_step(nan_batch, optim, loss_scaler=scaler,
                         running_status=dict(iteration=40))


# -- validation -------------------------------------------------------------
@pytest.mark.parametrize('adv_cfg, message', [
    (dict(type='FGSM'), r"adv_cfg.type 'FGSM' is not one of \['ASGAN', "
     r"'DAT'"),
    (dict(eps=1.0), 'adv_cfg must be a dict with a type'),
    (dict(type='ASGAN', epsilon=1.0), r'adv_cfg.epsilon is not an option '
     r"of ASGAN; allowed: \['eps', 'score', 'perturb_fake', 'update', "
     r"'second_step_fakes', 'direction', 'gap_interval', 'attack_pass'\]"),
    (dict(type='ASGAN', lambda_adv=1.0), 'adv_cfg.lambda_adv is not an '
     r'option of ASGAN.* \(lambda_adv is an option of DAT\)'),
    (dict(type='ASGAN', epss=1.0), "adv_cfg.epss is not an option of ASGAN"
     r".*; did you mean 'eps'\?"),
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
    (dict(type='ASGAN', score='logit'), r"score must be one of "
     r"\['auto', 'output', 'loss'\], got 'logit'"),
    (dict(type='ASGAN', gap_interval=-1), r'gap_interval must be an int '
     r'>= 0, got -1'),
    (dict(type='ASGAN', perturb_fake=1), r'perturb_fake must be True or '
     'False, got 1'),
    (dict(type='ASGAN', second_step_fakes=True, update='joint'),
     r"second_step_fakes=True adds the clean fakes to "
     r"update='second_step'"),
    (dict(type='DAT', variant='official'), r"variant must be one of "
     r"\['paper', 'reference'\], got 'official'"),
    (dict(type='DAT', step='fgsm'), r"step must be one of \['sign', "
     r"'gradient', 'clamped_gradient'\], got 'fgsm'"),
    (dict(type='DAT', lambda_adv=-1), 'lambda_adv must be >= 0.0, got -1'),
    (dict(type='DAT', lambda_clean=0, lambda_adv=0), 'cannot both be 0'),
    (dict(type='DAT', attack_pass='fast'), r"attack_pass must be one of "
     r"\['auto', 'backward', 'separate'\]"),
])
def test_bad_adv_cfg_is_refused_at_build(adv_cfg, message):
    with pytest.raises(ConfigError, match=message):
        build(dcgan(adv_cfg))


def test_a_gan_loss_without_a_real_direction_is_refused():
    cfg = dcgan(dict(type='DAT', score='output'), gan_type='lsgan')
    cfg['gan_loss'].update(real_label_val=0.5, fake_label_val=0.5)
    with pytest.raises(ConfigError, match=r"GANLoss\('lsgan'\) has equal "
                       r'real and fake labels \(0.5\)'):
        build(cfg)


def test_conditional_discriminator_without_labels_is_refused():
    cfg = sngan(dict(type='ASGAN'))
    cfg['discriminator']['num_classes'] = 10
    with pytest.raises(ConfigError, match=r'ProjDiscriminator is a '
                       r'conditional discriminator \(num_classes=10\) but '
                       'AdvUnconditionalGAN has no labels'):
        build(cfg)
    cfg.pop('adv_cfg')  # refused without adversarial training too
    with pytest.raises(ConfigError, match='AdvUnconditionalGAN has no '
                       'labels'):
        build(cfg)


def test_unconditional_discriminator_in_a_conditional_gan_is_refused():
    cfg = sngan(model_type='AdvConditionalGAN', num_classes=10)
    cfg['discriminator']['num_classes'] = 0
    with pytest.raises(ConfigError, match=r'AdvConditionalGAN trains a '
                       r'conditional generator \(num_classes=10\), but '
                       r'ProjDiscriminator is unconditional'):
        build(cfg)


def test_second_step_with_batch_accumulation_is_refused():
    with pytest.raises(ConfigError, match="update='second_step'.*"
                       'batch_accumulation_steps=2'):
        build(sngan(dict(type='ASGAN'), model_type='AdvConditionalGAN',
                    num_classes=10,
                    train_cfg=dict(batch_accumulation_steps=2)))
