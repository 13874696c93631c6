"""Degradations D(I_y; sigma) as pure functions on tensors.

The foundation ships the classic one: MATLAB-exact bicubic downscaling followed by 8-bit
quantisation, which is how DIV2K's and the benchmark sets' LR images were made.
"""

from __future__ import annotations

from torch import Tensor

from .imresize import imresize

__all__ = ["mod_crop", "bicubic_downscale"]


def mod_crop(x: Tensor, scale: int) -> Tensor:
    """Crop the bottom/right so that H and W are multiples of ``scale`` (the SR convention)."""
    h, w = x.shape[-2:]
    return x[..., : h - h % scale, : w - w % scale]


def bicubic_downscale(hr: Tensor, scale: int, quantize: bool = True) -> Tensor:
    """LR image from an HR image: MATLAB ``imresize(hr, 1/scale, 'bicubic')``.

    Args:
        hr: uint8 or float image(s) ``(C, H, W)`` / ``(B, C, H, W)``; H and W must be multiples
            of ``scale`` (use :func:`mod_crop`).
        scale: integer downscaling factor.
        quantize: round to 8 bits as the published LR PNGs are.

    Returns:
        The LR image with the input's dtype (uint8 in, uint8 out).
    """
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"bicubic_downscale: HR size {h}x{w} is not a multiple of scale {scale}")
    is_uint8 = not hr.dtype.is_floating_point
    x = hr.float() / 255.0 if is_uint8 else hr
    lr = imresize(x, 1.0 / scale, antialias=True)
    if is_uint8:
        return lr.clamp(0, 1).mul(255.0).round().to(hr.dtype)
    if quantize:
        return lr.clamp(0, 1).mul(255.0).round().div(255.0)
    return lr
