"""PSNR and SSIM computed the way single-image super-resolution papers report them.

The protocol (the one of BasicSR's ``calculate_psnr`` / ``calculate_ssim`` with
``test_y_channel=True``, itself a port of the MATLAB evaluation scripts):

1. clamp both images to [0, 1];
2. if ``quantize``, round to 8 bits (``round(x * 255)``, as saving a PNG does) *before* any
   colour conversion;
3. take the Y channel of MATLAB ``rgb2ycbcr`` (ITU-R BT.601 studio swing, Y in [16, 235]),
   computed in float64 on the quantised RGB and kept on the 0..255 scale **without** rounding Y
   again (``rgb2ycbcr(img / 255) * 255``), or all three RGB channels when ``y_channel=False``;
4. remove ``crop_border`` pixels from each side (usually the scale factor);
5. PSNR = ``10 log10(255**2 / MSE)`` per image, SSIM of Wang et al. (2004): 11x11 Gaussian window
   with sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255, averaged over the 'valid' part of the SSIM map
   (no padding) and over channels.

Every function returns one value per image (float64, shape ``(B,)``); a dataset score is the mean
of these per-image values, which is what :class:`srlab.metrics.PSNR` / :class:`srlab.metrics.SSIM`
accumulate.

The maths lives in three private helpers shared with the ``Metric`` classes:
:func:`_prepare` (validation + steps 1-4), :func:`_psnr_per_image` and :func:`_ssim_per_image`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..core.color import rgb_to_y

__all__ = ["psnr", "ssim"]

_PIXEL_MAX = 255.0
_SSIM_WIN = 11
_SSIM_SIGMA = 1.5
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03


# --------------------------------------------------------------------------- shared helpers
def _check_inputs(sr: Tensor, hr: Tensor, crop_border: int) -> None:
    """Raise a ValueError/TypeError naming the offending shapes or sizes."""
    if not isinstance(sr, Tensor) or not isinstance(hr, Tensor):
        raise TypeError(
            f"sr and hr must be tensors, got {type(sr).__name__} and {type(hr).__name__}"
        )
    if sr.dim() not in (3, 4) or hr.dim() not in (3, 4):
        raise ValueError(
            "sr and hr must be shaped (B, C, H, W) or (C, H, W), "
            f"got sr {tuple(sr.shape)} and hr {tuple(hr.shape)}"
        )
    if sr.shape != hr.shape:
        raise ValueError(
            f"sr and hr must have the same shape, got sr {tuple(sr.shape)} and hr {tuple(hr.shape)}"
        )
    if not sr.is_floating_point() or not hr.is_floating_point():
        raise TypeError(
            "sr and hr must be floating-point images in [0, 1], "
            f"got dtypes {sr.dtype} and {hr.dtype} (divide 8-bit images by 255 first)"
        )
    channels = sr.shape[-3]
    if channels not in (1, 3):
        raise ValueError(
            f"expected 3 (RGB) or 1 (Y/grey) channels, got {channels} in shape {tuple(sr.shape)}"
        )
    if isinstance(crop_border, bool) or not isinstance(crop_border, int):
        raise TypeError(f"crop_border must be an int, got {crop_border!r}")
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    h, w = sr.shape[-2:]
    if 2 * crop_border >= min(h, w):
        raise ValueError(
            f"crop_border={crop_border} removes the whole {h}x{w} image "
            f"(height and width must exceed 2 * crop_border = {2 * crop_border})"
        )


def _to_protocol_scale(x: Tensor, y_channel: bool, quantize: bool) -> Tensor:
    """(B, C, H, W) image in [0, 1] -> float64 on the 0..255 scale, Y or RGB, maybe 8-bit."""
    x = x.to(torch.float64).clamp(0.0, 1.0) * _PIXEL_MAX
    if quantize:
        x = torch.round(x)  # round half to even, like numpy's round in BasicSR's tensor2img
    if y_channel and x.shape[-3] == 3:
        x = rgb_to_y(x / _PIXEL_MAX) * _PIXEL_MAX  # not re-rounded (BasicSR, float rgb2ycbcr)
    return x


def _prepare(
    sr: Tensor, hr: Tensor, crop_border: int = 0, y_channel: bool = True, quantize: bool = True
) -> tuple[Tensor, Tensor]:
    """Validate and apply steps 1-4 of the protocol (clamp, quantise, Y, crop) to both images.

    Args:
        sr: restored image(s) in [0, 1], ``(B, C, H, W)`` or ``(C, H, W)`` with C = 3 (RGB) or 1
            (Y / grey, used as is whatever ``y_channel`` says).
        hr: reference image(s), same shape as ``sr``.
        crop_border: pixels removed from each of the four sides.
        y_channel: compare the BT.601 Y channel (True) or the RGB channels (False).
        quantize: round to 8 bits before the colour conversion.

    Returns:
        ``(sr, hr)`` as float64 tensors on the 0..255 scale, shaped ``(B, C', H - 2c, W - 2c)``
        with C' = 1 in Y mode or for one-channel input, 3 otherwise.

    Raises:
        ValueError: shapes differ, are not 3-/4-D, have neither 1 nor 3 channels, or the crop
            leaves no pixel.
        TypeError: non-tensor or non-floating-point input, non-integer ``crop_border``.
    """
    _check_inputs(sr, hr, crop_border)
    if sr.dim() == 3:
        sr, hr = sr.unsqueeze(0), hr.unsqueeze(0)
    sr = _to_protocol_scale(sr, y_channel, quantize)
    hr = _to_protocol_scale(hr, y_channel, quantize)
    if crop_border > 0:
        c = crop_border
        sr = sr[..., c:-c, c:-c]
        hr = hr[..., c:-c, c:-c]
    return sr, hr


def _psnr_per_image(sr: Tensor, hr: Tensor) -> Tensor:
    """PSNR in dB of each image of prepared ``(B, C, H, W)`` float64 tensors on the 0..255 scale.

    The MSE is the mean over channels and pixels; identical images give ``+inf``.
    """
    mse = (sr - hr).pow(2).flatten(1).mean(dim=1)
    inf = torch.full_like(mse, math.inf)
    return torch.where(mse == 0, inf, 10.0 * torch.log10(_PIXEL_MAX**2 / mse))


def _gaussian_1d() -> list[float]:
    """Normalised 1-D Gaussian (size 11, sigma 1.5) in float64.

    Its outer product with itself is MATLAB's ``fspecial('gaussian', 11, 1.5)`` (which sums to 1).
    """
    k = torch.arange(_SSIM_WIN, dtype=torch.float64) - (_SSIM_WIN - 1) / 2
    g = torch.exp(-(k**2) / (2 * _SSIM_SIGMA**2))
    return (g / g.sum()).tolist()


def _filter_valid(x: Tensor, taps: list[float], dim: int) -> Tensor:
    """'valid' correlation of ``x`` with ``taps`` along ``dim`` (MATLAB ``filter2(.., 'valid')``).

    Written as a sum of shifted slices: for an 11-tap float64 filter this is several times faster
    than ``F.conv2d`` on CPU, needs no extra padding or unfolding memory, and runs on any device.
    """
    n = len(taps)
    m = x.shape[dim] - n + 1
    out = x.narrow(dim, 0, m) * taps[0]
    for k in range(1, n):
        out.add_(x.narrow(dim, k, m), alpha=taps[k])
    return out


def _ssim_per_image(sr: Tensor, hr: Tensor) -> Tensor:
    """Mean SSIM of each image of prepared ``(B, C, H, W)`` tensors on the 0..255 scale.

    Local statistics use the 11x11 Gaussian window (applied separably, see :func:`_filter_valid`)
    over the 'valid' region only, as MATLAB ``filter2(w, img, 'valid')``; the map is averaged
    over pixels and channels. Computed in float64.

    Raises:
        ValueError: an image is smaller than 11x11.
    """
    h, w = sr.shape[-2:]
    if h < _SSIM_WIN or w < _SSIM_WIN:
        raise ValueError(
            f"SSIM needs images of at least {_SSIM_WIN}x{_SSIM_WIN} pixels after the border crop, "
            f"got {h}x{w}"
        )
    x = sr.to(torch.float64)
    y = hr.to(torch.float64)
    taps = _gaussian_1d()
    # The five local moments of every (image, channel), filtered at once by the separable window.
    stack = torch.stack([x, y, x * x, y * y, x * y])
    stack = _filter_valid(_filter_valid(stack, taps, dim=-2), taps, dim=-1)
    mu_x, mu_y, e_xx, e_yy, e_xy = stack.unbind(0)

    c1 = (_SSIM_K1 * _PIXEL_MAX) ** 2
    c2 = (_SSIM_K2 * _PIXEL_MAX) ** 2
    mu_xy = mu_x * mu_y
    mu_xx = mu_x * mu_x
    mu_yy = mu_y * mu_y
    sigma_xx = e_xx - mu_xx
    sigma_yy = e_yy - mu_yy
    sigma_xy = e_xy - mu_xy
    ssim_map = ((2 * mu_xy + c1) * (2 * sigma_xy + c2)) / (
        (mu_xx + mu_yy + c1) * (sigma_xx + sigma_yy + c2)
    )
    return ssim_map.flatten(1).mean(dim=1)


# --------------------------------------------------------------------------- public functions
def psnr(
    sr: Tensor, hr: Tensor, crop_border: int = 0, y_channel: bool = True, quantize: bool = True
) -> Tensor:
    """Peak signal-to-noise ratio per image, SR-benchmark protocol (8-bit, BT.601 Y, border crop).

    Args:
        sr: restored image(s), float in [0, 1] (values outside are clamped).
        hr: ground-truth image(s), same shape as ``sr``.
        crop_border: pixels removed from each side before comparing (usually the scale factor).
        y_channel: compare MATLAB ``rgb2ycbcr`` Y (True) or the three RGB channels (False).
            Ignored for one-channel input, which is compared as is.
        quantize: round both images to 8 bits (``round(x * 255)``) before the colour conversion,
            as saving them to PNG would.

    Returns:
        float64 tensor of shape ``(B,)``: ``10 log10(255^2 / MSE)`` in dB for each image,
        ``+inf`` where the prepared images are identical.

    Shape:
        - sr, hr: ``(B, 3, H, W)`` RGB or ``(B, 1, H, W)`` Y/grey; ``(C, H, W)`` counts as B = 1.
        - output: ``(B,)``.

    Raises:
        ValueError: shapes differ or are not 3-/4-D, wrong channel count, crop too large.
        TypeError: integer (e.g. uint8) input.

    Example:
        >>> import torch
        >>> hr = torch.full((1, 3, 8, 8), 0.2)
        >>> sr = hr + 1 / 255  # every RGB value off by one 8-bit level
        >>> psnr(sr, hr, y_channel=False)  # MSE = 1 on the 0..255 scale
        tensor([48.1308], dtype=torch.float64)
        >>> psnr(sr, hr)  # Y moves by (65.481 + 128.553 + 24.966) / 255 = 219 / 255 levels
        tensor([49.4527], dtype=torch.float64)
        >>> psnr(hr + 0.001, hr)  # below half an 8-bit level: identical once saved
        tensor([inf], dtype=torch.float64)
    """
    return _psnr_per_image(*_prepare(sr, hr, crop_border, y_channel, quantize))


def ssim(
    sr: Tensor, hr: Tensor, crop_border: int = 0, y_channel: bool = True, quantize: bool = True
) -> Tensor:
    """Structural similarity per image (Wang et al. 2004), SR-benchmark protocol.

    Matches MATLAB ``ssim_index`` / BasicSR ``calculate_ssim``: 11x11 Gaussian window with
    sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255, 'valid' filtering (no padding), float64; the SSIM
    map is averaged over its valid region and, for RGB, over the channels.

    Args:
        sr: restored image(s), float in [0, 1] (values outside are clamped).
        hr: ground-truth image(s), same shape as ``sr``.
        crop_border: pixels removed from each side before comparing (usually the scale factor).
        y_channel: compare MATLAB ``rgb2ycbcr`` Y (True) or the three RGB channels (False).
            Ignored for one-channel input, which is compared as is.
        quantize: round both images to 8 bits (``round(x * 255)``) before the colour conversion.

    Returns:
        float64 tensor of shape ``(B,)``, 1 for identical images.

    Shape:
        - sr, hr: ``(B, 3, H, W)`` RGB or ``(B, 1, H, W)`` Y/grey; ``(C, H, W)`` counts as B = 1.
          ``H`` and ``W`` must be at least ``11 + 2 * crop_border``.
        - output: ``(B,)``.

    Raises:
        ValueError: as :func:`psnr`, or an image smaller than 11x11 after the crop.
        TypeError: integer (e.g. uint8) input.

    Example:
        >>> import torch
        >>> hr = torch.linspace(0, 1, 16 * 16).reshape(1, 1, 16, 16)
        >>> ssim(hr, hr)
        tensor([1.], dtype=torch.float64)
        >>> ssim(torch.full_like(hr, 0.5), hr).round(decimals=4)  # flat image: no structure
        tensor([0.0899], dtype=torch.float64)
    """
    return _ssim_per_image(*_prepare(sr, hr, crop_border, y_channel, quantize))
