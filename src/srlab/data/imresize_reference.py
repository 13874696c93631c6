"""Plain NumPy (float64) reference of MATLAB's ``imresize(img, scale, 'bicubic')``.

Written independently of :mod:`srlab.core.imresize` (which builds MATLAB's
``contributions`` table and banded weight matrices in torch) so that tests comparing the two
check something: here every output pixel is computed in a Python loop straight from the
definition, borders come from ``np.pad(mode="symmetric")``, and the taps are all integers within
the kernel's support instead of MATLAB's ``P = ceil(width) + 2`` window (the extra taps carry
zero weight, so the result is the same). Slow but simple; used by the tests and the benchmark.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["imresize_numpy"]


def _keys_cubic(t: np.ndarray) -> np.ndarray:
    """Keys' cubic kernel, a = -0.5, in Horner form."""
    t = np.abs(t)
    near = ((1.5 * t - 2.5) * t) * t + 1.0
    far = ((-0.5 * t + 2.5) * t - 4.0) * t + 2.0
    return np.where(t <= 1.0, near, np.where(t <= 2.0, far, 0.0))


def _resize_axis0(img: np.ndarray, scale: float, out_len: int, antialias: bool) -> np.ndarray:
    """Resize along axis 0 of a float64 array."""
    in_len = img.shape[0]
    # Downscaling with antialiasing stretches the kernel by 1/scale (its height factor cancels
    # in the normalisation below).
    stretch = 1.0 / scale if (antialias and scale < 1.0) else 1.0
    radius = 2.0 * stretch
    out = np.empty((out_len, *img.shape[1:]), dtype=np.float64)
    # 0-based sampling positions: pixel centres aligned, (i + 0.5) / scale - 0.5.
    centres = (np.arange(out_len) + 0.5) / scale - 0.5
    first = np.floor(centres - radius).astype(np.int64)
    last = np.ceil(centres + radius).astype(np.int64)
    pad_before = max(0, -int(first.min()))
    pad_after = max(0, int(last.max()) - (in_len - 1))
    pad_width = [(pad_before, pad_after)] + [(0, 0)] * (img.ndim - 1)
    padded = np.pad(img, pad_width, mode="symmetric")  # edge pixel repeated, like MATLAB
    for i in range(out_len):
        taps = np.arange(first[i], last[i] + 1)
        w = _keys_cubic((centres[i] - taps) / stretch)
        w = w / w.sum()
        out[i] = np.tensordot(w, padded[first[i] + pad_before : last[i] + pad_before + 1], axes=1)
    return out


def imresize_numpy(
    img: np.ndarray,
    scale: float | tuple[float, float],
    antialias: bool = True,
    output_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """MATLAB ``imresize(img, scale, 'bicubic')`` in float64, no rounding or clamping.

    Args:
        img: ``(H, W)`` or ``(H, W, C)`` array (any real dtype; computed in float64).
        scale: one factor or ``(scale_h, scale_w)``.
        antialias: widen the kernel by ``1 / scale`` when downscaling (MATLAB's default).
        output_shape: ``(H_out, W_out)``; default ``ceil(H * scale_h), ceil(W * scale_w)``.

    Returns:
        float64 array ``(H_out, W_out)`` or ``(H_out, W_out, C)``.
    """
    if img.ndim not in (2, 3):
        raise ValueError(f"imresize_numpy: expected (H, W) or (H, W, C), got shape {img.shape}")
    values = np.asarray(scale, dtype=np.float64)
    scales = (float(values),) * 2 if values.ndim == 0 else tuple(float(v) for v in values.ravel())
    if len(scales) != 2 or min(scales) <= 0:
        raise ValueError(f"imresize_numpy: scale must be > 0 (or a pair), got {scale!r}")
    if output_shape is None:
        output_shape = (math.ceil(img.shape[0] * scales[0]), math.ceil(img.shape[1] * scales[1]))
    result = np.asarray(img, dtype=np.float64)
    # Same order as MATLAB: smaller scale first, rows first on ties.
    order = (0, 1) if scales[0] <= scales[1] else (1, 0)
    for axis in order:
        moved = np.ascontiguousarray(np.moveaxis(result, axis, 0))
        moved = _resize_axis0(moved, scales[axis], output_shape[axis], antialias)
        result = np.moveaxis(moved, 0, axis)
    return np.ascontiguousarray(result)
