"""Colour conversions used by the SR benchmark protocol.

MATLAB's ``rgb2ycbcr`` (ITU-R BT.601, *studio swing*: Y in [16, 235], Cb/Cr in [16, 240] on 8 bits)
is what SR papers use for their Y-channel PSNR/SSIM. kornia's ``rgb_to_ycbcr`` implements the
full-range JPEG variant, which gives different Y values, so the BT.601 studio-swing matrices are
written here by hand.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["rgb_to_ycbcr", "ycbcr_to_rgb", "rgb_to_y"]

# Rows: Y, Cb, Cr. Coefficients of MATLAB rgb2ycbcr for inputs in [0, 1], divided by 255.
_RGB2YCBCR = torch.tensor(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ],
    dtype=torch.float64,
) / 255.0
_YCBCR_OFFSET = torch.tensor([16.0, 128.0, 128.0], dtype=torch.float64) / 255.0
_YCBCR2RGB = torch.linalg.inv(_RGB2YCBCR)


def _check(x: Tensor, name: str) -> None:
    if x.dim() < 3 or x.shape[-3] != 3:
        raise ValueError(f"{name} expects a tensor shaped (..., 3, H, W), got {tuple(x.shape)}")


def rgb_to_ycbcr(x: Tensor) -> Tensor:
    """RGB in [0, 1] to BT.601 studio-swing YCbCr in [0, 1], exactly as MATLAB ``rgb2ycbcr``.

    Args:
        x: RGB image(s), float, shaped ``(..., 3, H, W)``, values in [0, 1].

    Returns:
        YCbCr image(s) of the same shape; Y lies in [16/255, 235/255].

    Example:
        >>> rgb_to_ycbcr(torch.ones(3, 1, 1)).flatten().mul(255).round().tolist()
        [235.0, 128.0, 128.0]
    """
    _check(x, "rgb_to_ycbcr")
    m = _RGB2YCBCR.to(x.device, x.dtype)
    off = _YCBCR_OFFSET.to(x.device, x.dtype)
    return torch.einsum("ij,...jhw->...ihw", m, x) + off[:, None, None]


def ycbcr_to_rgb(x: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_ycbcr` (MATLAB ``ycbcr2rgb``); the result is not clamped.

    Shape: ``(..., 3, H, W)`` in and out.
    """
    _check(x, "ycbcr_to_rgb")
    m = _YCBCR2RGB.to(x.device, x.dtype)
    off = _YCBCR_OFFSET.to(x.device, x.dtype)
    return torch.einsum("ij,...jhw->...ihw", m, x - off[:, None, None])


def rgb_to_y(x: Tensor) -> Tensor:
    """Y channel of :func:`rgb_to_ycbcr`, shaped ``(..., 1, H, W)``."""
    _check(x, "rgb_to_y")
    m = _RGB2YCBCR[0].to(x.device, x.dtype)
    return torch.einsum("j,...jhw->...hw", m, x).unsqueeze(-3) + _YCBCR_OFFSET[0].item()
