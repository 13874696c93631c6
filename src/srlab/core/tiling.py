"""Seam-free tiling and the x8 self-ensemble of any SR function (LR batch -> SR batch).

Tiling
------
A large image is cut into overlapping tiles in LR space. Each tile is run with ``context``
extra LR pixels on every side that has image there (so the network, the bicubic
pre-upsampling of ``pre_upsample`` networks, the Cb/Cr merge of Y networks and the reflect
padding of ``border`` networks all see real neighbours, not a tile edge); those context pixels
are cropped off the tile's SR output. Neighbouring tiles then still share ``overlap`` LR pixels,
and there the outputs are blended with a raised-cosine ramp (``0.5 - 0.5 cos``) that rises
over the shared band. The window of a tile is the product of one ramp per axis, so the sum of
the windows is separable too, and the blend is normalised by it exactly (the weights of every
output pixel sum to 1), even where the last tile of a row is shifted to end at the image edge
and overlaps more. The result is within float noise of the untiled output wherever the
network's receptive field fits in ``context + overlap / 2`` LR pixels, and without visible
seams elsewhere (the far tails of the receptive field are cut off, and the blend hides the
residual difference; see ``bench/bench_tiling.py`` for measured figures).

The SR module validates in tiles with these (``model.val_tile``), and :mod:`srlab.inference`
adds the public ``upscale`` API and the tile size that fits a memory budget on top.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..errors import SRLabError

__all__ = ["DEFAULT_CONTEXT", "DEFAULT_OVERLAP", "self_ensemble", "tile_starts", "tiled_forward"]

#: LR pixels shared (and blended) by neighbouring tiles.
DEFAULT_OVERLAP = 16
#: LR pixels of real image around each tile, run through the network and cropped off.
DEFAULT_CONTEXT = 16


# ---------------------------------------------------------------------- self-ensemble
def self_ensemble(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """x8 geometric self-ensemble (Lim et al., EDSR; Timofte et al., "Seven ways").

    Runs ``fn`` on the 8 flips/rotations of ``x`` (the dihedral group of the square), undoes
    each transform on the output and averages.

    ``fn`` maps ``(B, C, h, w)`` to ``(B, C', s*h, s*w)`` for any ``h, w`` (rotations swap
    them). The outputs are summed one at a time, so the peak memory is that of one pass plus
    one output.
    """

    def one(k: int, flip: bool) -> Tensor:
        t = torch.rot90(x, k, dims=(-2, -1))
        y = fn(t.flip(-1) if flip else t)
        return torch.rot90(y.flip(-1) if flip else y, -k, dims=(-2, -1))

    acc = one(0, False)
    for k in range(4):
        for flip in (False, True):
            if k or flip:
                acc = acc.add_(one(k, flip))
    return acc.div_(8.0)


# ---------------------------------------------------------------------- tiling
def tile_starts(length: int, tile: int, overlap: int) -> tuple[list[int], int]:
    """``(starts, size)`` of the fewest tiles of at most ``tile`` pixels that cover ``[0, length)``.

    Neighbours share at least ``overlap`` pixels. The tiles are made
    equally large (``size <= tile``), so no pixel is computed more often than needed (a fixed
    stride would leave a last tile that mostly repeats its neighbour).
    """
    if length <= tile:
        return [0], length
    n = -(-(length - overlap) // (tile - overlap))
    size = -(-(length + (n - 1) * overlap) // n)
    stride = size - overlap
    return [min(i * stride, length - size) for i in range(n)], size


def _ramp(n: int, device: torch.device) -> Tensor:
    """Raised-cosine weights rising over ``n`` pixels, strictly inside (0, 1)."""
    i = torch.arange(n, dtype=torch.float64, device=device)
    return 0.5 - 0.5 * torch.cos(math.pi * (i + 0.5) / n)


def _windows(length: int, tile: int, starts: list[int], scale: int) -> list[Tensor]:
    """1-D blending window (HR pixels) of each tile along one axis.

    1 in the middle, a rising ramp over the band shared with the previous tile, a falling one
    over the next's.
    """
    out = []
    for i, s in enumerate(starts):
        n = min(tile, length - s) * scale
        w = torch.ones(n, dtype=torch.float64)
        if i > 0:  # band shared with the previous tile
            shared = (starts[i - 1] + tile - s) * scale
            if shared > 0:
                w[:shared] = _ramp(shared, w.device)
        if i + 1 < len(starts):
            shared = (s + tile - starts[i + 1]) * scale
            if shared > 0:
                w[n - shared :] = torch.minimum(w[n - shared :], _ramp(shared, w.device).flip(0))
        out.append(w)
    return out


def tiled_forward(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    scale: int,
    tile: int,
    overlap: int = DEFAULT_OVERLAP,
    context: int = DEFAULT_CONTEXT,
    out_device: torch.device | str | None = None,
) -> Tensor:
    """Run ``fn`` (LR ``(B,C,h,w)`` -> SR ``(B,C',s*h,s*w)``) over overlapping tiles of ``x``.

    The tiles' outputs are blended (see the module docstring).

    Args:
        fn: the SR function, e.g. ``lambda t: model(t, scale)``.
        x: ``(B, C, H, W)`` LR batch (on the device ``fn`` expects).
        scale: the SR factor.
        tile: largest tile side in LR pixels (without context); the tiles of an axis are
            made equally large (see :func:`tile_starts`).
        overlap: LR pixels shared by neighbouring tiles (blended); ``< tile / 2``.
        context: LR pixels of extra input around each tile, cropped off after SR.
        out_device: where the whole-image output is assembled (default: ``x``'s device; the
            CPU keeps a GPU's memory for the tiles).

    Returns:
        ``(B, C', s*H, s*W)`` float32.
    """
    if tile < 1 or overlap < 0 or context < 0:
        raise SRLabError(
            "tile must be >= 1 and overlap, context >= 0; "
            f"got tile={tile}, overlap={overlap}, context={context}"
        )
    if 2 * overlap >= tile:
        raise SRLabError(
            f"the tile overlap ({overlap} px) must be less than half the tile ({tile} px)"
        )
    b, _, h, w = x.shape
    if h <= tile and w <= tile:
        return fn(x).float().to(out_device or x.device)
    (ys, th), (xs, tw) = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    wys, wxs = _windows(h, th, ys, scale), _windows(w, tw, xs, scale)
    out_device = torch.device(out_device or x.device)
    # separable normaliser: sum over tiles of wy_i(y) * wx_j(x) = (sum_i wy_i)(y) * (sum_j wx_j)(x)
    norm_y = torch.zeros(h * scale, dtype=torch.float64)
    norm_x = torch.zeros(w * scale, dtype=torch.float64)
    for s, wy in zip(ys, wys):
        norm_y[s * scale : s * scale + len(wy)] += wy
    for s, wx in zip(xs, wxs):
        norm_x[s * scale : s * scale + len(wx)] += wx
    out = None
    for y0, wy in zip(ys, wys):
        y1 = min(y0 + th, h)
        cy0, cy1 = min(context, y0), min(context, h - y1)
        for x0, wx in zip(xs, wxs):
            x1 = min(x0 + tw, w)
            cx0, cx1 = min(context, x0), min(context, w - x1)
            sr = fn(x[..., y0 - cy0 : y1 + cy1, x0 - cx0 : x1 + cx1])
            sr = sr[
                ..., cy0 * scale : (cy0 + y1 - y0) * scale, cx0 * scale : (cx0 + x1 - x0) * scale
            ]
            if out is None:
                out = torch.zeros(
                    b, sr.shape[1], h * scale, w * scale, dtype=torch.float32, device=out_device
                )
            weight = (wy / norm_y[y0 * scale : y1 * scale])[:, None] * (
                wx / norm_x[x0 * scale : x1 * scale]
            )[None, :]
            out[..., y0 * scale : y1 * scale, x0 * scale : x1 * scale].add_(
                sr.float().to(out_device) * weight.to(device=out_device, dtype=torch.float32)
            )
            del sr
    assert out is not None  # the image is larger than one tile: the loops ran
    return out
