"""SSGAN (rotation self-supervision) and Rob-GAN (PGD attacker, AC
discriminator, robust classifier)."""
import pytest
import torch
from mmgen.models import build_model, build_module

from mmgen_adv.errors import ConfigError
from mmgen_adv.methods import attacks
from mmgen_adv.methods.disc_step import DiscBatch, DiscStep
from mmgen_adv.methods.robust import (accuracy_under_attack,
                                      adversarial_finetune, class_logits)
from mmgen_adv.methods.rotation import rotate_quarters

from conftest import DEVICES
from test_attacks import snapshot


def ssgan(adv_cfg=None, **kwargs):
    cfg = dict(
        type='SSGAN',
        generator=dict(type='SNGANGenerator', output_scale=32,
                       base_channels=16, use_cbn=False),
        discriminator=dict(type='SSGANDiscriminator', input_scale=32,
                           base_channels=16),
        gan_loss=dict(type='GANLoss', gan_type='hinge'), **kwargs)
    if adv_cfg is not None:
        cfg['adv_cfg'] = adv_cfg
    torch.manual_seed(0)
    return build_model(cfg)


def robgan(**kwargs):
    cfg = dict(
        type='RobGAN',
        num_classes=10,
        generator=dict(type='SNGANGenerator', output_scale=32,
                       base_channels=16, num_classes=10),
        discriminator=dict(type='ACDiscriminator', input_scale=32,
                           base_channels=16),
        gan_loss=dict(type='GANLoss', gan_type='vanilla'))
    cfg.update(kwargs)
    torch.manual_seed(0)
    return build_model(cfg)


def optimizers(model):
    return {
        k: torch.optim.Adam(getattr(model, k).parameters(), lr=2e-4)
        for k in ('generator', 'discriminator')
    }


def images(n=8, seed=0):
    return torch.rand(n, 3, 32, 32,
                      generator=torch.Generator().manual_seed(seed)) * 2 - 1


def labels(n=8, seed=0):
    return torch.randint(0, 10, (n, ),
                         generator=torch.Generator().manual_seed(seed))


# -- rotations ----------------------------------------------------------------
def test_rotations_are_labelled_right_and_invertible():
    x = images(8)
    rotated, k = rotate_quarters(x)
    assert k.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    for i in range(8):
        # k quarter turns counter-clockwise: the top row becomes the left
        # column read bottom-up
        expected = x[i]
        for _ in range(int(k[i])):
            expected = expected.transpose(1, 2).flip(1)
        assert torch.equal(rotated[i], expected)
        back = torch.rot90(rotated[i], -int(k[i]), dims=(1, 2))
        assert torch.equal(back, x[i])
    odd = images(5)  # uneven quarters
    rotated, k = rotate_quarters(odd)
    assert k.tolist() == [0, 0, 1, 2, 3]
    for i in range(5):
        assert torch.equal(rotated[i], torch.rot90(odd[i], int(k[i]), (1, 2)))


# -- heads --------------------------------------------------------------------
def test_ssgan_discriminator_heads():
    torch.manual_seed(0)
    disc = build_module(
        dict(type='SSGANDiscriminator', input_scale=32, base_channels=16))
    torch.manual_seed(0)
    plain = build_module(
        dict(type='ProjDiscriminator', input_scale=32, base_channels=16))
    disc.eval(), plain.eval()
    x = images(4)
    logit, rotation = disc(x, return_aux=True)
    assert logit.shape == (4, 1) and rotation.shape == (4, 4)
    # the GAN head is exactly the toolbox's discriminator
    assert torch.equal(disc(x), logit)
    assert torch.allclose(plain(x), logit)
    assert hasattr(disc.aux_head, 'weight_orig')  # spectral norm


@pytest.mark.parametrize('head', [
    dict(type='SSGANDiscriminator'),
    dict(type='ACDiscriminator', num_classes=7),
])
def test_pretrained_weights_include_the_second_head(tmp_path, head):
    cfg = dict(input_scale=32, base_channels=16, **head)
    trained = build_module(cfg)
    torch.save(dict(state_dict=trained.state_dict()), tmp_path / 'd.pth')
    loaded = build_module(dict(cfg, pretrained=str(tmp_path / 'd.pth')))
    for key, value in trained.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_ac_discriminator_heads_ignore_labels():
    disc = build_module(
        dict(type='ACDiscriminator', input_scale=32, base_channels=16,
             num_classes=7))
    disc.eval()
    x = images(4)
    logit, classes = disc(x, return_aux=True)
    assert logit.shape == (4, 1) and classes.shape == (4, 7)
    assert disc.num_classes == 0 and disc.num_aux_classes == 7
    assert torch.equal(disc(x, label=labels(4)), logit)


# -- SSGAN --------------------------------------------------------------------
def test_ssgan_losses_and_upright_gan_loss():
    model = ssgan()
    real = images(8)
    calls = []
    model.discriminator.register_forward_pre_hook(
        lambda m, args, kwargs: calls.append(
            (args[0].detach().clone(), kwargs.get('return_aux', False))),
        with_kwargs=True)
    out = model.train_step(dict(real_img=real), optimizers(model),
                           running_status=dict(iteration=0))['log_vars']
    assert out['loss_disc_rotation'] > 0 and out['loss_gen_rotation'] > 0
    assert 0 <= out['rotation_acc_real'] <= 1
    # D step: fakes, reals (upright, GAN loss), rotated reals (rotation
    # head); G step: fakes (upright), rotated fakes
    flags = [aux for _, aux in calls]
    assert flags == [False, False, True, False, True]
    assert torch.equal(calls[1][0], real)
    assert torch.equal(calls[2][0], rotate_quarters(real)[0])


def test_ssgan_generator_rotation_loss_is_weighted_on_rotated_fakes():
    """G's rotation term: weight x cross-entropy of D's rotation head on its
    own images rotated by quarters (checked at a weight other than the
    default 0.2, against the logits D actually gave)."""
    model = ssgan(gen_rotation_weight=0.35)
    assert ssgan().gen_rotation_weight == 0.2
    calls = []
    model.discriminator.register_forward_hook(
        lambda m, args, kwargs, out: calls.append(
            (args[0].detach().clone(), out)),
        with_kwargs=True)
    out = model.train_step(dict(real_img=images(8)), optimizers(model),
                           running_status=dict(iteration=0))['log_vars']
    (fakes, _), (rotated, (_, logits)) = calls[-2], calls[-1]
    upright, k = rotate_quarters(fakes)
    assert torch.equal(rotated, upright)
    expected = 0.35 * torch.nn.functional.cross_entropy(logits, k)
    assert out['loss_gen_rotation'] == pytest.approx(expected.item(),
                                                     rel=1e-6)


def test_ssgan_rotation_weights():
    model = ssgan(disc_rotation_weight=1.0, gen_rotation_weight=0.2)
    model.discriminator.eval()  # no power iteration between the forwards
    real = images(8)
    terms = model.host_class(model).disc_terms(
        DiscBatch(real, images(8, 1), None, None, iteration=0),
        model.discriminator(images(8, 1)), model.discriminator(real))
    rotated, k = rotate_quarters(real)
    _, logits = model.discriminator(rotated, return_aux=True)
    expected = torch.nn.functional.cross_entropy(logits, k)
    assert torch.allclose(terms['loss_disc_rotation'], expected)
    off = ssgan(disc_rotation_weight=0, gen_rotation_weight=0)
    out = off.train_step(dict(real_img=real), optimizers(off),
                         running_status=dict(iteration=0))['log_vars']
    assert 'loss_disc_rotation' not in out and \
        'loss_gen_rotation' not in out


def test_ssgan_takes_adv_cfg():
    model = ssgan(dict(type='DAT', eps=2.0, score='loss'))
    # the SN ResNet D treats samples independently: signed x.grad is exact
    assert model.adv.attack_pass == 'backward_signed'
    out = model.train_step(dict(real_img=images(8)), optimizers(model),
                           running_status=dict(iteration=0))['log_vars']
    for key in ('loss_disc_adv_real', 'loss_disc_adv_fake',
                'loss_disc_rotation', 'loss_gen_rotation'):
        assert key in out


def test_ssgan_needs_a_rotation_head():
    with pytest.raises(ConfigError, match='SSGAN needs a discriminator with '
                       'a 4-way rotation head'):
        build_model(dict(
            type='SSGAN',
            generator=dict(type='SNGANGenerator', output_scale=32,
                           base_channels=16, use_cbn=False),
            discriminator=dict(type='ProjDiscriminator', input_scale=32,
                               base_channels=16),
            gan_loss=dict(type='GANLoss', gan_type='hinge')))
    with pytest.raises(ConfigError,
                       match='gen_rotation_weight must be >= 0.0, got -1'):
        ssgan(gen_rotation_weight=-1)


# -- Rob-GAN ------------------------------------------------------------------
def pgd_attack(model, x, y):
    """The model's PGD attacker on real images ``x`` labelled ``y``."""
    batch = DiscBatch(x, x, y, y, iteration=0)
    return model.adv.attack(DiscStep(model.host_class(model), batch), x)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('mode', ['eval', 'train'])
def test_pgd_attacker_respects_budget_and_leaves_d_alone(mode, device):
    model = robgan(adv_cfg=dict(type='PGD', eps=4.0, step_size=1.0,
                                steps=5, attack_mode=mode)).to(device)
    disc = model.discriminator
    disc(images(8, 3).to(device))  # SN vectors in use
    before = snapshot(disc)
    x, y = images(8).to(device), labels(8).to(device)
    adv = pgd_attack(model, x, y)
    assert adv.device == x.device
    after = snapshot(disc)
    for key in before:
        assert torch.equal(before[key], after[key]), key
    assert disc.training
    assert (adv - x).abs().max() <= attacks.gray_levels(4.0) + 1e-6
    assert adv.min() >= -1 and adv.max() <= 1
    # the attack raises D's loss on these real images (in its mode)
    host = model.host_class(model)
    with torch.no_grad(), attacks.untouched(disc, mode):
        assert host.real_attack_objective(host.disc(adv, y), y) > \
            host.real_attack_objective(host.disc(x, y), y)


def test_pgd_attacker_uses_labels():
    model = robgan()
    x = images(8)
    first = pgd_attack(model, x, labels(8, 0))
    second = pgd_attack(model, x, labels(8, 1))
    assert not torch.equal(first, second)


def test_robgan_trains_on_attacked_reals():
    model = robgan()
    real, y = images(8), labels(8)
    seen = []
    model.discriminator.register_forward_pre_hook(
        lambda m, args: seen.append(args[0].detach().clone()))
    out = model.train_step(dict(img=real, gt_label=y), optimizers(model),
                           running_status=dict(iteration=0))['log_vars']
    assert 0 < out['adv_delta_real'] <= 4.0 + 1e-4
    # PGD's 5 forwards, then the D update: fakes, then the attacked reals
    trained_real = seen[6]
    assert not torch.equal(trained_real, real)
    assert (trained_real - real).abs().max() <= attacks.gray_levels(4) + 1e-6
    assert 'loss_disc_class_real' in out and 'loss_gen_class' in out
    assert 'loss_disc_class_fake' not in out  # the official "new loss"


def test_robgan_loss_weights():
    """lam on the real/fake terms, 1 - lam on the class terms (checked at
    lam = 0.3, where a swap shows), and no class loss on fakes unless
    fake_class_loss: then the fakes' real/fake term gets lam too."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    ce = torch.nn.functional.cross_entropy
    logit_f, logit_r = torch.randn(8, 1), torch.randn(8, 1)
    class_f, class_r = torch.randn(8, 10), torch.randn(8, 10)
    y, y_fake = labels(8), labels(8, 1)
    batch = DiscBatch(images(8), images(8, 1), y, y_fake, iteration=0)
    for fake_class_loss in (False, True):
        model = robgan(lam=0.3, fake_class_loss=fake_class_loss)
        host = model.host_class(model)
        terms = host.disc_terms(batch, (logit_f, class_f),
                                (logit_r, class_r))
        fake_lam = 0.3 if fake_class_loss else 1.0
        assert terms['loss_disc_real'] == pytest.approx(
            0.3 * bce(logit_r, torch.ones_like(logit_r)).item())
        assert terms['loss_disc_fake'] == pytest.approx(
            fake_lam * bce(logit_f, torch.zeros_like(logit_f)).item())
        assert terms['loss_disc_class_real'] == pytest.approx(
            0.7 * ce(class_r, y).item())
        assert ('loss_disc_class_fake' in terms) == fake_class_loss
        if fake_class_loss:
            assert terms['loss_disc_class_fake'] == pytest.approx(
                0.7 * ce(class_f, y_fake).item())
    gen = host.gen_terms(
        dict(gen=model.generator, disc=model.discriminator,
             fake_imgs=batch.fake, disc_pred_fake_g=(logit_f, class_f),
             iteration=0, batch_size=8, fake_label=y_fake))
    assert gen['loss_disc_fake_g'] == pytest.approx(
        0.3 * bce(logit_f, torch.ones_like(logit_f)).item())
    assert gen['loss_gen_class'] == pytest.approx(
        0.7 * ce(class_f, y_fake).item())
    # the attacker raises the same weighted loss on reals
    assert host.real_attack_objective((logit_r, class_r), y).item() == \
        pytest.approx(0.3 * bce(logit_r, torch.ones_like(logit_r)).item() +
                      0.7 * ce(class_r, y).item())


def test_robgan_options():
    out = robgan(fake_class_loss=True).train_step(
        dict(img=images(8), gt_label=labels(8)), optimizers(robgan()),
        running_status=dict(iteration=0))['log_vars']
    assert 'loss_disc_class_fake' in out
    plain = robgan(adv_cfg=None)
    assert plain.adv is None
    out = plain.train_step(dict(img=images(8), gt_label=labels(8)),
                           optimizers(plain),
                           running_status=dict(iteration=0))['log_vars']
    assert 'adv_delta_real' not in out and 'loss_disc_class_real' in out


@pytest.mark.parametrize('kwargs, message', [
    (dict(adv_cfg=dict(type='DAT')), "RobGAN's attacker is adv_cfg="
     r"dict\(type='PGD'"),
    (dict(lam=1.5), r'lam must be in \[0.0, 1.0\]'),
    (dict(discriminator=dict(type='ProjDiscriminator', input_scale=32,
                             base_channels=16)),
     'RobGAN needs an auxiliary-classifier discriminator'),
    (dict(adv_cfg=dict(type='PGD', steps=0)), r'steps must be an int in '
     r'\[1, 1000\]'),
    (dict(adv_cfg=dict(type='PGD', step_size=-1)), 'step_size must be in'),
    (dict(adv_cfg=dict(type='PGD', attack_mode='test')), 'attack_mode must '
     r"be one of \['eval', 'train'\]"),
])
def test_robgan_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        robgan(**kwargs)


# -- robust classifier ------------------------------------------------------
@pytest.mark.parametrize('device', DEVICES)
def test_accuracy_under_attack_matches_clean_accuracy_at_zero(device):
    model = robgan().to(device)
    disc = model.discriminator
    x, y = images(16), labels(16)
    disc.eval()
    with torch.no_grad():
        logits = class_logits(disc, x.to(device))
        clean = (logits.argmax(1) == y.to(device)).float().mean().item()
    disc.train()
    # batches as a data loader gives them (on the CPU), moved to D's device
    acc = accuracy_under_attack(disc, [(x[:8], y[:8]), (x[8:], y[8:])],
                                eps_grid=(0.0, 8.0), steps=5)
    assert acc[0.0] == pytest.approx(clean)
    assert acc[8.0] <= acc[0.0]
    assert disc.training  # mode restored


@pytest.mark.parametrize('device', DEVICES)
def test_adversarial_finetune_learns_and_uses_generated_images(device):
    model = robgan().to(device)
    x, y = images(16), labels(16)

    def batches():
        while True:
            yield x, y

    calls = []
    model.generator.register_forward_hook(
        lambda m, args, out: calls.append(1))
    logs = []
    before = {k: v.clone() for k, v in model.discriminator.named_parameters()}
    adversarial_finetune(model.discriminator, batches(), 30, eps=1.0,
                         attack_steps=2, lr=1e-2, generator=model.generator,
                         num_classes=10, lam=0.3, log=logs.append,
                         log_interval=10)
    assert len(calls) == 30  # one generated batch per iteration
    assert [log['iter'] for log in logs] == [10, 20, 30]
    assert logs[-1]['loss_real'] < logs[0]['loss_real']
    for log in logs:  # attacked reals + lam x attacked generated images
        assert log['loss'] == pytest.approx(
            log['loss_real'] + 0.3 * log['loss_fake'], rel=1e-6)
    changed = [k for k, v in model.discriminator.named_parameters()
               if not torch.equal(before[k], v)]
    assert changed
