"""Bad regularizer settings and models they cannot train, refused at
build in one line naming the key and the allowed values."""
import pytest

from mmgen_adv.errors import ConfigError

from gan_fixtures import build, dcgan, sngan


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
