"""Where each attack moves each sample, per GAN loss and option, on a
frozen linear discriminator whose every answer is known."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmgen_adv.methods import attacks

from gan_fixtures import (FAKE_D, GAN_TYPES, REAL_D, attacked_moves, build,
                          dcgan, linear_d_inputs, train)


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


def test_asgan_gaussian_direction_is_not_the_gradient_attack():
    """direction='gaussian' (the paper's ablation) moves each real by a
    random sign per pixel, taking no input gradient: D's score on the
    attacked reals barely moves, where the gradient attack lowers it by
    eps * |w|_1 on every real."""
    def attacked(direction):
        model, disc, reals, _, seen, _ = linear_d_inputs(
            dict(type='ASGAN', eps=2.0, direction=direction), 'vanilla')
        with torch.no_grad():
            change = (disc(seen[2]) - disc(reals)).flatten()
        along = ((seen[2] - reals) * disc.weight.sign()).flatten(1)
        return change, along

    drop = attacks.gray_levels(2.0) * 8  # |w|_1 = 8
    change, along = attacked('grad')
    assert torch.allclose(change, torch.full_like(change, -drop), atol=1e-5)
    change, along = attacked('gaussian')
    assert change.abs().max() < 0.25 * drop
    # each real: about half its pixels with D's gradient, half against
    with_w = (along > 0).float().mean(1)
    assert ((with_w - 0.5).abs() < 0.1).all()


@pytest.mark.parametrize('direction, needs_gradient', [('grad', True),
                                                        ('gaussian', False)])
def test_asgan_gaussian_direction_takes_no_input_gradient(direction,
                                                          needs_gradient):
    model = build(dcgan(dict(type='ASGAN', direction=direction),
                        train_cfg=dict(disc_steps=100)))
    grad_needed = []
    model.discriminator.register_forward_hook(
        lambda module, args, out: grad_needed.append(args[0].requires_grad))
    train(model, 1)
    # the clean forwards (fakes, reals) come first
    assert grad_needed[1] == needs_gradient and not grad_needed[0]


def test_dat_step_overrides_the_variants_step():
    """variant='reference' with step='sign': the official objective moved by
    a sign step of eps (not its clamped raw gradient)."""
    _, disc, reals, fakes, seen, _ = linear_d_inputs(
        dict(type='DAT', variant='reference', step='sign', eps=2.0), 'hinge')
    step = attacks.gray_levels(2.0) * disc.weight.detach().sign()
    # reals toward the fakes' mean (D down), fakes toward the reals' (up)
    assert torch.allclose(seen[2], reals - step, atol=1e-7)
    assert torch.allclose(seen[3], fakes + step, atol=1e-7)
