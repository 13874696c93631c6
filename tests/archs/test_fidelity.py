"""Fidelity of srlab's networks to the authors' released definitions (issue 14).

Each test writes the authors' forward pass by hand, layer by layer from their release (Caffe
prototxt, MatConvNet layer list, MATLAB/TF test code), with plain ``torch.nn.functional`` ops
and the srlab module's own weights, and checks that the srlab module computes the same
function. No released weights are needed: random weights and inputs exercise every layer.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from srlab import imresize
from srlab.archs import BTSRN, FSRCNN, IDN, LapSRN, MSLapSRN
from srlab.archs.fsrcnn import deconv_padding
from srlab.core.imresize import bicubic_upscale


def n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _randomise(net: torch.nn.Module, seed: int = 0, std: float = 0.05) -> None:
    """Random weights *and* biases (srlab zero-initialises some biases; a bias put at the
    wrong place must show)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)


def _lrelu(x: torch.Tensor, slope: float) -> torch.Tensor:
    return F.leaky_relu(x, slope)


def _conv(x: torch.Tensor, m: torch.nn.Conv2d, pad: int | None = None) -> torch.Tensor:
    k = m.weight.shape[-1]
    return F.conv2d(x, m.weight, m.bias, padding=k // 2 if pad is None else pad, groups=m.groups)


# --------------------------------------------------------------------------------------------
# IDN: Zheng222/IDN-Caffe, test/IDN_x{2,3,4}_deploy.prototxt + test/test_IDN.m
# --------------------------------------------------------------------------------------------


def _idn_caffe_reference(net: IDN, x: torch.Tensor) -> torch.Tensor:
    """The deploy prototxt, layer by layer: conv1/relu_conv1, conv2/relu_conv2; per block k
    conv{k}_1..3 (+ReLU slope 0.05, conv{k}_2 group 4), slice at 16, conv{k}_4..6 (conv{k}_5
    group 4), concat(split, slice_1) + conv{k}_6 (Eltwise SUM), down{k} 1x1 **+ relu_down{k}**;
    ``upsample``: Deconvolution kernel 17, stride s, pad 8 -> (H - 1) s + 1 px."""
    a = 0.05
    h = _lrelu(_conv(x, net.fblock[0]), a)
    h = _lrelu(_conv(h, net.fblock[2]), a)
    for blk in net.dblocks:
        u = h
        for i in (0, 2, 4):
            u = _lrelu(_conv(u, blk.upper[i]), a)
        slice1, slice2 = u[:, :16], u[:, 16:]
        v = slice2
        for i in (0, 2, 4):
            v = _lrelu(_conv(v, blk.lower[i]), a)
        summed = torch.cat([h, slice1], 1) + v
        h = _lrelu(_conv(summed, blk.compress[0]), a)  # down{k} + relu_down{k}
    s = net.scale
    return F.conv_transpose2d(h, net.rblock.weight, net.rblock.bias, stride=s, padding=8)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_idn_is_the_caffe_deploy_net_plus_the_scripts_bicubic(scale):
    # test_IDN.m: im_h = im_result' + mycrop(im_b, up_scale), mycrop dropping the first
    # up_scale - 1 rows/cols of the MATLAB bicubic image: the Caffe output pixel o sits at HR
    # pixel o + s - 1. srlab's output from HR pixel s - 1 on must be exactly that sum.
    net = IDN(scale=scale).eval()
    _randomise(net)
    x = torch.rand(1, 1, 5, 6)
    with torch.no_grad():
        ref = (
            _idn_caffe_reference(net, x) + bicubic_upscale(x, scale)[..., scale - 1 :, scale - 1 :]
        )
        out = net(x)
    assert out.shape == (1, 1, 5 * scale, 6 * scale)
    assert ref.shape == (1, 1, 4 * scale + 1, 5 * scale + 1)
    torch.testing.assert_close(out[..., scale - 1 :, scale - 1 :], ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_idn_deconv_sits_at_hr_offset_s_minus_1(scale):
    net = IDN(scale=scale).eval()
    _randomise(net)
    x = torch.rand(1, 1, 6, 7)
    with torch.no_grad():
        net.rblock.weight.zero_()
        net.rblock.bias.zero_()
        # learned branch zeroed: exactly the MATLAB bicubic upscale
        torch.testing.assert_close(net(x), imresize(x, scale), atol=1e-5, rtol=0)
        # one tap at the kernel centre, one LR feature pixel on: the response is centred on
        # HR pixel s * i + s - 1
        net.rblock.weight[0, 0, 8, 8] = 1.0
        feat = torch.zeros(1, 64, 6, 7)
        feat[0, 0, 2, 3] = 1.0
        y = net.rblock(feat)
    assert y.shape == (1, 1, 6 * scale, 7 * scale)
    assert (y[0, 0] == 1).nonzero().tolist() == [[2 * scale + scale - 1, 3 * scale + scale - 1]]


def test_idn_compression_unit_has_leaky_relu_and_counts():
    net = IDN(scale=3)
    assert isinstance(net.dblocks[0].compress[1], torch.nn.LeakyReLU)
    assert net.dblocks[0].compress[1].negative_slope == 0.05
    assert n_params(net) == 552_769  # == the sizes of the blobs in IDN_x*.caffemodel


# --------------------------------------------------------------------------------------------
# MS-LapSRN / LapSRN: phoenix104104/LapSRN, init_MSLapSRN_model.m / init_LapSRN_model.m
# (the DagNN layer lists stored in pretrained_models/*.mat)
# --------------------------------------------------------------------------------------------


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
    feat = _conv(x, net.conv_in)
    img = x
    outs = []
    for _ in range(levels):
        h = feat
        for _ in range(net.num_recursion):
            t = h
            for c in convs:
                t = _conv(_lrelu(t, a), c)
            h = t + feat
        up = net.feature_upsample[1]
        feat = _convt_matconvnet(_lrelu(h, a), up.weight, up.bias, (0, 1, 0, 1))
        img_up = _convt_matconvnet(img, net.image_upsample.weight, None, (1, 1, 1, 1))
        img = img_up + _conv(feat, net.residual)
        outs.append(img)
    return outs


def test_ms_lapsrn_is_the_released_dagnn():
    net = MSLapSRN(scale=8).eval()  # D5R8, one set of weights for x2/x4/x8
    _randomise(net, std=0.03)
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
    feat = _lrelu(_conv(x, net.conv_in[0]), a)
    img = x
    outs = []
    for lvl, res, imgup in zip(net.feature_levels, net.residual_levels, net.image_levels):
        mods = list(lvl)
        for m in mods:
            if isinstance(m, torch.nn.Conv2d) and not isinstance(m, torch.nn.ConvTranspose2d):
                feat = _lrelu(_conv(feat, m), a)
        up = mods[-2]
        feat = _lrelu(_convt_matconvnet(feat, up.weight, up.bias, (0, 1, 0, 1)), a)
        img = _convt_matconvnet(img, imgup.weight, None, (1, 1, 1, 1)) + _conv(feat, res)
        outs.append(img)
    return outs


def test_lapsrn_is_the_released_dagnn():
    net = LapSRN(scale=4, num_feat=16, num_layer=3).eval()
    _randomise(net)
    x = torch.rand(1, 1, 6, 5)
    with torch.no_grad():
        for o, r in zip(net(x), _lapsrn_reference(net, x)):
            torch.testing.assert_close(o, r, atol=1e-5, rtol=0)
    # the released files: LapSRN_x2/x4.mat (d = 10) and LapSRN_x8.mat (d = 5)
    assert n_params(LapSRN(scale=2)) == 407_441
    assert n_params(LapSRN(scale=4)) == 814_242
    assert n_params(LapSRN(scale=8, num_layer=5)) == 667_123


# --------------------------------------------------------------------------------------------
# FSRCNN: the authors' MATLAB test code, FSRCNN.m + deconv.m
# --------------------------------------------------------------------------------------------


def _deconv_m(x: torch.Tensor, filt: torch.Tensor, stride: int) -> torch.Tensor:
    """The authors' ``deconv.m``, literally (0-based): replicate-pad the LR map by
    ``border = 1``, accumulate ``x(i, j) * filter`` at ``(i*stride, j*stride)`` of a canvas of
    ``(hei*stride + fsize - 1)`` px, crop from ``(fsize + 1)/2 + stride*border - 1``."""
    border = 1
    h0, w0 = x.shape
    xp = F.pad(x[None, None], (border,) * 4, mode="replicate")[0, 0]
    hei, wid = xp.shape
    k = filt.shape[0]
    out = torch.zeros(hei * stride + k - 1, wid * stride + k - 1, dtype=x.dtype)
    for i in range(hei):
        for j in range(wid):
            out[i * stride : i * stride + k, j * stride : j * stride + k] += xp[i, j] * filt
    start = (k + 1) // 2 + stride * border - 1
    return out[start : start + h0 * stride, start : start + w0 * stride]


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_fsrcnn_deconv_is_placed_as_the_authors_deconv_m(scale):
    feat = torch.randn(1, 4, 5, 6, dtype=torch.float64)
    rep = (
        FSRCNN(scale=scale, num_feat=4, num_shrink_ch=3, num_map_layer=1, padding_mode="replicate")
        .double()
        .eval()
    )
    zer = FSRCNN(scale=scale, num_feat=4, num_shrink_ch=3, num_map_layer=1).double().eval()
    _randomise(rep)
    zer.load_state_dict(rep.state_dict())  # same tensors in both modes
    w, b = rep.deconv.weight, rep.deconv.bias
    ref = sum(_deconv_m(feat[0, c], w[c, 0], scale) for c in range(4)) + b
    with torch.no_grad():
        # FSRCNN.forward's deconvolution step, replicate mode: pad one LR pixel, then deconv
        got = rep.deconv(F.pad(feat, (1, 1, 1, 1), mode="replicate"))
        zeros = zer.deconv(feat)
    torch.testing.assert_close(got[0, 0], ref, atol=1e-10, rtol=0)
    # zero padding (the default): the same values away from the border
    torch.testing.assert_close(zeros[0, 0, 5:-5, 5:-5], ref[5:-5, 5:-5], atol=1e-10, rtol=0)
    # an impulse at LR pixel (i, j) is centred on HR pixel (i*s, j*s) (the yjn870 port's too)
    assert deconv_padding(9, scale) == (4, scale - 1)
    with torch.no_grad():
        zer.deconv.weight.zero_()
        zer.deconv.bias.zero_()
        zer.deconv.weight[0, 0, 4, 4] = 1.0
        imp = torch.zeros(1, 4, 5, 6, dtype=torch.float64)
        imp[0, 0, 2, 3] = 1.0
        y = zer.deconv(imp)
    assert y.shape[-2:] == (5 * scale, 6 * scale)
    assert (y[0, 0] == 1).nonzero().tolist() == [[2 * scale, 3 * scale]]


def test_fsrcnn_replicate_mode_is_the_matlab_test_code():
    """FSRCNN.m: conv l = imfilter(..., 'same', 'replicate') + bias, PReLU; the last layer is
    deconv.m. (Its per-layer PReLU slope is a scalar; srlab's per-channel slopes are set equal
    here.)"""
    net = FSRCNN(
        scale=3, num_feat=6, num_shrink_ch=4, num_map_layer=2, padding_mode="replicate"
    ).eval()
    _randomise(net)
    with torch.no_grad():
        for mod in net.body:
            if isinstance(mod, torch.nn.PReLU):
                mod.weight.fill_(0.1)
    x = torch.rand(1, 1, 7, 8, dtype=torch.float64)
    h = x
    with torch.no_grad():
        for mod in net.body:
            if isinstance(mod, torch.nn.Conv2d):
                k = mod.weight.shape[-1]
                hp = F.pad(h, (k // 2,) * 4, mode="replicate")
                h = F.conv2d(hp, mod.weight.double(), mod.bias.double())
            else:
                h = torch.where(h > 0, h, 0.1 * h)
        w = net.deconv.weight.double()
        ref = (
            sum(_deconv_m(h[0, c], w[c, 0], 3) for c in range(h.shape[1]))
            + net.deconv.bias.double()
        )
        out = net.double()(x)
    torch.testing.assert_close(out[0, 0], ref, atol=1e-10, rtol=0)


def test_fsrcnn_deconv_shift_moves_the_kernel_centre():
    # the released x3 weights need the centre on HR pixel 3 i + 1 (see the FSRCNN docstring)
    assert deconv_padding(9, 3, shift=1) == (3, 0)
    for mode in ("zeros", "replicate"):
        net = FSRCNN(
            scale=3, num_feat=4, num_shrink_ch=2, num_map_layer=1, padding_mode=mode, deconv_shift=1
        )
        with torch.no_grad():
            net.deconv.weight.zero_()
            net.deconv.bias.zero_()
            net.deconv.weight[0, 0, 4, 4] = 1.0
            for mod in net.body:  # body = identity on channel 0 of a constant-free input
                if isinstance(mod, torch.nn.Conv2d):
                    mod.weight.zero_()
                    mod.bias.zero_()
                    mod.weight[0, 0, mod.weight.shape[-1] // 2, mod.weight.shape[-1] // 2] = 1.0
            x = torch.zeros(1, 1, 6, 6)
            x[0, 0, 2, 3] = 1.0
            y = net(x)
        assert y.shape[-2:] == (18, 18)
        assert (y[0, 0] == 1).nonzero().tolist() == [[7, 10]]
    with pytest.raises(ValueError, match="deconv_shift"):
        FSRCNN(scale=2, deconv_shift=1)


def test_fsrcnn_counts_unchanged():
    assert n_params(FSRCNN(scale=3)) == 12_809
    assert n_params(FSRCNN(scale=3, num_feat=32, num_shrink_ch=5, num_map_layer=1)) == 4_086


# --------------------------------------------------------------------------------------------
# BTSRN: ychfan/sr_ntire2017, model_resnet_up.py (+ data_residual.py, predict.py)
# --------------------------------------------------------------------------------------------


def _btsrn_reference(net: BTSRN, x: torch.Tensor) -> torch.Tensor:
    """build_model: 'in' 1x1; lr_conv0..5 = x + filt(lrelu(proj(lrelu(x)))); x2/x3:
    'up' = NN(x) + conv2d_transpose(lrelu(x), k = stride = scale); x4: up1, up_conv, up2;
    hr_conv0..3; lrelu, 'out' 1x1; + bicubic (residual data), input centred by -0.5.
    ("same" padding instead of the code's valid convs + cropped shortcut.)"""
    a = 0.2

    def block(h, b):
        return h + _conv(_lrelu(_conv(_lrelu(h, a), b.body[1]), a), b.body[3])

    def up(h, u):
        f = u.factor
        return F.interpolate(h, scale_factor=f, mode="nearest") + F.conv_transpose2d(
            _lrelu(h, a), u.deconv.weight, u.deconv.bias, stride=f
        )

    h = _conv(x - 0.5, net.head)
    for b in net.lr_stage:
        h = block(h, b)
    if net.scale == 4:
        h = up(block(up(h, net.upsamplers[0]), net.mid_blocks[0]), net.upsamplers[1])
    else:
        h = up(h, net.upsamplers[0])
    for b in net.hr_stage:
        h = block(h, b)
    return _conv(_lrelu(h, a), net.tail[1]) + bicubic_upscale(x, net.scale)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_btsrn_is_the_released_model_resnet_up(scale):
    net = BTSRN(scale=scale, num_feat=16, num_proj_ch=8).eval()
    _randomise(net)
    x = torch.rand(1, 3, 5, 6)
    with torch.no_grad():
        torch.testing.assert_close(net(x), _btsrn_reference(net, x), atol=1e-5, rtol=0)


def test_btsrn_counts_are_the_released_codes():
    # F=128, projection 64 (hidden_size / bottleneck_size of model_resnet_up.py); 10 blocks at
    # x2/x3, 11 at x4. Not the "410K" of survey tables: see the BTSRN docstring.
    counts = {s: n_params(BTSRN(scale=s)) for s in (2, 3, 4)}
    assert counts == {2: 887_683, 3: 969_603, 4: 1_035_459}
    assert math.isclose(n_params(BTSRN(scale=2, num_feat=64, num_proj_ch=64)), 427_779)
