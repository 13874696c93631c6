import pytest
import torch

from srlab.archs import ESPCN, SRCNN


def n_params(m):
    return sum(p.numel() for p in m.parameters())


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


def test_srcnn_valid_border_and_same_padding():
    valid = SRCNN(scale=3)  # 9-1-5
    assert valid.pre_upsample and valid.border == 6
    assert valid(torch.rand(1, 1, 33, 33)).shape == (1, 1, 21, 21)
    same = SRCNN(scale=3, kernel_sizes=(9, 5, 5), padding="same")
    assert same.border == 0 and same(torch.rand(1, 1, 20, 20)).shape == (1, 1, 20, 20)
    assert n_params(valid) == 8129 and n_params(SRCNN(kernel_sizes=(9, 5, 5))) == 57281


def test_forward_backward_tiny_patch():
    for net in (ESPCN(scale=3), SRCNN(scale=3)):
        x = torch.rand(2, 1, 24, 24, requires_grad=True)
        net(x).mean().backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="in_channels must be 1"):
        ESPCN(in_channels=2)
    with pytest.raises(ValueError, match="positive integer"):
        ESPCN(scale=2.5)
    with pytest.raises(ValueError, match="padding"):
        SRCNN(padding="full")
