"""The regularized D updates: their steps, terms, weights and logs; the
toolbox's auxiliary losses, conditional labels, the fp16 loss scaler and
non-finite losses."""
import math

import pytest
import torch

from mmgen_adv.errors import NonFiniteLossError
from mmgen_adv.methods.host import NonFiniteGuard

from gan_fixtures import (batches, build, count_calls, dcgan, image_size,
                          optimizers, sngan, train)

MAX_NONFINITE_FP16_ITERS = NonFiniteGuard.MAX_FP16_ITERS


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
    joint = build(sngan(dict(type='ASGAN', update='joint')))
    assert all('adv_gap_real' in o['log_vars'] for o in train(joint, 2))


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
