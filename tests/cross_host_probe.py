"""One regularized D update, the same in either host's environment.

    python tests/cross_host_probe.py CASES.pt RESULTS.pt   # either host
    .venv-mmagic/bin/python tests/cross_host_probe.py --compare

``CASES.pt`` holds a list of cases: a tiny discriminator's weights, a batch
(``real``, ``fake``), ``gan_type``, ``adv_cfg`` and whether the model is
SSGAN (D with a rotation head). For each, the host of this environment
(mmgen 0.7.3's or MMagic 1.x's, whichever is installed) builds its model
with that D and loss, makes one D update (the regularizer's, or the
standard one without ``adv_cfg``) with plain SGD, and records every batch
D was called on (the attacked images among them), the logged losses and
D's weights after the step.
``--compare`` (in the MMagic environment) runs every case of
:data:`CASES` here and in the mmgen environment (``.venv``) and prints the
largest differences; the MMagic tier asserts them (tests/mmagic_host/).
"""
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

import mmgen_adv  # noqa: F401  (the mmgen host's compat, where installed)
from mmgen_adv.methods.aux_head import AuxHeadMixin

HOST = 'mmgen' if importlib.util.find_spec('mmgen') else 'mmagic'
ROOT = Path(__file__).resolve().parents[1]
MMGEN_PYTHON = ROOT / '.venv' / 'bin' / 'python'
LR = 0.1
CASES = [
    dict(gan_type=gan_type, adv_cfg=adv_cfg)
    for gan_type in ('hinge', 'vanilla')
    for adv_cfg in (dict(type='ASGAN', eps=2.0),
                    dict(type='DAT', eps=2.0),
                    dict(type='DAT', variant='reference'))
] + [
    dict(gan_type='hinge', ssgan=True, adv_cfg=adv_cfg)
    for adv_cfg in (None, dict(type='DAT', variant='reference'))
]


class TinyDisc(nn.Module):
    """Conv, LeakyReLU, linear: one logit per image (labels ignored)."""

    def __init__(self, in_channels=3, img_size=8, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 8, 3, stride=2, padding=1)
        self.decision = nn.Linear(8 * (img_size // 2)**2, 1)

    def forward(self, x, label=None):
        return self.decision(
            nn.functional.leaky_relu(self.conv(x), 0.2).flatten(1))


class TinyRotationDisc(AuxHeadMixin, TinyDisc):
    """:class:`TinyDisc` with SSGAN's rotation head, as both hosts'
    ``SSGANDiscriminator`` add it."""

    num_rotations = 4

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_aux_head(self.num_rotations)


class TinyGen(nn.Module):
    """A linear map from noise to 3x8x8 images (never used by the probe)."""

    def __init__(self, noise_size=4, **kwargs):
        super().__init__()
        self.noise_size = noise_size
        self.fc = nn.Linear(noise_size, 3 * 8 * 8)

    def forward(self, noise, num_batches=0, label=None, return_noise=False,
                **kwargs):
        if noise is None:
            noise = torch.randn(num_batches, self.noise_size)
        return torch.tanh(self.fc(noise)).view(-1, 3, 8, 8)


def build_mmgen(gan_type, adv_cfg, ssgan=False):
    from mmgen.models.builder import MODULES, build_model
    for cls in (TinyDisc, TinyRotationDisc, TinyGen):
        MODULES.register_module(module=cls, force=True)
    model = build_model(dict(
        type='SSGAN' if ssgan else 'AdvUnconditionalGAN',
        generator=dict(type='TinyGen'),
        discriminator=dict(
            type='TinyRotationDisc' if ssgan else 'TinyDisc'),
        gan_loss=dict(type='GANLoss', gan_type=gan_type),
        adv_cfg=adv_cfg))
    optimizer = torch.optim.SGD(model.discriminator.parameters(), lr=LR)
    return model, model.host_class(model, dict(discriminator=optimizer))


def build_mmagic(gan_type, adv_cfg, ssgan=False):
    import mmgen_adv.mmagic  # noqa: F401
    from mmagic.models import DataPreprocessor
    from mmagic.registry import MODELS
    from mmengine.optim import OptimWrapper
    for cls in (TinyDisc, TinyRotationDisc, TinyGen):
        MODELS.register_module(module=cls, force=True)
    # MMagic's hinge-loss GAN (SNGAN) and its non-saturating one (DCGAN)
    model_type = 'SSGAN' if ssgan else \
        dict(hinge='AdvSNGAN', vanilla='AdvDCGAN')[gan_type]
    model = MODELS.build(dict(
        type=model_type,
        generator=dict(type='TinyGen'),
        discriminator=dict(
            type='TinyRotationDisc' if ssgan else 'TinyDisc'),
        data_preprocessor=DataPreprocessor(),
        noise_size=4,
        adv_cfg=adv_cfg))
    optimizer = torch.optim.SGD(model.discriminator.parameters(), lr=LR)
    return model, model.host_class(model, OptimWrapper(optimizer))


def run_case(case):
    from mmgen_adv.methods.disc_step import DiscBatch, DiscStep
    from mmgen_adv.methods.regularizers import standard_disc_step
    build = build_mmgen if HOST == 'mmgen' else build_mmagic
    model, host = build(case['gan_type'], case['adv_cfg'],
                        case.get('ssgan', False))
    disc = host.discriminator
    disc.load_state_dict(case['disc'])
    seen = []
    disc.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].detach().clone()))
    torch.manual_seed(case.get('seed', 0))
    step = DiscStep(host, DiscBatch(case['real'], case['fake'], None, None,
                                    0))
    if model.adv is None:
        standard_disc_step(step)
    else:
        model.adv.disc_step(step)
    return dict(
        host=HOST,
        inputs=seen,
        log={k: float(v) for k, v in step.log_vars.items()},
        disc={k: v.detach().clone() for k, v in disc.state_dict().items()})


def make_cases():
    """Each case of :data:`CASES` with its own D weights and batch."""
    gen = torch.Generator().manual_seed(0)
    cases = []
    for i, case in enumerate(CASES):
        torch.manual_seed(i)
        disc = TinyRotationDisc() if case.get('ssgan') else TinyDisc()
        cases.append(dict(
            case,
            disc=disc.state_dict(),
            real=torch.rand(6, 3, 8, 8, generator=gen) * 2 - 1,
            fake=torch.rand(6, 3, 8, 8, generator=gen) * 2 - 1))
    return cases


def in_mmgen_environment(cases):
    """:func:`run_case` of every case in the mmgen host's environment."""
    if not MMGEN_PYTHON.exists():
        raise FileNotFoundError(
            f'{MMGEN_PYTHON} is missing: comparing the hosts needs the mmgen '
            'environment too (./setup.sh)')
    with tempfile.TemporaryDirectory() as tmp:
        cases_path, results_path = Path(tmp, 'cases.pt'), Path(tmp, 'out.pt')
        torch.save(cases, cases_path)
        subprocess.run([str(MMGEN_PYTHON), __file__, str(cases_path),
                        str(results_path)], check=True, cwd=ROOT,
                       env=dict(PYTHONPATH=str(ROOT), PATH='/usr/bin:/bin',
                                # the same reductions on both sides
                                OMP_NUM_THREADS=str(torch.get_num_threads())),
                       timeout=600)
        return torch.load(results_path)


def differences(ours, theirs):
    """The largest absolute differences between two hosts' results of one
    case: attacked and clean inputs of D, logged terms, D's weights."""
    def largest(pairs):
        return max((float((a - b).abs().max()) for a, b in pairs),
                   default=0.0)
    assert len(ours['inputs']) == len(theirs['inputs']), 'D calls differ'
    assert ours['log'].keys() == theirs['log'].keys(), 'log keys differ'
    return dict(
        d_calls=len(ours['inputs']),
        inputs=largest(zip(ours['inputs'], theirs['inputs'])),
        log=max(abs(ours['log'][k] - theirs['log'][k]) for k in ours['log']),
        weights=largest((ours['disc'][k], theirs['disc'][k])
                        for k in ours['disc']))


def compare():
    cases = make_cases()
    theirs = in_mmgen_environment(cases)
    print('| model | loss | adv_cfg | D calls | inputs | logged terms | '
          'D weights |')
    print('|---|---|---|---|---|---|---|')
    for case, result in zip(cases, theirs):
        diff = differences(run_case(case), result)
        model = 'SSGAN' if case.get('ssgan') else 'GAN'
        print(f"| {model} | {case['gan_type']} | {case['adv_cfg']} | "
              f"{diff['d_calls']} "
              f"| {diff['inputs']:.1e} | {diff['log']:.1e} | "
              f"{diff['weights']:.1e} |")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv == ['--compare']:
        return compare()
    cases_path, results_path = argv[:2]
    cases = torch.load(cases_path)
    torch.save([run_case(case) for case in cases], results_path)


if __name__ == '__main__':
    main()
