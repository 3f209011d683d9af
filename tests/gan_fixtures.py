"""Small GANs, data and checks shared by the tests of the training step.

``dcgan``/``sngan`` build configs of the toolbox's DCGAN (BatchNorm D) and
SNGAN ResNet (spectral norm, samples independent); ``linear_d_inputs`` runs
one iteration with a frozen linear D whose every answer is known."""
import torch
import torch.nn as nn
from mmgen.models import build_model

from mmgen_adv.methods import attacks

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
