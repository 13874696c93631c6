"""VDSR, FSRCNN(-s), EDSR(-baseline), MDSR, CARN, CARN-M: shapes, scales, sharing, counts, overfit."""

import pytest
import torch
from torch import nn

from srlab.archs import (
    CARN,
    CARNM,
    EDSR,
    FSRCNN,
    MDSR,
    VDSR,
    MeanShift,
    ResidualBlockNoBN,
    Upsampler,
)
from srlab.archs.fsrcnn import deconv_padding
from srlab.core.contract import is_multi_scale, net_scales
from srlab.core.imresize import imresize
from srlab.losses import L1Loss, WeightedSum
from srlab.metrics import psnr
from srlab.models import SRModule
from tests.conftest import make_photo


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def n_weights(m):  # weights only (no biases, no PReLU slopes): some papers count these
    return sum(p.numel() for p in m.parameters() if p.dim() > 1)


# tiny builds: the paper structure with small widths/depths (the counts test uses paper sizes)
TINY = {
    "vdsr": lambda **kw: VDSR(num_feat=8, num_layer=5, **kw),
    "fsrcnn": lambda **kw: FSRCNN(num_feat=12, num_shrink_ch=4, num_map_layer=2, **kw),
    "fsrcnn_s": lambda **kw: FSRCNN(num_feat=8, num_shrink_ch=3, num_map_layer=1, **kw),
    "edsr_baseline": lambda **kw: EDSR(num_feat=8, num_block=2, **kw),
    "edsr": lambda **kw: EDSR(num_feat=8, num_block=2, res_scale=0.1, **kw),
    "mdsr": lambda **kw: MDSR(num_feat=8, num_block=2, **kw),
    "carn": lambda **kw: CARN(num_feat=8, **kw),
    "carn_m": lambda **kw: CARNM(num_feat=8, **kw),
}
MULTI = ("vdsr", "mdsr", "carn", "carn_m")


def _call(net, x, scale):
    return net(x, scale=scale) if is_multi_scale(net) else net(x)


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_shape_at_every_scale(name, scale):
    kw = {"scale": scale} if name not in MULTI else {"scale": [2, 3, 4]}
    net = TINY[name](**kw)
    c = net.in_channels
    h, w = 7, 9
    x = torch.rand(2, c, h * scale, w * scale) if net.pre_upsample else torch.rand(2, c, h, w)
    y = _call(net, x, scale)
    assert y.shape == (2, c, h * scale, w * scale)
    assert net.border == 0
    assert net.pre_upsample == (name == "vdsr")
    assert c == (1 if name in ("vdsr", "fsrcnn", "fsrcnn_s") else 3)


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


def test_forward_backward_and_branch_updates():
    for name, build in TINY.items():
        net = build(scale=3) if name not in MULTI else build(scale=[2, 3, 4])
        x = torch.rand(
            2, net.in_channels, 12 if net.pre_upsample else 4, 12 if net.pre_upsample else 4
        )
        _call(net, x, 3).square().mean().backward()
        grads = {k: p.grad for k, p in net.named_parameters()}
        assert all(g is None or torch.isfinite(g).all() for g in grads.values()), name
        for k, g in grads.items():
            other_branch = any(f".x{s}." in f".{k}" for s in (2, 4))
            # a batch of one scale trains the shared modules and that scale's branches only
            assert (g is None) == other_branch, (name, k)


def test_carn_m_recursive_unit_is_shared():
    net = CARNM(num_feat=8)
    for block in net.blocks:
        assert block.unit(0) is block.unit(1) is block.unit(2)
        assert block.unit(0).body[0].weight is block.unit(2).body[0].weight
        assert len(block.units) == 1 and len({id(f) for f in block.fusions}) == 3
        assert block.unit(0).body[0].groups == 4
    assert net.blocks[0].unit(0) is not net.blocks[1].unit(0)  # not shared across blocks
    calls = []
    hook = net.blocks[0].unit(0).register_forward_hook(lambda *a: calls.append(1))
    net(torch.rand(1, 3, 6, 6), scale=2)
    hook.remove()
    assert len(calls) == 3
    carn = CARN(num_feat=8)
    assert carn.blocks[0].unit(0) is not carn.blocks[0].unit(1)
    assert n_params(carn.blocks[0]) > n_params(net.blocks[0])


def test_parameter_counts_match_the_papers():
    with torch.device("meta"):  # paper sizes, no memory allocated
        vdsr = VDSR()
        assert n_weights(vdsr) == 664_704 and n_params(vdsr) == 665_921  # paper: 665K (weights)
        assert n_weights(FSRCNN()) == 12_464 and n_params(FSRCNN()) == 12_809  # paper: 12,464
        assert (
            n_weights(FSRCNN(num_feat=32, num_shrink_ch=5, num_map_layer=1)) == 3_937
        )  # paper: 3,937
        assert n_params(EDSR(scale=2)) == 1_369_859  # baseline: 1.37M (x2)
        big = dict(num_feat=256, num_block=32, res_scale=0.1)
        assert n_params(EDSR(scale=2, **big)) == 40_729_603  # 40.7M
        assert n_params(EDSR(scale=4, **big)) == 43_089_923  # 43M
        assert n_params(MDSR()) == 7_953_987  # 8.0M, all branches
        assert n_params(CARN()) == 1_591_939  # 1,592K, all three upsamplers
        carn_m = CARNM()
        assert n_weights(carn_m) == 412_032 and n_params(carn_m) == 414_787  # paper: 412K
    buffers = dict(EDSR(num_feat=4, num_block=1).named_buffers())
    assert set(buffers) == {
        "sub_mean.mean",
        "add_mean.mean",
    }  # the mean is a buffer, not a parameter


def test_blocks():
    x = torch.rand(1, 3, 5, 5)
    assert torch.allclose(MeanShift(sign=1)(MeanShift(sign=-1)(x)), x)
    assert MeanShift().mean.flatten().tolist() == pytest.approx([0.4488, 0.4371, 0.4040])
    assert not list(MeanShift().parameters())
    f = torch.rand(1, 4, 5, 6)
    assert Upsampler(4, 4)(f).shape == (1, 4, 20, 24) and len(Upsampler(4, 4)) == 4  # 2 x2 stages
    assert Upsampler(3, 4)(f).shape == (1, 4, 15, 18)
    block = ResidualBlockNoBN(4, res_scale=0.0)
    assert torch.equal(block(f), f)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in EDSR(num_feat=4, num_block=2).modules())


def test_fsrcnn_deconvolution_is_placed_as_the_authors_code():
    # the authors' deconv.m (FSRCNN test code): the kernel centre for LR pixel i lands on HR
    # pixel i * s (issue 14: srlab used to centre it on the s x s cell, 1 px off at x3/x4);
    # tests/archs/test_fidelity.py checks it against a literal deconv.m
    assert deconv_padding(9, 3) == (4, 2)
    assert deconv_padding(9, 2) == (4, 1) and deconv_padding(9, 4) == (4, 3)
    net = FSRCNN(scale=3, num_feat=4, num_shrink_ch=2, num_map_layer=1)
    # an impulse in LR pixel (2, 2) reaches HR pixels centred on (6, 6) = 2*3
    with torch.no_grad():
        net.deconv.weight.zero_()
        net.deconv.bias.zero_()
        net.deconv.weight[:, :, 4, 4] = 1.0  # centre tap only
        feat = torch.zeros(1, 4, 5, 5)
        feat[..., 2, 2] = 1.0
        out = net.deconv(feat)
    assert out.shape[-1] == 15 and out[0, 0].nonzero().tolist() == [[6, 6]]


def _pair(scale, size=24):
    hr = torch.from_numpy(make_photo(size, size, seed=3)).permute(2, 0, 1).float().div(255)[None]
    return imresize(hr, 1 / scale).clamp(0, 1), hr


@pytest.mark.parametrize("name", sorted(TINY))
def test_each_network_overfits_a_tiny_pair(name):
    torch.manual_seed(0)
    scale = 2
    net = TINY[name](scale=scale)
    module = SRModule(
        net,
        loss=WeightedSum({"l1": L1Loss()}),
        optimizer=lambda params: torch.optim.Adam(params, lr=3e-3),
    )
    module.log = lambda *a, **k: None
    lr, hr = _pair(scale)
    batch = {"lr": lr, "hr": hr, "scale": torch.tensor([scale])}

    def score():
        with torch.no_grad():
            return float(psnr(module(lr).clamp(0, 1), hr, crop_border=scale)[0])

    before = score()
    opt = module.configure_optimizers()
    for _ in range(40):
        opt.zero_grad()
        module.training_step(batch, 0).backward()
        opt.step()
    after = score()
    assert after > before + 5.0, (name, before, after)  # measured: +7 to +15 dB
