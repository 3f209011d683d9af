"""Attacks: budgets, directions, and a discriminator left untouched."""
import copy
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmcv.parallel import MMDataParallel
from mmgen.models import build_module

from mmgen_adv.methods import attacks
from mmgen_adv.models.host import MMGenHost

from conftest import DEVICES

EPS = attacks.gray_levels(4)


class LinearDisc(nn.Module):
    """D(x) = <w, x> per sample: every attack's answer is known exactly."""

    def __init__(self, shape=(3, 8, 8), seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(shape, generator=gen))

    def forward(self, x):
        return (x * self.weight).flatten(1).sum(1, keepdim=True)


class StatefulDisc(nn.Module):
    """BatchNorm statistics and spectral-norm vectors that a careless
    attack would update."""

    def __init__(self):
        super().__init__()
        self.conv = nn.utils.spectral_norm(nn.Conv2d(3, 4, 3, padding=1))
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.utils.spectral_norm(nn.Linear(4 * 8 * 8, 1))

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


def images(n=4, seed=1, scale=0.5, device='cpu'):
    gen = torch.Generator().manual_seed(seed)
    return ((torch.rand(n, 3, 8, 8, generator=gen) * 2 - 1) * scale).to(device)


def raw_sum(out):
    return out.sum()


def run_attack(name, disc, x, forward=None):
    if name == 'fgsm':
        return attacks.fgsm(disc, x, raw_sum, EPS, forward=forward)
    if name == 'pgd':
        return attacks.pgd(disc, x, raw_sum, EPS, EPS / 3, 5,
                           forward=forward)
    if name == 'pgd_random_start':
        return attacks.pgd(disc, x, raw_sum, EPS, EPS / 3, 5,
                           random_start=True, forward=forward)
    if name == 'gaussian':
        return attacks.gaussian_direction(x, EPS)
    raise KeyError(name)


ATTACKS = ['fgsm', 'pgd', 'pgd_random_start', 'gaussian']


def snapshot(module):
    return {
        **{f'param:{k}': v.detach().clone()
           for k, v in module.named_parameters()},
        **{f'grad:{k}': v.grad.clone()
           for k, v in module.named_parameters() if v.grad is not None},
        **{f'buffer:{k}': v.clone()
           for k, v in module.named_buffers()},
    }


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('name', ATTACKS)
@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_attack_stays_in_budget_and_leaves_disc_untouched(name, mode, device):
    torch.manual_seed(0)
    disc = StatefulDisc().to(device)
    disc(images(seed=5, device=device))  # real BN statistics and SN vectors
    # existing parameter gradients
    disc(images(seed=6, device=device)).sum().backward()
    disc.train(mode == 'train')
    before = snapshot(disc)
    x = images(scale=1.0, device=device)  # spans the whole range
    adv = run_attack(name, disc, x)
    assert adv.device == x.device
    after = snapshot(disc)
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key
    assert disc.training == (mode == 'train')
    assert all(m.training == disc.training for m in disc.modules())
    assert (adv - x).abs().max() <= EPS + 1e-6
    assert adv.min() >= -1 and adv.max() <= 1
    assert not adv.requires_grad
    assert (adv != x).any()


@pytest.mark.parametrize('device', DEVICES)
def test_fgsm_is_the_sign_of_the_weights_on_a_linear_disc(device):
    disc, x = LinearDisc().to(device), images(device=device)
    adv = attacks.fgsm(disc, x, raw_sum, EPS)
    assert torch.allclose(adv - x, EPS * disc.weight.sign().expand_as(x),
                          atol=1e-7)
    # and it increases the objective by eps * |w|_1 per sample
    gain = disc(adv) - disc(x)
    assert torch.allclose(gain, EPS * disc.weight.abs().sum().expand(4, 1),
                          rtol=1e-4)


def test_gradient_step_is_the_scaled_clamped_direction():
    x, direction = images(), images(seed=2)
    assert torch.allclose(attacks.gradient_step(x, direction, scale=0.1),
                          (x + 0.1 * direction).clamp(-1, 1))
    clamped = attacks.gradient_step(x, direction, clamp=0.01)
    assert torch.allclose(clamped, x + direction.clamp(-0.01, 0.01))
    assert torch.allclose((clamped - x).abs().max(), torch.tensor(0.01))


@pytest.mark.parametrize('device', DEVICES)
def test_pgd_reaches_the_corner_of_the_ball_on_a_linear_disc(device):
    disc, x = LinearDisc().to(device), images(device=device)
    adv = attacks.pgd(disc, x, raw_sum, EPS, EPS / 4, steps=6)
    assert torch.allclose(adv - x, EPS * disc.weight.sign().expand_as(x),
                          atol=1e-6)
    short = attacks.pgd(disc, x, raw_sum, EPS, EPS / 4, steps=2)
    assert (short - x).abs().max().item() == pytest.approx(EPS / 2,
                                                           rel=1e-5)


def test_pgd_random_start_is_inside_the_ball():
    disc, x = LinearDisc(), images()
    start = attacks.pgd(disc, x, raw_sum, EPS, EPS / 4, steps=0,
                        random_start=True,
                        generator=torch.Generator().manual_seed(3))
    delta = start - x
    assert delta.abs().max() <= EPS and delta.abs().max() > EPS / 2
    assert delta.std() > 0


class NanGradDisc(nn.Module):
    """D(x) = sum(x) per sample, whose input gradient is NaN on the first
    image's first channel (as an overflowed fp16 backward can leave)."""

    def forward(self, x):
        x = x * 1.0
        if x.requires_grad:
            nan = torch.zeros_like(x, dtype=torch.bool)
            nan[0, 0] = True
            x.register_hook(lambda g: g.masked_fill(nan, float('nan')))
        return x.flatten(1).sum(1)


@pytest.mark.parametrize('rule', ['sign', 'gradient', 'pgd'])
def test_nan_gradient_entries_do_not_move_the_image(rule):
    """An fp16 backward that overflowed can leave NaNs in x.grad (the loss
    scaler then skips the update); the images must stay finite."""
    x = torch.zeros(2, 3, 4, 4)
    grad = torch.ones_like(x)
    grad[0, 0] = float('nan')
    if rule == 'sign':
        adv = attacks.sign_step(x, grad, 0.1)
    elif rule == 'gradient':
        adv = attacks.gradient_step(x, 0.1 * grad)
    else:
        adv = attacks.pgd(NanGradDisc(), x, raw_sum, 0.1, 0.1, steps=1)
    assert torch.isfinite(adv).all()
    assert torch.equal(adv[0, 0], x[0, 0])
    assert torch.allclose(adv[1], torch.full_like(adv[1], 0.1))


def test_gaussian_direction_moves_about_half_the_pixels_each_way():
    """A random sign per pixel: not a brightness shift (uniform noise would
    move every pixel up), and no direction of D's (it takes none)."""
    x = torch.zeros(8, 3, 16, 16)  # mid-range: no step is clipped
    delta = attacks.gaussian_direction(
        x, EPS, torch.Generator().manual_seed(0)) - x
    up, down = (delta > 0).float().mean(), (delta < 0).float().mean()
    assert up + down == 1  # every pixel moves, by the full step
    assert abs(up - 0.5) < 0.03 and abs(down - 0.5) < 0.03
    # neighbouring pixels' signs are independent, not one per image
    same = (delta.sign()[..., 1:] == delta.sign()[..., :-1]).float().mean()
    assert abs(same - 0.5) < 0.03


@pytest.mark.parametrize('name', ['input_gradient', 'fgsm', 'pgd'])
@pytest.mark.parametrize('attack_mode', ['train', 'eval'])
@pytest.mark.parametrize('start', ['train', 'eval'])
def test_attacks_run_in_their_mode_and_restore_the_start(name, attack_mode,
                                                         start):
    """mode='eval' attacks the inference-mode D, 'train' D as it is; either
    way D (every module) is in its starting mode afterwards."""
    disc = StatefulDisc()
    disc(images(seed=5))
    disc.train(start == 'train')
    during = []
    disc.bn.register_forward_hook(
        lambda module, args, out: during.append(module.training))
    x = images()
    if name == 'input_gradient':
        attacks.input_gradient(disc, x, raw_sum, mode=attack_mode)
    elif name == 'fgsm':
        attacks.fgsm(disc, x, raw_sum, EPS, mode=attack_mode)
    else:
        attacks.pgd(disc, x, raw_sum, EPS, EPS / 3, 3, mode=attack_mode)
    assert during and set(during) == {start == 'train' and
                                      attack_mode == 'train'}
    assert all(m.training == (start == 'train') for m in disc.modules())


def test_gaussian_direction_has_full_size_and_ignores_disc():
    x = images()
    adv = attacks.gaussian_direction(x, EPS,
                                     torch.Generator().manual_seed(0))
    assert torch.allclose((adv - x).abs(), torch.full_like(x, EPS))
    again = attacks.gaussian_direction(x, EPS,
                                       torch.Generator().manual_seed(0))
    assert torch.equal(adv, again)


def test_conditional_attack_uses_labels():
    disc = build_module(
        dict(type='ProjDiscriminator', input_scale=32, base_channels=16,
             num_classes=10))
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    seen = []
    disc.register_forward_pre_hook(
        lambda m, args, kwargs: seen.append(kwargs.get('label')),
        with_kwargs=True)
    labels = torch.tensor([0, 1, 2, 3])

    def with_labels(y):
        return lambda images: disc(images, label=y)

    adv_a = attacks.fgsm(disc, x, raw_sum, EPS, forward=with_labels(labels))
    adv_b = attacks.fgsm(disc, x, raw_sum, EPS,
                         forward=with_labels(torch.tensor([9, 8, 7, 6])))
    assert seen and all(torch.equal(s, labels) for s in seen[:1])
    assert not torch.equal(adv_a, adv_b)  # the class changes the direction
    with pytest.raises(Exception):
        attacks.fgsm(disc, x, raw_sum, EPS)  # no labels: refused by D


class WrapperThatMustNotRun(MMDataParallel):
    """A module wrapper (mmcv's registry counts subclasses) whose own forward
    fails: an attack has to call the module inside."""

    def forward(self, *args, **kwargs):
        raise AssertionError('the attack called the wrapper, not its module')


def attack_through_the_host(wrapped, x):
    """An attack as a training step makes it: on the host's bare D."""
    model = SimpleNamespace(discriminator=wrapped, generator=None,
                            gan_loss=None, _parse_losses=None)
    host = MMGenHost(model)
    assert host.discriminator is wrapped.module
    return attacks.fgsm(host.discriminator, x, raw_sum, EPS,
                        forward=lambda x: host.disc(x, bare=True))


def test_attacks_run_on_the_module_inside_a_wrapper(monkeypatch):
    disc, x = LinearDisc(), images()
    with monkeypatch.context() as cpu_host:
        # mmcv's CPU wrapper (no device ids), also on a GPU host
        cpu_host.setattr(torch.cuda, 'is_available', lambda: False)
        wrapped = WrapperThatMustNotRun(copy.deepcopy(disc))
    assert not wrapped.device_ids
    assert torch.equal(attack_through_the_host(wrapped, x),
                       attacks.fgsm(disc, x, raw_sum, EPS))


@pytest.mark.cuda
def test_attacks_run_on_the_module_inside_a_wrapper_on_the_gpu():
    disc, x = LinearDisc().cuda(), images(device='cuda')
    wrapped = WrapperThatMustNotRun(copy.deepcopy(disc), device_ids=[0])
    adv = attack_through_the_host(wrapped, x)
    assert adv.is_cuda
    assert torch.equal(adv, attacks.fgsm(disc, x, raw_sum, EPS))


def test_bad_arguments_are_refused():
    disc, x = LinearDisc(), images()
    with pytest.raises(ValueError, match="mode must be 'train' or 'eval'"):
        attacks.fgsm(disc, x, raw_sum, EPS, mode='test')
    with pytest.raises(ValueError, match='eps, step_size and steps >= 0'):
        attacks.pgd(disc, x, raw_sum, -1.0, 0.1, 1)
