"""BTSRN against the authors' release (ychfan/sr_ntire2017, model_resnet_up.py): the TF model
written out with ``torch.nn.functional`` on the module's own (random) weights; the released code's
parameter counts."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from srlab.archs import BTSRN
from srlab.core.imresize import bicubic_upscale
from tests.helpers import n_params, randomise, ref_conv


def _btsrn_reference(net: BTSRN, x: torch.Tensor) -> torch.Tensor:
    """build_model: 'in' 1x1; lr_conv0..5 = x + filt(lrelu(proj(lrelu(x)))); x2/x3:
    'up' = NN(x) + conv2d_transpose(lrelu(x), k = stride = scale); x4: up1, up_conv, up2;
    hr_conv0..3; lrelu, 'out' 1x1; + bicubic (residual data), input centred by -0.5.
    ("same" padding instead of the code's valid convs + cropped shortcut.)"""
    a = 0.2

    def block(h, b):
        return h + ref_conv(F.leaky_relu(ref_conv(F.leaky_relu(h, a), b.body[1]), a), b.body[3])

    def up(h, u):
        f = u.factor
        return F.interpolate(h, scale_factor=f, mode="nearest") + F.conv_transpose2d(
            F.leaky_relu(h, a), u.deconv.weight, u.deconv.bias, stride=f
        )

    h = ref_conv(x - 0.5, net.head)
    for b in net.lr_stage:
        h = block(h, b)
    if net.scale == 4:
        h = up(block(up(h, net.upsamplers[0]), net.mid_blocks[0]), net.upsamplers[1])
    else:
        h = up(h, net.upsamplers[0])
    for b in net.hr_stage:
        h = block(h, b)
    return ref_conv(F.leaky_relu(h, a), net.tail[1]) + bicubic_upscale(x, net.scale)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_btsrn_is_the_released_model_resnet_up(scale):
    net = BTSRN(scale=scale, num_feat=16, num_proj_ch=8).eval()
    randomise(net)
    x = torch.rand(1, 3, 5, 6)
    with torch.no_grad():
        torch.testing.assert_close(net(x), _btsrn_reference(net, x), atol=1e-5, rtol=0)


def test_btsrn_counts_are_the_released_codes():
    # F=128, projection 64 (hidden_size / bottleneck_size of model_resnet_up.py); 10 blocks at
    # x2/x3, 11 at x4. Not the "410K" of survey tables: see the BTSRN docstring.
    counts = {s: n_params(BTSRN(scale=s)) for s in (2, 3, 4)}
    assert counts == {2: 887_683, 3: 969_603, 4: 1_035_459}
    assert math.isclose(n_params(BTSRN(scale=2, num_feat=64, num_proj_ch=64)), 427_779)
