"""FSRCNN against the authors' test code (FSRCNN.m, deconv.m): the deconvolution placed as deconv.m
places it (written out here), the replicate padding of the MATLAB code, the deconvolution shift,
and the parameter counts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from srlab.archs import FSRCNN
from srlab.archs.fsrcnn import deconv_padding
from tests.helpers import n_params, randomise


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
    randomise(rep)
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
    randomise(net)
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


def test_fsrcnn_deconvolution_is_placed_as_the_authors_code():
    # the authors' deconv.m (FSRCNN test code): the kernel centre for LR pixel i lands on HR
    # pixel i * s (issue 14: srlab used to centre it on the s x s cell, 1 px off at x3/x4);
    # test_fsrcnn_deconv_is_placed_as_the_authors_deconv_m checks it against a literal deconv.m
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
