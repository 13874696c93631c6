"""The contract every built-in network keeps, checked on a tiny build of each (the paper's
structure with small widths and depths): output shapes at every supported scale, the input rules
it declares, the multi-scale contract, gradients, clear errors for what it cannot do, the papers'
parameter counts (at paper size) and that it learns a tiny image pair.

What is particular to one network (weight sharing, its authors' released forward) is in
``tests/archs/test_<network>.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
import torch
from torch import nn

from srlab.archs import (
    BTSRN,
    CARN,
    CARNM,
    CMSC,
    DRCN,
    DRRN,
    EDSR,
    ESPCN,
    FSRCNN,
    IDN,
    MDSR,
    RCAN,
    SRCNN,
    VDSR,
    EnhanceNet,
    LapSRN,
    MSLapSRN,
    RRDBNet,
    SelNet,
    SRGANDiscriminator,
    SRResNet,
    VGGDiscriminator,
)
from srlab.core.contract import final_output, is_multi_scale, net_scales
from srlab.core.imresize import imresize
from srlab.losses import CharbonnierLoss, DeepSupervision, L1Loss, WeightedSum
from srlab.metrics import psnr
from srlab.models import SRModule
from tests.helpers import n_params, photo_pair

# tiny builds: the paper structure with small widths/depths (ESPCN and SRCNN are small at their
# paper sizes); the counts test builds the paper sizes
TINY: dict[str, Callable[..., nn.Module]] = {
    "btsrn": lambda **kw: BTSRN(num_feat=8, num_proj_ch=4, num_lr_block=2, num_hr_block=1, **kw),
    "carn": lambda **kw: CARN(num_feat=8, **kw),
    "carn_m": lambda **kw: CARNM(num_feat=8, **kw),
    "cmsc": lambda **kw: CMSC(num_feat=8, num_stage=2, num_module=1, **kw),
    "drcn": lambda **kw: DRCN(num_feat=8, num_recursion=3, **kw),
    "drrn": lambda **kw: DRRN(num_feat=8, num_unit=3, **kw),
    "edsr": lambda **kw: EDSR(num_feat=8, num_block=2, res_scale=0.1, **kw),
    "edsr_baseline": lambda **kw: EDSR(num_feat=8, num_block=2, **kw),
    "enhancenet": lambda **kw: EnhanceNet(num_feat=8, num_block=2, **kw),
    "espcn": lambda **kw: ESPCN(**kw),
    "fsrcnn": lambda **kw: FSRCNN(num_feat=12, num_shrink_ch=4, num_map_layer=2, **kw),
    "fsrcnn_s": lambda **kw: FSRCNN(num_feat=8, num_shrink_ch=3, num_map_layer=1, **kw),
    "idn": lambda **kw: IDN(num_feat=16, num_distill_ch=4, num_block=1, **kw),
    "lapsrn": lambda **kw: LapSRN(num_feat=8, num_layer=2, **kw),
    "mdsr": lambda **kw: MDSR(num_feat=8, num_block=2, **kw),
    "ms_lapsrn": lambda **kw: MSLapSRN(num_feat=8, num_layer=2, num_recursion=2, **kw),
    "rcan": lambda **kw: RCAN(num_feat=8, num_group=2, num_block=2, reduction=4, **kw),
    "rrdbnet": lambda **kw: RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, **kw),
    "selnet": lambda **kw: SelNet(num_feat=8, num_unit=2, **kw),
    "srcnn": lambda **kw: SRCNN(**kw),
    "srresnet": lambda **kw: SRResNet(num_feat=8, num_block=2, **kw),
    "vdsr": lambda **kw: VDSR(num_feat=8, num_layer=5, **kw),
}
SCALES = {  # the scales each network supports (default: x2, x3, x4)
    "enhancenet": (2, 4, 8),
    "lapsrn": (2, 4, 8),
    "ms_lapsrn": (2, 4, 8),
    "rcan": (2, 3, 4, 8),
    "rrdbnet": (2, 4, 8),
    "srresnet": (2, 4, 8),
}
# one model for x2, x3 and x4 (built with scale=[2, 3, 4]; the scale is a forward argument)
MULTI = ("vdsr", "mdsr", "carn", "carn_m")
MULTI_OUTPUT = {"drcn", "cmsc", "lapsrn", "ms_lapsrn"}  # a list of predictions, the last final
PRE_UPSAMPLED = {"vdsr", "drcn", "drrn", "cmsc", "srcnn"}  # fed the bicubic-upscaled LR image
# networks of the Y channel (one input channel); the others take RGB
Y_CHANNEL = {"cmsc", "drcn", "drrn", "espcn", "fsrcnn", "fsrcnn_s", "idn", "lapsrn", "ms_lapsrn"}
Y_CHANNEL |= {"selnet", "srcnn", "vdsr"}


def build(name: str, scale: int) -> nn.Module:
    """``TINY[name]`` for ``scale`` (the multi-scale models for all of x2, x3 and x4)."""
    return TINY[name](scale=[2, 3, 4] if name in MULTI else scale)


def _call(net, x, scale):
    return net(x, scale=scale) if is_multi_scale(net) else net(x)


def _input(net, scale, h=7, w=9, batch=2):
    c = net.in_channels
    return (
        torch.rand(batch, c, h * scale, w * scale)
        if net.pre_upsample
        else torch.rand(batch, c, h, w)
    )


@pytest.mark.parametrize(
    ("name", "scale"), [(n, s) for n in sorted(TINY) for s in SCALES.get(n, (2, 3, 4))]
)
def test_shape_at_every_supported_scale(name, scale):
    net = build(name, scale)
    x = _input(net, scale)
    out = _call(net, x, scale)
    b = 2 * net.border  # SRCNN's valid convolutions: the output lacks a border of that width
    assert final_output(out).shape == (2, net.in_channels, 7 * scale - b, 9 * scale - b)
    if name in MULTI_OUTPUT:
        assert isinstance(out, list) and all(o.dtype == x.dtype for o in out)
    else:
        assert isinstance(out, torch.Tensor)


def test_input_contracts():
    nets = {name: build(name, 2) for name in TINY}
    assert {n for n, net in nets.items() if net.pre_upsample} == PRE_UPSAMPLED
    assert {n for n, net in nets.items() if net.in_channels == 1} == Y_CHANNEL
    assert {n for n, net in nets.items() if net.in_channels == 3} == set(TINY) - Y_CHANNEL
    assert {n: net.border for n, net in nets.items() if net.border} == {"srcnn": 6}


@pytest.mark.parametrize("name", MULTI)
def test_multi_scale_contract(name):
    net = TINY[name](scale=3)
    assert is_multi_scale(net) and net.scale == 3
    want = (3,) if name == "vdsr" else (2, 3, 4)  # VDSR serves the scales it is trained on
    assert net_scales(net) == want
    x = torch.rand(1, net.in_channels, 12, 12)
    assert net(x).shape == _call(net, x, 3).shape  # scale=None is the default scale
    listed = TINY[name](scale=[4, 2])  # data.scale=[4, 2]: default = first listed
    assert listed.scale == 4 and set(net_scales(listed)) >= {2, 4}
    with pytest.raises(ValueError, match="not x5"):
        listed(x, scale=5)


def test_multi_scale_pre_upsampled_nets():
    for name in ("drrn", "cmsc"):
        net = TINY[name](scale=[2, 3, 4])
        assert is_multi_scale(net) and net.scale == 2 and net_scales(net) == (2, 3, 4)
        x = torch.rand(1, 1, 12, 12)
        assert final_output(net(x, scale=3)).shape == x.shape
        with pytest.raises(ValueError, match="not x8"):
            net(x, scale=8)
    assert not is_multi_scale(TINY["drcn"](scale=3))  # one model per scale in the paper


def test_unsupported_scales_are_clear_errors():
    with pytest.raises(ValueError, match="EDSR supports scales x2, x3, x4, not x5"):
        EDSR(scale=5)
    with pytest.raises(ValueError, match="single-scale network"):
        EDSR(scale=[2, 3])
    with pytest.raises(ValueError, match="MDSR supports scales x2, x3, x4, not x8"):
        MDSR(scales=(2, 8))
    mdsr = MDSR(scale=2, scales=(2, 4), num_feat=8, num_block=1)
    with pytest.raises(ValueError, match="MDSR serves scales x2, x4, not x3"):
        mdsr(torch.rand(1, 3, 8, 8), scale=3)
    with pytest.raises(ValueError, match="cannot serve x3"):
        CARN(scale=3, scales=(2, 4))
    with pytest.raises(ValueError, match="cannot upscale x11"):
        FSRCNN(scale=11)
    with pytest.raises(ValueError, match="RCAN supports scales x2, x3, x4, x8, not x5"):
        RCAN(scale=5)
    with pytest.raises(ValueError, match="inconsistent widths"):
        IDN(num_feat=64, num_distill_ch=8)
    for cls in (SRResNet, EnhanceNet, RRDBNet):
        with pytest.raises(ValueError, match="supports scales x2, x4, x8, not x3"):
            cls(scale=3)


@pytest.mark.parametrize("name", sorted(TINY))
def test_forward_backward_and_branch_updates(name):
    scale = 3 if 3 in SCALES.get(name, (2, 3, 4)) else 2
    net = build(name, scale)
    x = torch.rand(2, net.in_channels, *((24, 24) if net.pre_upsample else (4, 4)))
    final_output(_call(net, x, scale)).square().mean().backward()
    grads = {k: p.grad for k, p in net.named_parameters()}
    assert all(g is None or torch.isfinite(g).all() for g in grads.values())
    for k, g in grads.items():
        other_branch = any(f".x{s}." in f".{k}" for s in net_scales(net) if s != scale)
        # a batch of one scale trains the shared modules and that scale's branches only
        assert (g is None) == other_branch, k


def n_weights(m: nn.Module) -> int:
    """Weights only (no biases, no PReLU slopes): some papers count these."""
    return sum(p.numel() for p in m.parameters() if p.dim() > 1)


def n_conv_weights(m: nn.Module) -> int:
    """Convolution weights only: the convention of the Caffe/MatConvNet-era papers' tables."""
    return sum(
        mod.weight.numel()
        for mod in m.modules()
        if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d))
    )


EDSR_BIG = dict(num_feat=256, num_block=32, res_scale=0.1)
# (build at paper size, how the paper counts, its count); all counts include biases, BN affine
# parameters and PReLU slopes unless the counter says otherwise
PAPER_COUNTS: dict[str, list[tuple[Callable[[], nn.Module], Callable[[nn.Module], int], int]]] = {
    "btsrn": [  # the widths of the authors' released code (F=128, projection 64), no paper count
        (partial(BTSRN, scale=2), n_params, 887_683),
        (partial(BTSRN, scale=3), n_params, 969_603),
        (partial(BTSRN, scale=4), n_params, 1_035_459),
    ],
    "carn": [(CARN, n_params, 1_591_939)],  # 1,592K, all three upsamplers
    "carn_m": [(CARNM, n_weights, 412_032), (CARNM, n_params, 414_787)],  # paper: 412K
    "cmsc": [(CMSC, n_params, 4_294_918)],  # the paper's figure topology: see test_cmsc.py
    "drcn": [  # "1,774K"; + 1,025 biases + 16 ensemble weights
        (DRCN, n_conv_weights, 1_774_080),
        (DRCN, n_params, 1_775_121),
    ],
    "drrn": [(DRRN, n_conv_weights, 297_216), (DRRN, n_params, 310_659)],  # "297K"; + BN/Scale
    "edsr": [  # 40.7M (x2), 43M (x4)
        (partial(EDSR, scale=2, **EDSR_BIG), n_params, 40_729_603),
        (partial(EDSR, scale=4, **EDSR_BIG), n_params, 43_089_923),
    ],
    "edsr_baseline": [(partial(EDSR, scale=2), n_params, 1_369_859)],  # 1.37M (x2)
    "enhancenet": [(EnhanceNet, n_params, 852_867)],
    "fsrcnn": [(FSRCNN, n_weights, 12_464), (FSRCNN, n_params, 12_809)],  # paper: 12,464
    "fsrcnn_s": [  # paper: 3,937
        (partial(FSRCNN, num_feat=32, num_shrink_ch=5, num_map_layer=1), n_weights, 3_937)
    ],
    "idn": [  # "553K" counts the biases
        (partial(IDN, scale=3), n_conv_weights, 551_040),
        (partial(IDN, scale=3), n_params, 552_769),
    ],
    "lapsrn": [  # "812K" at x4
        (partial(LapSRN, scale=4), n_conv_weights, 812_768),
        (partial(LapSRN, scale=4), n_params, 814_242),
        (partial(LapSRN, scale=8), n_conv_weights, 1_218_864),
    ],
    "mdsr": [(MDSR, n_params, 7_953_987)],  # 8.0M, all branches
    "ms_lapsrn": [  # "222K"
        (partial(MSLapSRN, scale=8), n_conv_weights, 222_352),
        (partial(MSLapSRN, scale=8), n_params, 222_801),
    ],
    "rcan": [
        (partial(RCAN, scale=2), n_params, 15_444_643),
        (partial(RCAN, scale=3), n_params, 15_629_283),
        (partial(RCAN, scale=4), n_params, 15_592_355),
    ],
    "rrdbnet": [(RRDBNet, n_params, 16_697_987)],  # the paper's 16.7M
    "selnet": [  # no count known from the papers: pinned so that a change is noticed
        (partial(SelNet, scale=2), n_params, 979_009),
        (partial(SelNet, scale=3), n_params, 1_163_649),
        (partial(SelNet, scale=4), n_params, 1_422_145),
    ],
    "srgan_discriminator": [(SRGANDiscriminator, n_params, 23_563_649)],
    "srresnet": [(SRResNet, n_params, 1_549_462)],  # "about 1.5M"
    "vdsr": [(VDSR, n_weights, 664_704), (VDSR, n_params, 665_921)],  # paper: 665K (weights)
    "vgg_discriminator": [(VGGDiscriminator, n_params, 14_499_401)],
}  # ESPCN's and SRCNN's counts (a formula of the scale) are in test_espcn.py, test_srcnn.py


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_parameter_counts_match_the_papers(name):
    with torch.device("meta"):  # paper sizes, no memory allocated
        counts = [count(make()) for make, count, _ in PAPER_COUNTS[name]]
    assert counts == [want for _, _, want in PAPER_COUNTS[name]]


def test_idn_and_selnet_add_matlab_bicubic():
    x = torch.rand(1, 1, 7, 9)
    for net in (TINY["idn"](scale=3), TINY["selnet"](scale=3)):
        last = net.rblock if isinstance(net, IDN) else net.tail
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
        torch.testing.assert_close(net(x), imresize(x, 3), atol=1e-5, rtol=0)


def _loss(name):
    if name in ("drcn", "cmsc"):
        return WeightedSum({"deep": DeepSupervision(L1Loss(), alpha=0.5)})
    if name in ("lapsrn", "ms_lapsrn"):
        return WeightedSum({"charbonnier": DeepSupervision(CharbonnierLoss())})
    return WeightedSum({"l1": L1Loss()})


# the x4 pyramids and the x4-only GAN generators train at x4, the others at x2; the pyramids
# reach the bilinear/bicubic level within ~40 steps, then rise more slowly: 80 steps for them
OVERFIT_SCALE = {n: 4 for n in ("lapsrn", "ms_lapsrn", "enhancenet", "rrdbnet", "srresnet")}
OVERFIT_STEPS = {"lapsrn": 80, "ms_lapsrn": 80}
# the least gain in dB (measured: +2.9 dB for LapSRN, +4 to +21 dB for the others, but EnhanceNet,
# which starts at the bicubic image, its residual ~0 at init, and gains +0.5 dB over it)
OVERFIT_GAIN = {"lapsrn": 2.0, "enhancenet": 0.3}
OVERFIT_FAST = "fsrcnn"  # the representative of the loop in `pytest -m "not slow"`


@pytest.mark.parametrize(
    "name",
    [n if n == OVERFIT_FAST else pytest.param(n, marks=pytest.mark.slow) for n in sorted(TINY)],
)
def test_each_network_overfits_a_tiny_pair(name):
    torch.manual_seed(0)
    scale = OVERFIT_SCALE.get(name, 2)
    net = TINY[name](scale=scale)
    module = SRModule(
        net, loss=_loss(name), optimizer=lambda params: torch.optim.Adam(params, lr=3e-3)
    )
    module.log = lambda *a, **k: None
    lr, hr = photo_pair(scale, 32, seed=5)
    batch = {"lr": lr, "hr": hr, "scale": torch.tensor([scale])}

    def score():
        module.eval()  # batch-norm networks (DRRN, SRResNet): their running statistics
        with torch.no_grad():
            value = float(psnr(module(lr).clamp(0, 1), hr, crop_border=scale)[0])
        module.train()
        return value

    before = score()
    opt = module.configure_optimizers()
    for _ in range(OVERFIT_STEPS.get(name, 40)):
        opt.zero_grad()
        module.training_step(batch, 0).backward()
        opt.step()
    after = score()
    assert after > before + OVERFIT_GAIN.get(name, 3.0), (name, before, after)
