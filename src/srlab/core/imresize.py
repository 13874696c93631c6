"""MATLAB-exact bicubic ``imresize`` for PyTorch tensors.

The low-resolution images of DIV2K, Set5, Set14, BSD100, Urban100, ... were all made with
MATLAB's ``imresize(img, scale, 'bicubic')``. Reproducing that function *exactly* matters: a
model trained on LR images made another way sees a different degradation and loses PSNR on
the benchmarks. ``torch.nn.functional.interpolate``, torchvision and Kornia do **not** match
MATLAB: they use a different cubic coefficient (a = -0.75) and/or clamp or renormalise at the
borders instead of mirroring, and they antialias differently (or not at all) when
downscaling. This module therefore implements MATLAB's algorithm by hand:

* cubic kernel with a = -0.5 (Keys), support ``|x| < 2``;
* when downscaling with ``antialias=True`` the kernel is stretched by ``1/scale``:
  ``h(x) = scale * cubic(scale * x)``, kernel width ``4 / scale``;
* output length ``ceil(in * scale)`` per dimension (or the given ``size``);
* output pixel ``u`` (1-based) samples the input at ``u / scale + 0.5 * (1 - 1 / scale)``;
  its taps are ``left + 0 .. left + P - 1`` with ``left = floor(u - width / 2)`` and
  ``P = ceil(width) + 2``; the weights of each output pixel are normalised to sum to 1;
* out-of-range taps are mirrored *symmetrically* (the edge pixel repeated:
  ``aux = [1:in, in:-1:1]`` indexed modulo ``2 * in``);
* the two 1-D passes run along the dimension with the smaller scale first (height first when
  the scales are equal), as MATLAB does.

Integer upscaling (``scale`` = 2, 3, 4, ...: what SR needs) has its own exact form,
:func:`bicubic_upscale`, which every integer-upscaling pass of :func:`imresize` goes through
and which networks (EnhanceNet, IDN, BTSRN, SelNet), the input rules
(:mod:`srlab.core.rules`) and the exported models use. MATLAB's bicubic is shift-invariant per
output *phase* there: output pixel ``s*i + p`` reads input pixels ``i-2 .. i+2`` with weights
that depend on ``p`` only, and the symmetric mirroring equals padding the input by 2 pixels
with its edge-including mirror. So each 1-D pass is ``s`` weighted sums of 5 shifted views
(zero taps skipped), interleaved. Element-wise ops only: it traces with symbolic sizes (ONNX,
TorchScript), runs on the meta device, is not counted as MACs by
:class:`torch.utils.flop_counter.FlopCounterMode` (networks' own bicubic is bookkeeping, not
a layer) and is not lowered to bf16 by autocast (a residual network adds it to its output at
full precision). On a CPU it takes up to ~3x the time of the banded form below (this project's
2-core machine, a 3x678x1020 image upscaled x2: ~40 ms against ~14 ms; small batches cost the
same), a cost no training or evaluation step notices next to the network.

How the two 1-D passes of the other scales are computed:

* **Height**: one fused gather + weighted sum of whole image rows,
  ``F.embedding_bag(..., per_sample_weights=w, mode="sum")`` with the rows as the table
  (``out[i] = sum_j w[i, j] * row[idx[i, j]]``), which reads each input row about once.
* **Width**: a matmul with the sparse, banded weight matrix, cut into blocks of consecutive
  output pixels; each block reads only the contiguous input window it needs and multiplies it
  by a small dense matrix.
* **Backward**: each pass is linear, so its gradient is its transpose (the block matrices
  scattered back into their input windows), written out as a pair of autograd Functions that
  are each other's backward: fast, and differentiable to any order.

For a 3x1356x2040 float32 image on a 2-core CPU, the resize by 1/2 took ~10 ms this way
(~37 ms with backward), against ~280 ms with one dense matrix per pass, ~240-390 ms with a
gather of the ``P`` taps (``index_select``) plus weighted sum, and ~25 ms with blocked
matmuls for both passes. Weights and indices are computed once per
(in, out, scale, antialias) in float64 on the CPU (``functools.lru_cache``) and moved to the
input's device and dtype per call.

Inputs with NaN/Inf: in a banded width pass (not an integer upscale) a non-finite input pixel
makes every output pixel of the blocks that read it (up to ~128 pixels of that row)
non-finite, not only its kernel neighbours as in MATLAB, because the blocks' zero weights
still multiply it (``0 * inf = nan``).
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass
from typing import Any, TypeGuard

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["bicubic_upscale", "imresize"]

#: Target length of the input window one block of output pixels reads (see ``_rows_per_block``).
_BLOCK_SPAN = 48


def _cubic(x: Tensor) -> Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = x.abs()
    ax2 = ax * ax
    ax3 = ax2 * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return inner + outer


@functools.lru_cache(maxsize=256)
def _contributions(
    in_len: int, out_len: int, scale: float, antialias: bool
) -> tuple[Tensor, Tensor]:
    """MATLAB's ``contributions``: per output pixel, its input taps and their weights.

    Returns:
        ``(weights, indices)``, both ``(out_len, P')`` on the CPU: float64 weights (rows sum
        to 1) and 0-based int64 input indices, already mirrored into ``[0, in_len)``. Tap
        columns whose weight is zero for every output pixel are dropped, as in MATLAB.
    """
    kernel_width = 4.0
    stretch = scale < 1 and antialias
    if stretch:
        kernel_width /= scale
    f64 = torch.float64
    u = torch.arange(1, out_len + 1, dtype=f64) / scale + 0.5 * (1.0 - 1.0 / scale)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + torch.arange(taps, dtype=f64)  # 1-based, may be out of range
    dist = u[:, None] - indices
    weights = scale * _cubic(scale * dist) if stretch else _cubic(dist)
    weights = weights / weights.sum(dim=1, keepdim=True)
    # Symmetric mirroring: aux = [1:in, in:-1:1] (here 0-based), indexed modulo 2 * in.
    aux = torch.cat([torch.arange(in_len), torch.arange(in_len - 1, -1, -1)])
    indices = aux[torch.remainder(indices.long() - 1, 2 * in_len)]
    keep = (weights != 0).any(dim=0)
    return weights[:, keep].contiguous(), indices[:, keep].contiguous()


@dataclass(frozen=True)
class _BandedPlan:
    """The banded weight matrix of one 1-D resize, cut into row blocks.

    Block ``k`` covers output pixels ``[k * rows, k * rows + rows)`` (the last one may be
    shorter: ``last_rows``) and reads input pixels ``[starts[k], starts[k] + span)``;
    ``blocks[k]`` is its dense ``(rows, span)`` weight matrix (float64, CPU).
    """

    out_len: int
    rows: int
    last_rows: int
    span: int
    starts: tuple[int, ...]
    blocks: Tensor


def _rows_per_block(scale: float) -> int:
    """Output pixels per block: an input window of about ``_BLOCK_SPAN`` pixels, 16..64 rows."""
    return max(16, min(64, int(_BLOCK_SPAN * scale)))


@functools.lru_cache(maxsize=256)
def _banded_plan(in_len: int, out_len: int, scale: float, antialias: bool) -> _BandedPlan:
    weights, indices = _contributions(in_len, out_len, scale, antialias)
    rows = min(_rows_per_block(scale), out_len)
    n_blocks = -(-out_len // rows)
    pad = n_blocks * rows - out_len
    # Padding rows repeat the last row's indices (so min/max are unaffected) with zero weight.
    idx_padded = torch.cat([indices, indices[-1:].expand(pad, -1)]).view(n_blocks, -1)
    lo = idx_padded.amin(dim=1)
    hi = idx_padded.amax(dim=1)
    span = min(int((hi - lo).max()) + 1, in_len)
    starts = torch.clamp(lo, max=in_len - span)  # every window lies inside [0, in_len)

    out_idx = torch.arange(out_len)[:, None].expand_as(indices)
    cols = indices - starts[out_idx // rows]
    blocks = torch.zeros(n_blocks * rows, span, dtype=torch.float64)
    # accumulate=True: a mirrored tap can hit the same input pixel as a regular one.
    blocks.index_put_((out_idx, cols), weights, accumulate=True)
    return _BandedPlan(
        out_len=out_len,
        rows=rows,
        last_rows=out_len - (n_blocks - 1) * rows,
        span=span,
        starts=tuple(int(s) for s in starts),
        blocks=blocks.view(n_blocks, rows, span),
    )


def _resize_rows_gather(x: Tensor, scale: float, out_len: int, antialias: bool) -> Tensor:
    """Height pass as one fused gather + weighted sum of whole image rows.

    ``F.embedding_bag(mode="sum", per_sample_weights=...)`` computes exactly
    ``out[i] = sum_j w[i, j] * table[idx[i, j]]`` in one optimised kernel (CPU and CUDA); with
    the image rows as the table that is the height pass, reading each input row ~once.
    """
    weights, indices = _contributions(x.shape[-2], out_len, scale, antialias)
    *lead, in_h, width = x.shape
    n = math.prod(lead)
    idx = indices.to(x.device)
    wts = weights.to(device=x.device, dtype=x.dtype)
    if n > 1:  # all images' rows in one table: image k's rows start at k * in_h
        offsets = torch.arange(n, device=x.device).mul_(in_h).view(n, 1, 1)
        idx = (idx + offsets).flatten(0, 1)
        wts = wts.repeat(n, 1)
    out = F.embedding_bag(idx, x.reshape(n * in_h, width), per_sample_weights=wts, mode="sum")
    return out.view(*lead, out_len, width)


def _resize_banded(x: Tensor, dim: int, scale: float, out_len: int, antialias: bool) -> Tensor:
    """Block-banded matmul along ``dim`` (-1: width, -2: height)."""
    plan = _banded_plan(x.shape[dim], out_len, scale, antialias)
    mats = plan.blocks.to(device=x.device, dtype=x.dtype)
    n_blocks = len(plan.starts)
    parts = []
    for k, start in enumerate(plan.starts):
        m = mats[k] if k < n_blocks - 1 else mats[k, : plan.last_rows]
        window = x.narrow(dim, start, plan.span)
        parts.append(window @ m.T if dim == -1 else m @ window)
    return parts[0] if n_blocks == 1 else torch.cat(parts, dim=dim)


def _resize_banded_adjoint(
    g: Tensor, dim: int, scale: float, in_len: int, antialias: bool
) -> Tensor:
    """The transpose of :func:`_resize_banded`: ``out_len`` -> ``in_len`` along ``dim``.

    Each block scatters ``m_k^T @ g_block`` back into its input window; windows overlap, so
    they are accumulated in place into one buffer.
    """
    plan = _banded_plan(in_len, g.shape[dim], scale, antialias)
    mats = plan.blocks.to(device=g.device, dtype=g.dtype)
    shape = list(g.shape)
    shape[dim] = in_len
    grad = g.new_zeros(shape)
    n_blocks = len(plan.starts)
    for k, start in enumerate(plan.starts):
        m = mats[k] if k < n_blocks - 1 else mats[k, : plan.last_rows]
        g_block = g.narrow(dim, k * plan.rows, m.shape[0])
        window = grad.narrow(dim, start, plan.span)
        window += g_block @ m if dim == -1 else m.T @ g_block
    return grad


def _resize_forward(x: Tensor, dim: int, scale: float, out_len: int, antialias: bool) -> Tensor:
    if dim == -2 and x.numel() > 0:
        return _resize_rows_gather(x, scale, out_len, antialias)
    return _resize_banded(x, dim, scale, out_len, antialias)


class _Resize1d(torch.autograd.Function):
    """One 1-D pass.

    Linear, so its backward is its transpose, whose backward is the pass
    itself: explicit adjoints keep the backward as fast as the forward (per-block autograd
    through ``narrow`` would allocate a full-size gradient per block, ~10x slower) and allow
    any order of differentiation.
    """

    @staticmethod
    def forward(x: Tensor, dim: int, scale: float, out_len: int, antialias: bool) -> Tensor:
        return _resize_forward(x, dim, scale, out_len, antialias)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        x, dim, scale, _, antialias = inputs
        ctx.args = (dim, scale, x.shape[dim], antialias)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        dim, scale, in_len, antialias = ctx.args
        return _Resize1dAdjoint.apply(grad, dim, scale, in_len, antialias), None, None, None, None


class _Resize1dAdjoint(torch.autograd.Function):
    """Transpose of :class:`_Resize1d` (its backward)."""

    @staticmethod
    def forward(grad: Tensor, dim: int, scale: float, in_len: int, antialias: bool) -> Tensor:
        return _resize_banded_adjoint(grad, dim, scale, in_len, antialias)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        grad, dim, scale, _, antialias = inputs
        ctx.args = (dim, scale, grad.shape[dim], antialias)

    @staticmethod
    def backward(ctx: Any, grad_grad: Tensor) -> tuple[Tensor | None, ...]:
        dim, scale, out_len, antialias = ctx.args
        return _Resize1d.apply(grad_grad, dim, scale, out_len, antialias), None, None, None, None


# ---------------------------------------------------------------------- integer upscaling
@functools.lru_cache(maxsize=16)
def _phase_taps(scale: int) -> tuple[tuple[tuple[int, float], ...], ...]:
    """Per output phase ``p`` of an integer upscale, its ``(tap, weight)`` pairs (non-zero ones).

    Tap ``j`` is input pixel ``i + j - 2`` of output pixel ``scale*i + p``, which samples
    input position ``i + (p + 0.5) / scale - 0.5``. MATLAB's kernel, normalised per output pixel
    (as :func:`_contributions`), in float64; plain floats, so tracing records constants.
    """
    f64 = torch.float64
    offsets = (torch.arange(scale, dtype=f64) + 0.5) / scale - 0.5
    weights = _cubic(offsets[:, None] - torch.arange(-2, 3, dtype=f64)[None, :])
    weights = weights / weights.sum(dim=1, keepdim=True)
    return tuple(
        tuple((j, float(w)) for j, w in enumerate(row) if w != 0) for row in weights.tolist()
    )


def _mirror_pad2(x: Tensor, dim: int) -> Tensor:
    """Pad 2 pixels on both ends of ``dim`` with MATLAB's symmetric mirror.

    The edge pixel is repeated: ``[x1, x0 | x0 .. xn-1 | xn-1, xn-2]``; a 1-pixel axis repeats
    its pixel.
    """
    n = x.shape[dim]
    idx = torch.arange(-2, n + 2, device=x.device)
    idx = torch.where(idx < 0, -idx - 1, idx)
    idx = torch.where(idx >= n, 2 * n - 1 - idx, idx).clamp(0, n - 1)
    return x.index_select(dim, idx)


def _phase_pass(xp: Tensor, scale: int, dim: int) -> Tensor:
    """Upscale along ``dim`` (>= 0) an input already padded by :func:`_mirror_pad2` there.

    One weighted sum of shifted views per phase, the phases interleaved.
    """
    n = xp.shape[dim] - 4
    phases = []
    for taps in _phase_taps(scale):
        (j0, w0), *rest = taps
        out = xp.narrow(dim, j0, n) * w0
        for j, w in rest:
            out.add_(xp.narrow(dim, j, n), alpha=w)
        phases.append(out)
    return torch.stack(phases, dim=dim + 1).flatten(dim, dim + 1)


def _check_upscale(scale: object) -> int:
    f = float(scale) if _is_number(scale) else math.nan
    if not f.is_integer() or f < 1:
        raise ValueError(f"bicubic_upscale: scale must be a positive integer, got {scale!r}")
    return int(f)


def bicubic_upscale(x: Tensor, scale: int) -> Tensor:
    """MATLAB ``imresize(x, scale, 'bicubic')`` for an integer ``scale``.

    The one integer upscaler of srlab (see the module notes). Equal to :func:`imresize`
    ``(x, scale)``, which calls it. Differentiable, traceable with symbolic sizes
    (``torch.jit.trace``, ``torch.onnx.export``), any float dtype and device.

    Args:
        x: float image(s) with height and width last, e.g. ``(B, C, H, W)``.
        scale: the integer factor (1 returns ``x`` itself).

    Returns:
        ``(..., scale*H, scale*W)``, same dtype and device as ``x``.

    Raises:
        ValueError: ``scale`` is not a positive integer or ``x`` has fewer than 2 dimensions.

    Example:
        >>> bicubic_upscale(torch.tensor([[0.0, 1.0]]), 2)  # a 1x2 step: Keys' kernel overshoots
        tensor([[-0.0938,  0.2031,  0.7969,  1.0938],
                [-0.0938,  0.2031,  0.7969,  1.0938]])
    """
    scale = _check_upscale(scale)
    if x.ndim < 2:
        raise ValueError(f"bicubic_upscale: expected (..., H, W), got shape {tuple(x.shape)}")
    if scale == 1:
        return x
    h, w = x.ndim - 2, x.ndim - 1
    # both pads on the small input; width first, so the big height pass reads contiguous rows
    # (the passes commute: the result equals MATLAB's height-first order to float rounding)
    xp = _mirror_pad2(_mirror_pad2(x, h), w)
    return _phase_pass(_phase_pass(xp, scale, w), scale, h)


def _resize_along(x: Tensor, dim: int, scale: float, out_len: int, antialias: bool) -> Tensor:
    """Resize ``x`` along ``dim`` (-1: width, -2: height) with MATLAB's bicubic weights."""
    if scale == 1.0 and out_len == x.shape[dim]:
        return x  # the weights are exactly the identity (cubic(0) = 1, cubic(+-1, +-2) = 0)
    if scale.is_integer() and out_len == x.shape[dim] * scale:  # integer upscale: phase form
        d = x.ndim + dim
        return _phase_pass(_mirror_pad2(x, d), int(scale), d)
    return _Resize1d.apply(x, dim, scale, out_len, antialias)


def _is_number(v: object) -> TypeGuard[numbers.Real]:
    """A real number that is not a bool."""
    return not isinstance(v, bool) and isinstance(v, numbers.Real)


def _as_pair(value: object, name: str) -> tuple[float, float]:
    if _is_number(value):
        pair: tuple[object, ...] = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = tuple(value)
    else:
        raise ValueError(
            f"imresize: {name} must be a number > 0 or a (scale_h, scale_w) pair, got {value!r}"
        )
    out = []
    for v in pair:
        f = float(v) if _is_number(v) else math.nan
        if not math.isfinite(f) or f <= 0:
            raise ValueError(
                f"imresize: {name} must be a finite number > 0 (or a pair of them), got {value!r}"
            )
        out.append(f)
    return out[0], out[1]


def imresize(
    x: Tensor,
    scale: float | tuple[float, float] | None = None,
    antialias: bool = True,
    size: tuple[int, int] | None = None,
) -> Tensor:
    """Resize images exactly like MATLAB's ``imresize(img, scale, 'bicubic')``.

    Float in, float out: nothing is clamped or rounded (MATLAB rounds and saturates only for
    integer images; do that yourself if you want 8-bit LR images). Differentiable, and runs on
    whatever device ``x`` is on.

    Args:
        x: float image(s) (any floating dtype, any number of channels).
        scale: resize factor, one number for both dimensions or ``(scale_h, scale_w)``; > 1
            upscales, < 1 downscales. The output size is ``ceil(in * scale)`` per dimension,
            exactly as MATLAB computes it (beware of floating point: ``ceil(50 * 1.1)`` is 56;
            pass ``size`` to pin the size).
        antialias: when downscaling, widen the kernel by ``1 / scale`` (MATLAB's default,
            ``'Antialiasing', true``). Has no effect when upscaling.
        size: output ``(height, width)``. Without ``scale`` the scales are
            ``size / input size`` per dimension (MATLAB's ``imresize(img, [h w])``); with
            ``scale`` too, ``scale`` sets the sampling grid and ``size`` only the output length.

    Returns:
        The resized image(s), same dtype and device as ``x``.

    Shape:
        - x: ``(C, H, W)`` or ``(B, C, H, W)``
        - output: ``(C, H_out, W_out)`` or ``(B, C, H_out, W_out)`` with
          ``H_out = ceil(H * scale_h)``, ``W_out = ceil(W * scale_w)`` (or ``size``).

    Raises:
        ValueError: bad ndim, non-float dtype, scale <= 0 (or not finite), bad ``size``, or an
            empty input/output.

    Example:
        >>> ramp = torch.arange(8.0).view(1, 1, 8)  # one channel, one row: 0, 1, ..., 7
        >>> imresize(ramp, 0.5)  # ~ samples at 0.5, 2.5, 4.5, 6.5; mirroring bends the ends
        tensor([[[0.4492, 2.4883, 4.5117, 6.5508]]])
        >>> imresize(torch.ones(3, 5, 7), 2.0).shape
        torch.Size([3, 10, 14])
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"imresize: expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim not in (3, 4):
        raise ValueError(
            "imresize: expected a tensor of shape (C, H, W) or (B, C, H, W), "
            f"got ndim={x.ndim} with shape {tuple(x.shape)}"
        )
    if not x.dtype.is_floating_point:
        raise ValueError(
            "imresize: expected a floating-point tensor (e.g. torch.float32), "
            f"got dtype {x.dtype}; convert first, e.g. x.float() / 255"
        )
    if scale is None and size is None:
        raise ValueError("imresize: expected scale or size, got neither")
    in_h, in_w = int(x.shape[-2]), int(x.shape[-1])

    if size is not None:
        given: object = size  # checked as what a caller may pass, not as annotated
        if (
            not isinstance(given, (tuple, list))
            or len(given) != 2
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in given)
        ):
            raise ValueError(f"imresize: size must be a (height, width) pair of ints, got {size!r}")
        out_h, out_w = int(size[0]), int(size[1])
    if scale is not None:
        scale_h, scale_w = _as_pair(scale, "scale")
        if size is None:
            out_h, out_w = math.ceil(in_h * scale_h), math.ceil(in_w * scale_w)
    if in_h < 1 or in_w < 1 or out_h < 1 or out_w < 1:
        raise ValueError(
            f"imresize: expected input and output height/width >= 1, got input (H, W)=({in_h}, "
            f"{in_w}) -> output ({out_h}, {out_w}) (scale={scale!r}, size={size!r})"
        )
    if scale is None:
        scale_h, scale_w = out_h / in_h, out_w / in_w

    if size is None and scale_h == scale_w and scale_h.is_integer() and scale_h > 1:
        return bicubic_upscale(x, int(scale_h))
    passes = [(-2, scale_h, out_h), (-1, scale_w, out_w)]
    if scale_w < scale_h:  # MATLAB: smaller scale first, height first on ties
        passes.reverse()
    out = x
    for dim, s, n in passes:
        out = _resize_along(out, dim, s, n, antialias)
    return out.clone() if out is x else out
