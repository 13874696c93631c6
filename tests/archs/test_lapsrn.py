"""LapSRN and MS-LapSRN: every pyramid level up to the asked scale, weight sharing (MS-LapSRN shares
across levels and recursions, LapSRN does not), the bilinear start of the image branch, and the
released DagNN networks (phoenix104104/LapSRN) written out with ``torch.nn.functional``."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srlab.archs import LapSRN, MSLapSRN
from srlab.core.contract import is_multi_scale, net_scales
from tests.helpers import n_params, randomise, ref_conv, weights_seen


@pytest.mark.parametrize("cls", [LapSRN, MSLapSRN])
def test_pyramid_returns_every_level_up_to_the_asked_scale(cls):
    net = cls(scale=8, num_feat=8, num_layer=1, **({"num_recursion": 2} if cls is MSLapSRN else {}))
    assert is_multi_scale(net) and net.scale == 8 and net_scales(net) == (2, 4, 8)
    x = torch.rand(1, 1, 5, 6)
    for s in (2, 4, 8):
        levels = net(x, scale=s)
        assert [o.shape[-2:] for o in levels] == [
            (5 * 2**k, 6 * 2**k) for k in range(1, int(math.log2(s)) + 1)
        ]
    assert len(net(x)) == 3  # default: the built scale
    # levels do not depend on the scale asked: the x2 level of an x8 pass is the x2 output
    torch.testing.assert_close(net(x, scale=8)[0], net(x, scale=2)[0])
    assert cls(scale=4).scales == (2, 4) and cls(scale=2).scales == (2,)
    assert cls(scale=[2, 4, 8]).scale == 8  # data.scale: [2, 4, 8] -> built up to x8
    with pytest.raises(ValueError, match="serves scales x2, x4, not x8"):
        cls(scale=4, num_feat=4, num_layer=1)(x, scale=8)
    with pytest.raises(ValueError, match="x2, x4, x8"):
        cls(scale=3)


def test_ms_lapsrn_shares_weights_across_levels_and_recursions():
    net = MSLapSRN(scale=8, num_feat=8, num_layer=2, num_recursion=3)
    x = torch.rand(1, 1, 4, 4)
    block_conv = net.block[1]
    seen = weights_seen(block_conv, lambda: net(x))
    assert len(seen) == 3 * 3 and all(w is block_conv.weight for w in seen)  # R x levels
    for module in (net.feature_upsample[1], net.residual, net.image_upsample):
        seen = weights_seen(module, lambda: net(x))
        assert len(seen) == 3 and all(w is module.weight for w in seen)
    # one set of weights whatever the number of levels
    assert n_params(MSLapSRN(scale=2)) == n_params(MSLapSRN(scale=8))


def test_lapsrn_levels_have_their_own_weights():
    # the CVPR LapSRN does not share across levels (its 812K = two levels of 406K)
    net = LapSRN(scale=8, num_feat=8, num_layer=2)
    convs = [lvl[0].weight for lvl in net.feature_levels]
    assert len({id(w) for w in convs}) == 3
    x = torch.rand(1, 1, 4, 4)
    up = net.image_levels[1]
    assert len(weights_seen(up, lambda: net(x))) == 1  # used by its own level only


def test_lapsrn_image_branch_starts_bilinear():
    net = LapSRN(scale=2, num_feat=4, num_layer=1)
    img = torch.rand(1, 1, 8, 8)
    up = net.image_levels[0](img)
    ref = nn.functional.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(up[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1])  # interior
    assert net.image_levels[0].bias is None


def _convt_matconvnet(x, weight, bias, crop):
    """dagnn.ConvTranspose 'upsample' 2 with 'crop' [top bottom left right]: the full
    transposed conv, then the crop."""
    y = F.conv_transpose2d(x, weight, bias, stride=2)
    t, b, left, r = crop
    return y[..., t : y.shape[-2] - b, left : y.shape[-1] - r]


def _ms_lapsrn_reference(net: MSLapSRN, x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """x{s}SR_input_conv; per level l: R x [relu1, conv1, ..., relu5, conv5] + level input
    (LRL 'SS'); level{l}_uprelu -> level{l}_upconv (3x3, crop [0 1 0 1]); level{l}_img_up
    (4x4, crop 1) of the previous image; level{l}_residual = Conv3x3(**upconv**) (no ReLU);
    Sum."""
    a = 0.2
    convs = [m for m in net.block if isinstance(m, torch.nn.Conv2d)]
    feat = ref_conv(x, net.conv_in)
    img = x
    outs = []
    for _ in range(levels):
        h = feat
        for _ in range(net.num_recursion):
            t = h
            for c in convs:
                t = ref_conv(F.leaky_relu(t, a), c)
            h = t + feat
        up = net.feature_upsample[1]
        feat = _convt_matconvnet(F.leaky_relu(h, a), up.weight, up.bias, (0, 1, 0, 1))
        img_up = _convt_matconvnet(img, net.image_upsample.weight, None, (1, 1, 1, 1))
        img = img_up + ref_conv(feat, net.residual)
        outs.append(img)
    return outs


def test_ms_lapsrn_is_the_released_dagnn():
    net = MSLapSRN(scale=8).eval()  # D5R8, one set of weights for x2/x4/x8
    randomise(net, std=0.03)
    x = torch.rand(1, 1, 3, 4)
    with torch.no_grad():
        out, ref = net(x), _ms_lapsrn_reference(net, x, 3)
    assert [o.shape[-2:] for o in out] == [(6, 8), (12, 16), (24, 32)]
    for o, r in zip(out, ref):
        torch.testing.assert_close(o, r, atol=1e-5, rtol=0)
    # no activation in front of the residual convolution (x{s}SR_level{l}_residual reads upconv)
    assert isinstance(net.residual, torch.nn.Conv2d)
    assert n_params(net) == 222_801  # == the parameters of MSLapSRN_D5R8.mat


def _lapsrn_reference(net: LapSRN, x: torch.Tensor) -> list[torch.Tensor]:
    """input_conv + ReLU; per level: conv1..d + ReLU, upconv (crop [0 1 0 1]) + **uprelu**,
    residual = Conv3x3(uprelu); img_up (crop 1) + residual."""
    a = 0.2
    feat = F.leaky_relu(ref_conv(x, net.conv_in[0]), a)
    img = x
    outs = []
    for lvl, res, imgup in zip(net.feature_levels, net.residual_levels, net.image_levels):
        mods = list(lvl)
        for m in mods:
            if isinstance(m, torch.nn.Conv2d) and not isinstance(m, torch.nn.ConvTranspose2d):
                feat = F.leaky_relu(ref_conv(feat, m), a)
        up = mods[-2]
        feat = F.leaky_relu(_convt_matconvnet(feat, up.weight, up.bias, (0, 1, 0, 1)), a)
        img = _convt_matconvnet(img, imgup.weight, None, (1, 1, 1, 1)) + ref_conv(feat, res)
        outs.append(img)
    return outs


def test_lapsrn_is_the_released_dagnn():
    net = LapSRN(scale=4, num_feat=16, num_layer=3).eval()
    randomise(net)
    x = torch.rand(1, 1, 6, 5)
    with torch.no_grad():
        for o, r in zip(net(x), _lapsrn_reference(net, x)):
            torch.testing.assert_close(o, r, atol=1e-5, rtol=0)
    # the released files: LapSRN_x2/x4.mat (d = 10) and LapSRN_x8.mat (d = 5)
    assert n_params(LapSRN(scale=2)) == 407_441
    assert n_params(LapSRN(scale=4)) == 814_242
    assert n_params(LapSRN(scale=8, num_layer=5)) == 667_123
