"""ESPCN: shapes and parameter counts at every scale, a linear last layer, argument checks."""

import pytest
import torch

from srlab.archs import ESPCN
from tests.helpers import n_params


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("channels", [1, 3])
def test_espcn_shape_and_params(scale, channels):
    net = ESPCN(scale=scale, in_channels=channels)
    x = torch.rand(2, channels, 17, 13)
    assert net(x).shape == (2, channels, 17 * scale, 13 * scale)
    assert not net.pre_upsample and net.border == 0
    if channels == 1:  # 20,128 + 289 r^2 (see docstring)
        assert n_params(net) == 20128 + 289 * scale**2


def test_espcn_last_layer_is_linear():
    net = ESPCN(scale=2)
    assert isinstance(net.body[-1], torch.nn.PixelShuffle)
    assert isinstance(net.body[-2], torch.nn.Conv2d)
    assert sum(isinstance(m, torch.nn.Tanh) for m in net.body) == 2


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="in_channels must be 1"):
        ESPCN(in_channels=2)
    with pytest.raises(ValueError, match="positive integer"):
        ESPCN(scale=2.5)
