"""MATLAB's rgb2ycbcr (BT.601, studio swing) and its inverse."""

import pytest
import torch

from srlab.core.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb


def test_matlab_rgb2ycbcr_known_values():
    # MATLAB: rgb2ycbcr(uint8([255 0 0])) -> [81 90 240]; white -> [235 128 128];
    # black -> [16 128 128]
    rgb = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]).T.reshape(3, 1, 3)
    ycc = (rgb_to_ycbcr(rgb) * 255).round().squeeze(1).T.tolist()
    assert ycc == [[81.0, 90.0, 240.0], [235.0, 128.0, 128.0], [16.0, 128.0, 128.0]]


def test_roundtrip_and_y_consistency():
    x = torch.rand(2, 3, 8, 9, dtype=torch.float64)
    assert torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-12)
    assert torch.allclose(rgb_to_y(x), rgb_to_ycbcr(x)[:, :1], atol=1e-12)


def test_shape_error_names_the_shape():
    with pytest.raises(ValueError, match=r"\(2, 4, 4\)"):
        rgb_to_ycbcr(torch.rand(2, 4, 4))
