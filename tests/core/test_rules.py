"""The input rules: one place that feeds a network (colour, pre-upsampling, border, scales)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from srlab.archs import EDSR, ESPCN, SRCNN, VDSR
from srlab.core.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from srlab.core.imresize import bicubic_upscale
from srlab.core.rules import InputRules
from srlab.errors import SRLabError


class _Recorder(nn.Module):
    """A 'network' that upscales its input with bicubic and records how it was called."""

    def __init__(self, scale: int = 2, in_channels: int = 1, scales: tuple[int, ...] | None = None):
        super().__init__()
        self.scale, self.in_channels = scale, in_channels
        if scales is not None:
            self.scales = scales
        self.calls: list[tuple[torch.Tensor, dict]] = []

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        self.calls.append((x.detach().clone(), kwargs))
        return bicubic_upscale(x, kwargs.get("scale", self.scale))


def test_rules_read_the_declared_contract():
    srcnn = InputRules.of(SRCNN(scale=3))
    assert (srcnn.y_channel, srcnn.pre_upsample, srcnn.border, srcnn.multi_scale) == (
        True,
        True,
        6,
        False,
    )
    assert srcnn.scales == (3,) and srcnn.name == "SRCNN"
    vdsr = InputRules.of(VDSR(scale=[2, 3, 4], num_feat=4, num_layer=3))
    assert vdsr.multi_scale and vdsr.scales == (2, 3, 4) and vdsr.scale == 2
    edsr = InputRules.of(EDSR(scale=2, num_feat=8, num_block=1))
    assert (edsr.y_channel, edsr.pre_upsample, edsr.border) == (False, False, 0)
    with pytest.raises(SRLabError, match="does not declare the network contract"):
        InputRules.of(nn.Conv2d(3, 3, 3))


def test_pre_upsampled_y_network_with_border():
    rules = InputRules.of(SRCNN(scale=3))
    lr, hr = torch.rand(2, 3, 11, 12), torch.rand(2, 3, 33, 36)
    x, ycbcr = rules.net_input(lr, pad_border=False)
    torch.testing.assert_close(x, bicubic_upscale(rgb_to_y(lr), 3))
    torch.testing.assert_close(ycbcr, rgb_to_ycbcr(lr))
    x_inf, _ = rules.net_input(lr)  # inference: reflect-padded by the border
    assert x_inf.shape == (2, 1, 33 + 12, 36 + 12)
    x_train, target = rules.training_pair(lr, hr)
    torch.testing.assert_close(x_train, x)
    torch.testing.assert_close(target, rgb_to_y(hr)[..., 6:-6, 6:-6])
    assert rules.input_size(720, 1280, 3) == (732.0, 1292.0)


def test_y_network_output_gets_bicubic_chroma():
    """A Y 'network' that returns bicubic Y yields exactly the bicubic RGB image."""
    net = _Recorder(scale=2, in_channels=1)
    lr = torch.rand(1, 3, 6, 7, dtype=torch.float64)
    sr = InputRules.of(net).super_resolve(net, lr)
    torch.testing.assert_close(sr, bicubic_upscale(lr, 2))
    ycbcr = rgb_to_ycbcr(lr)
    torch.testing.assert_close(net.calls[0][0], ycbcr[:, :1])
    torch.testing.assert_close(ycbcr_to_rgb(ycbcr), lr)


def test_scale_is_passed_to_multi_scale_networks_only():
    multi = _Recorder(scale=2, in_channels=3, scales=(2, 4))
    rules = InputRules.of(multi)
    assert rules.net_kwargs(None) == {"scale": 2} and rules.net_kwargs(4) == {"scale": 4}
    assert rules.super_resolve(multi, torch.rand(1, 3, 5, 5), 4).shape == (1, 3, 20, 20)
    assert multi.calls[-1][1] == {"scale": 4}
    with pytest.raises(SRLabError, match=r"the network \(_Recorder\) upscales x2, x4, not x3"):
        rules.super_resolve(multi, torch.rand(1, 3, 5, 5), 3)
    single = _Recorder(scale=3, in_channels=3)
    srules = InputRules.of(single)
    assert srules.net_kwargs(3) == {} and srules.check_scale(None) == 3
    srules.super_resolve(single, torch.rand(1, 3, 4, 4))
    assert single.calls[-1][1] == {}
    with pytest.raises(SRLabError, match="upscales x3, not x2"):
        srules.check_scale(2)
    espcn = InputRules.of(ESPCN(scale=3))
    assert espcn.input_size(720, 1280, 3) == (240.0, 1280 / 3)


@pytest.mark.parametrize("in_channels", [1, 3])
def test_grey_images_are_fed_by_the_grey_rule(in_channels):
    """A Y network gets the grey values as its Y channel (not the Y of the grey's RGB copy,
    16/255 + 219/255 g) and returns grey; an RGB network gets the replicated RGB image."""
    net = _Recorder(scale=2, in_channels=in_channels)
    rules = InputRules.of(net)
    grey = torch.rand(1, 1, 5, 6, dtype=torch.float64)
    lr = grey.expand(-1, 3, -1, -1)
    out = rules.grey_super_resolve(lambda t, s: rules.super_resolve(net, t, s), lr, 2)
    seen = net.calls[0][0]
    if in_channels == 1:
        torch.testing.assert_close(seen, grey)
        assert out.shape == (1, 1, 10, 12)
        torch.testing.assert_close(out, bicubic_upscale(grey, 2).clamp(0, 1))
    else:
        torch.testing.assert_close(seen, lr)
        assert out.shape == (1, 3, 10, 12)


def test_colour_constants_survive_a_first_call_under_inference_mode():
    """The colour maps cache their coefficients per device and dtype; a first call inside
    torch.inference_mode() (srlab-eval) must not leave inference tensors for training."""
    x = torch.rand(1, 3, 4, 4, dtype=torch.float16)  # a dtype no other test has cached
    with torch.inference_mode():
        rgb_to_ycbcr(x)
        ycbcr_to_rgb(x)
    w = torch.ones(1, requires_grad=True, dtype=torch.float16)
    ycbcr_to_rgb(rgb_to_ycbcr(x) * w).sum().backward()
    assert w.grad is not None
