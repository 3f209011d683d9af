"""The toolbox's conv2d_gradfix (StyleGAN2's convolutions on CUDA) with the
weight-gradient fix: the same values and gradients, to second order, as
plain ``F.conv2d`` / ``F.conv_transpose2d``.

The toolbox takes its custom path only for CUDA inputs with cuDNN enabled
(``_should_use_custom_op``); on the CPU it is forced here, and the 1x1
forward's GPU-generation check (``torch.cuda.get_device_capability``) reads
as a GPU's.
"""
import math
import random

import mmgen.ops.conv2d_gradfix as gradfix
import pytest
import torch
import torch.nn.functional as F
from mmgen.models import build_model

from mmgen_adv.runs import compat

# (transpose, in channels, out channels, kernel, stride, padding,
#  output_padding, dilation, groups): StyleGAN2's own shapes (3x3 same,
#  3x3 stride-2 down/up, 1x1 to-RGB, grouped per sample) and more
CASES = [
    (False, 3, 4, 3, 1, 1, 0, 1, 1),
    (False, 4, 6, 3, 2, 0, 0, 1, 2),
    (False, 2, 4, 3, 1, 2, 0, 2, 1),
    (False, 6, 6, 3, 1, 1, 0, 1, 6),
    (False, 4, 3, 1, 1, 0, 0, 1, 1),
    (False, 4, 2, (3, 2), (2, 1), (1, 0), 0, 1, 2),
    (True, 4, 2, 3, 2, 0, 0, 1, 1),
    (True, 4, 6, 3, 2, 1, 1, 1, 2),
    (True, 2, 3, 3, 1, 1, 0, 2, 1),
    (True, 3, 3, 1, 1, 0, 0, 1, 1),
]


def case_id(case):
    kind = 'transposed' if case[0] else 'conv'
    return f'{kind}-k{case[3]}-s{case[4]}-p{case[5]}-op{case[6]}' \
        f'-d{case[7]}-g{case[8]}'


@pytest.fixture(params=[(8, 0), (7, 0)], ids=['ampere', 'volta'])
def custom_path(request, monkeypatch):
    """The toolbox's custom path on any device; its 1x1 forward uses
    cuBLAS-style matrix products on GPUs before Ampere (here: on 'volta')."""
    monkeypatch.setattr(gradfix, '_should_use_custom_op', lambda input: True)
    monkeypatch.setattr(torch.cuda, 'get_device_capability',
                        lambda device=None: request.param)


def make_inputs(case, device='cpu', dtype=torch.float64, seed=0):
    transpose, cin, cout, kernel, *_, groups = case
    gen = torch.Generator().manual_seed(seed)
    kernel = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    shape = (cin, cout // groups) if transpose else (cout, cin // groups)
    tensors = [
        torch.randn(2, cin, 7, 8, generator=gen, dtype=dtype),
        torch.randn(*shape, *kernel, generator=gen, dtype=dtype),
        torch.randn(cout, generator=gen, dtype=dtype)
    ]
    return [t.to(device).requires_grad_() for t in tensors]


def convolve(case, x, w, b, custom):
    transpose, _, _, _, stride, padding, output_padding, dilation, \
        groups = case
    kwargs = dict(stride=stride, padding=padding, dilation=dilation,
                  groups=groups)
    if transpose:
        fn = gradfix.conv_transpose2d if custom else F.conv_transpose2d
        return fn(x, w, b, output_padding=output_padding, **kwargs)
    fn = gradfix.conv2d if custom else F.conv2d
    return fn(x, w, b, **kwargs)


def value_and_derivatives(case, custom, device='cpu', dtype=torch.float64):
    """The output, the first-order gradients of a random projection of it,
    and the second-order gradients of a random projection of those (the
    input-gradient term is what R1 and the path-length regularizer
    differentiate; the weight-gradient term runs the toolbox's
    Conv2dGradWeight.backward)."""
    x, w, b = make_inputs(case, device, dtype)
    y = convolve(case, x, w, b, custom)
    gen = torch.Generator().manual_seed(1)
    probe = torch.randn(y.shape, generator=gen, dtype=dtype).to(device)
    first = torch.autograd.grad((y * probe).sum(), (x, w, b),
                                create_graph=True)
    weights = [torch.randn(g.shape, generator=gen, dtype=dtype).to(device)
               for g in first[:2]]
    mixed = sum((g * v).sum() for g, v in zip(first[:2], weights))
    second = torch.autograd.grad(mixed, (x, w), allow_unused=True)
    return [y, *first, *second]


@pytest.mark.parametrize('case', CASES, ids=case_id)
def test_custom_path_matches_plain_convolution(case, custom_path):
    names = ['output', 'grad x', 'grad w', 'grad b', 'grad2 x', 'grad2 w']
    custom = value_and_derivatives(case, custom=True)
    plain = value_and_derivatives(case, custom=False)
    for name, a, b in zip(names, custom, plain):
        assert b is not None, name
        assert a.shape == b.shape, name
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-10), name


def test_the_custom_path_fails_without_the_fix(custom_path, monkeypatch):
    monkeypatch.setattr(gradfix, '_conv2d_gradfix',
                        compat.ORIGINALS['_conv2d_gradfix'])
    monkeypatch.setattr(gradfix, '_conv2d_gradfix_cache', {})
    case = CASES[0]
    convolve(case, *make_inputs(case), custom=True)  # the forward works
    with pytest.raises(TypeError, match="'tuple' object is not callable"):
        value_and_derivatives(case, custom=True)


def test_each_cached_class_is_fixed_once():
    args = (False, (4, 3, 3, 3), 1, 1, 0, 1, 1)
    conv = gradfix._conv2d_gradfix(*args)
    assert gradfix._conv2d_gradfix(*args) is conv
    grad_weight = compat._closure_variable(conv.backward, 'Conv2dGradWeight')
    fixed = grad_weight.forward
    gradfix._conv2d_gradfix(*args)
    assert grad_weight.forward is fixed
    assert grad_weight.toolbox_forward is not fixed


def stylegan2(out_size=16):
    """The toolbox's StyleGAN2 recipe, tiny, with ASGAN: path length every
    iteration, R1 every other (the toolbox's lazy regularization)."""
    return dict(
        type='AdvUnconditionalGAN',
        generator=dict(type='StyleGANv2Generator', out_size=out_size,
                       style_channels=16, num_mlps=2, channel_multiplier=1),
        discriminator=dict(type='StyleGAN2Discriminator', in_size=out_size,
                           channel_multiplier=1),
        gan_loss=dict(type='GANLoss', gan_type='wgan-logistic-ns'),
        disc_auxiliary_loss=dict(
            type='R1GradientPenalty', loss_weight=5.0, interval=2,
            norm_mode='HWC',
            data_info=dict(real_data='real_imgs', discriminator='disc')),
        gen_auxiliary_loss=dict(
            type='GeneratorPathRegularizer', loss_weight=2.0,
            pl_batch_shrink=2, interval=1,
            data_info=dict(generator='gen', num_batches='batch_size')),
        adv_cfg=dict(type='ASGAN', eps=1.0))


def train_stylegan2(iterations=2, out_size=16):
    torch.manual_seed(0)
    random.seed(0)  # the generator's style mixing draws from here
    model = build_model(stylegan2(out_size))
    # SGD: updates linear in the gradients, so the two paths stay close
    optim = {name: torch.optim.SGD(getattr(model, name).parameters(), lr=0.01)
             for name in ('generator', 'discriminator')}
    gen = torch.Generator().manual_seed(1)
    logs = []
    for i in range(iterations):
        data = dict(real_img=torch.rand(4, 3, out_size, out_size,
                                        generator=gen) * 2 - 1)
        logs.append(model.train_step(data, optim,
                                     running_status=dict(iteration=i)))
    return model, [log['log_vars'] for log in logs]


@pytest.mark.parametrize('custom_path', [(8, 0)], indirect=True,
                         ids=['ampere'])
def test_stylegan2_trains_through_the_custom_path(custom_path, monkeypatch):
    used = []
    fixed = gradfix._conv2d_gradfix
    monkeypatch.setattr(gradfix, '_conv2d_gradfix',
                        lambda **kwargs: used.append(kwargs['transpose']) or
                        fixed(**kwargs))
    model, logs = train_stylegan2()
    assert {False, True} <= set(used)  # convolutions and the upsampling
    assert 'loss_r1_gp' in logs[0]
    for log in logs:
        for key in ('loss_path_regular', 'loss_disc_adv_real'):
            assert key in log, key
        assert all(map(math.isfinite, log.values()))
    monkeypatch.setattr(gradfix, '_should_use_custom_op', lambda input: False)
    plain_model, plain_logs = train_stylegan2()
    for log, plain_log in zip(logs, plain_logs):
        assert log.keys() == plain_log.keys()
        for key in log:
            assert log[key] == pytest.approx(plain_log[key], rel=1e-4,
                                             abs=1e-6), key
    plain = plain_model.state_dict()
    for key, value in model.state_dict().items():
        assert torch.allclose(value, plain[key], rtol=1e-4, atol=1e-5), key


@pytest.mark.cuda
@pytest.mark.parametrize('case', CASES, ids=case_id)
def test_cuda_custom_path_matches_plain_convolution(case, monkeypatch):
    """On the GPU, unforced: the toolbox's own choice of the custom path,
    cuDNN underneath (TF32 off; cuDNN's algorithms still round differently,
    hence float32 tolerances a wrong gradient is far outside)."""
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)
    probe = torch.zeros(1, device='cuda')
    assert gradfix._should_use_custom_op(probe)
    names = ['output', 'grad x', 'grad w', 'grad b', 'grad2 x', 'grad2 w']
    custom = value_and_derivatives(case, True, 'cuda', torch.float32)
    plain = value_and_derivatives(case, False, 'cuda', torch.float32)
    for name, a, b in zip(names, custom, plain):
        assert a.is_cuda and a.shape == b.shape, name
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-3), name
