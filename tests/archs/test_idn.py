"""IDN against the authors' release (Zheng222/IDN-Caffe): the deploy prototxt written out layer by
layer with ``torch.nn.functional`` on the module's own (random) weights, plus the MATLAB test
script's bicubic; the deconvolution's HR offset; the compression unit and the parameter count."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from srlab import imresize
from srlab.archs import IDN
from srlab.core.imresize import bicubic_upscale
from tests.helpers import n_params, randomise, ref_conv


def _idn_caffe_reference(net: IDN, x: torch.Tensor) -> torch.Tensor:
    """The deploy prototxt, layer by layer: conv1/relu_conv1, conv2/relu_conv2; per block k
    conv{k}_1..3 (+ReLU slope 0.05, conv{k}_2 group 4), slice at 16, conv{k}_4..6 (conv{k}_5
    group 4), concat(split, slice_1) + conv{k}_6 (Eltwise SUM), down{k} 1x1 **+ relu_down{k}**;
    ``upsample``: Deconvolution kernel 17, stride s, pad 8 -> (H - 1) s + 1 px."""
    a = 0.05
    h = F.leaky_relu(ref_conv(x, net.fblock[0]), a)
    h = F.leaky_relu(ref_conv(h, net.fblock[2]), a)
    for blk in net.dblocks:
        u = h
        for i in (0, 2, 4):
            u = F.leaky_relu(ref_conv(u, blk.upper[i]), a)
        slice1, slice2 = u[:, :16], u[:, 16:]
        v = slice2
        for i in (0, 2, 4):
            v = F.leaky_relu(ref_conv(v, blk.lower[i]), a)
        summed = torch.cat([h, slice1], 1) + v
        h = F.leaky_relu(ref_conv(summed, blk.compress[0]), a)  # down{k} + relu_down{k}
    s = net.scale
    return F.conv_transpose2d(h, net.rblock.weight, net.rblock.bias, stride=s, padding=8)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_idn_is_the_caffe_deploy_net_plus_the_scripts_bicubic(scale):
    # test_IDN.m: im_h = im_result' + mycrop(im_b, up_scale), mycrop dropping the first
    # up_scale - 1 rows/cols of the MATLAB bicubic image: the Caffe output pixel o sits at HR
    # pixel o + s - 1. srlab's output from HR pixel s - 1 on must be exactly that sum.
    net = IDN(scale=scale).eval()
    randomise(net)
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
    randomise(net)
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
