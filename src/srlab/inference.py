"""Public inference API: ``srlab.upscale(model, image)``, with seam-free tiling and x8
self-ensemble.

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

Automatic tile size (``max_memory``)
------------------------------------
The peak memory of one tile is measured on a small probe (64x64 LR pixels plus context): on
CUDA with ``torch.cuda.max_memory_allocated``, on the CPU by counting the bytes of the tensors
alive at once while the probe runs (a :class:`~torch.utils._python_dispatch.TorchDispatchMode`
that sees every allocation of every operator). Peak bytes per input pixel of the probe (which
includes the fixed overheads, so it over-estimates) times a safety factor of 1.5 give the
per-pixel cost; the budget minus what the whole-image buffers need (the input, the float32 SR
output accumulator, and the weights) gives the largest square tile that fits.
"""

from __future__ import annotations

import math
import os
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from .data.io import read_image, to_float
from .errors import SRLabError

if TYPE_CHECKING:
    from .models.sr_module import SRModule

__all__ = [
    "upscale",
    "as_image_tensor",
    "self_ensemble",
    "tiled_forward",
    "tile_starts",
    "auto_tile_size",
    "sr_forward",
    "DEFAULT_OVERLAP",
    "DEFAULT_CONTEXT",
]

#: LR pixels shared (and blended) by neighbouring tiles.
DEFAULT_OVERLAP = 16
#: LR pixels of real image around each tile, run through the network and cropped off.
DEFAULT_CONTEXT = 16
_PROBE = 64
_SAFETY = 1.5


def as_image_tensor(image: Tensor | np.ndarray | str | os.PathLike) -> Tensor:
    """A path, HxWx3 uint8 array, PIL image or (3,H,W) tensor -> float (3,H,W) in [0, 1]."""
    if isinstance(image, (str, os.PathLike)):
        return to_float(read_image(Path(image)))
    if not isinstance(image, Tensor):
        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        t = torch.from_numpy(np.ascontiguousarray(arr[..., :3])).permute(2, 0, 1)
        if t.dtype == torch.uint16:
            return t.float().div_(65535.0)
        return to_float(t) if t.dtype == torch.uint8 else t.float()
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"upscale expects an RGB image shaped (3, H, W), got {tuple(image.shape)}")
    return to_float(image) if image.dtype == torch.uint8 else image.float()


# ---------------------------------------------------------------------- self-ensemble
def self_ensemble(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """x8 geometric self-ensemble (Lim et al., EDSR; Timofte et al., "Seven ways"): run ``fn``
    on the 8 flips/rotations of ``x`` (the dihedral group of the square), undo each transform
    on the output and average.

    ``fn`` maps ``(B, C, h, w)`` to ``(B, C', s*h, s*w)`` for any ``h, w`` (rotations swap
    them). The outputs are summed one at a time, so the peak memory is that of one pass plus
    one output.
    """
    acc = None
    for k in range(4):
        for flip in (False, True):
            t = torch.rot90(x, k, dims=(-2, -1))
            if flip:
                t = t.flip(-1)
            y = fn(t)
            if flip:
                y = y.flip(-1)
            y = torch.rot90(y, -k, dims=(-2, -1))
            acc = y if acc is None else acc.add_(y)
    return acc.div_(8.0)


# ---------------------------------------------------------------------- tiling
def tile_starts(length: int, tile: int, overlap: int) -> tuple[list[int], int]:
    """``(starts, size)`` of the fewest tiles of at most ``tile`` pixels that cover
    ``[0, length)`` with neighbours sharing at least ``overlap`` pixels. The tiles are made
    equally large (``size <= tile``), so no pixel is computed more often than needed (a fixed
    stride would leave a last tile that mostly repeats its neighbour)."""
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
    """1-D blending window (HR pixels) of each tile along one axis: 1 in the middle, a rising
    ramp over the band shared with the previous tile, a falling one over the next's."""
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
    """Run ``fn`` (LR ``(B,C,h,w)`` -> SR ``(B,C',s*h,s*w)``) over overlapping tiles of ``x``
    and blend them (see the module docstring).

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
        raise SRLabError(f"tile must be >= 1 and overlap, context >= 0; got tile={tile}, overlap={overlap}, context={context}")
    if 2 * overlap >= tile:
        raise SRLabError(f"the tile overlap ({overlap} px) must be less than half the tile ({tile} px)")
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
            sr = sr[..., cy0 * scale : (cy0 + y1 - y0) * scale, cx0 * scale : (cx0 + x1 - x0) * scale]
            if out is None:
                out = torch.zeros(b, sr.shape[1], h * scale, w * scale, dtype=torch.float32, device=out_device)
            weight = (wy / norm_y[y0 * scale : y1 * scale])[:, None] * (
                wx / norm_x[x0 * scale : x1 * scale]
            )[None, :]
            out[..., y0 * scale : y1 * scale, x0 * scale : x1 * scale].add_(
                sr.float().to(out_device) * weight.to(device=out_device, dtype=torch.float32)
            )
            del sr
    return out


# ---------------------------------------------------------------------- memory budget
class _LiveBytes(TorchDispatchMode):
    """Counts the bytes of tensor storages alive at once while operators run (CPU or GPU):
    every new storage an operator returns is added, and subtracted when its tensor dies."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._seen: set[int] = set()

    def _free(self, key: int, n: int) -> None:
        if key in self._seen:
            self._seen.discard(key)
            self.live -= n

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, Tensor):
                st = t.untyped_storage()
                key, n = st.data_ptr(), st.nbytes()
                if n == 0 or key in self._seen:
                    continue
                self._seen.add(key)
                self.live += n
                self.peak = max(self.peak, self.live)
                weakref.finalize(t, self._free, key, n)
        return out


def _probe_peak_bytes(fn: Callable[[Tensor], Tensor], x: Tensor) -> int:
    """Peak bytes of intermediate tensors while ``fn(x)`` runs."""
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
        torch.cuda.reset_peak_memory_stats(x.device)
        base = torch.cuda.memory_allocated(x.device)
        fn(x)
        torch.cuda.synchronize(x.device)
        return int(torch.cuda.max_memory_allocated(x.device) - base)
    meter = _LiveBytes()
    with meter:
        y = fn(x)
    del y
    return int(meter.peak)


def auto_tile_size(
    fn: Callable[[Tensor], Tensor],
    image_shape: tuple[int, ...],
    scale: int,
    max_memory_mb: float,
    overlap: int = DEFAULT_OVERLAP,
    context: int = DEFAULT_CONTEXT,
    fixed_bytes: int = 0,
    device: torch.device | str = "cpu",
    in_channels: int = 3,
) -> int | None:
    """The largest tile side (LR pixels, a multiple of 8) whose run fits ``max_memory_mb``
    together with the whole-image buffers; ``None`` when the whole image fits untiled.

    ``fixed_bytes``: memory taken whatever the tile (weights; on the CPU also the input and
    the SR output accumulator, added here). Raises :class:`SRLabError` when even a small tile
    does not fit.
    """
    budget = float(max_memory_mb) * 2**20
    h, w = int(image_shape[-2]), int(image_shape[-1])
    device = torch.device(device)
    out_ch = 3
    if device.type == "cpu":
        fixed_bytes += 4 * (in_channels * h * w + out_ch * h * w * scale * scale)
    side = _PROBE + 2 * context
    probe = torch.rand(1, in_channels, side, side, device=device)
    with torch.inference_mode():
        per_px = _SAFETY * _probe_peak_bytes(fn, probe) / (side * side)
    avail = budget - fixed_bytes
    whole = (h + 0) * (w + 0) * per_px
    if whole <= avail:
        return None
    tile_in = math.floor(math.sqrt(max(avail, 0) / per_px)) if per_px > 0 else max(h, w)
    tile = (tile_in - 2 * context) // 8 * 8
    least = max(2 * overlap + 8, 16)
    if tile < least:
        need = (fixed_bytes + (least + 2 * context) ** 2 * per_px) / 2**20
        raise SRLabError(
            f"--max-memory {max_memory_mb:g} MB is too small for this {w}x{h} image at x{scale}: "
            f"it needs at least ~{math.ceil(need)} MB (tile {least} px)"
        )
    return int(tile)


# ---------------------------------------------------------------------- the API
def sr_forward(
    model: SRModule,
    lr: Tensor,
    scale: int | None = None,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    context: int = DEFAULT_CONTEXT,
    max_memory: float | None = None,
    ensemble: bool = False,
    out_device: torch.device | str | None = None,
) -> Tensor:
    """``model(lr, scale)`` for an LR batch ``(B,3,H,W)``, optionally tiled and/or x8
    self-ensembled; not clamped. ``max_memory`` (MB) picks the tile size when ``tile`` is
    ``None`` (see :func:`auto_tile_size`)."""
    scale = model.check_scale(scale)

    def one(t: Tensor) -> Tensor:
        return model(t, scale)

    fn = (lambda t: self_ensemble(one, t)) if ensemble else one
    if tile is None and max_memory is not None:
        weights = sum(p.numel() * p.element_size() for p in model.parameters())
        tile = auto_tile_size(fn, tuple(lr.shape), scale, max_memory, overlap, context,
                              fixed_bytes=weights, device=lr.device)
    if tile is None:
        out = fn(lr)
        return out.to(out_device) if out_device is not None else out
    return tiled_forward(fn, lr, scale, int(tile), overlap, context, out_device=out_device)


@torch.inference_mode()
def upscale(
    model: SRModule,
    image: Tensor | np.ndarray | str | os.PathLike,
    scale: int | None = None,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    max_memory: float | None = None,
    self_ensemble: bool = False,
    context: int = DEFAULT_CONTEXT,
) -> Tensor:
    """Super-resolve one RGB image with a loaded model.

    Args:
        model: e.g. from :func:`srlab.load_model`.
        image: a file path, an ``HxWx3`` uint8 (or uint16) array / PIL image, or a
            ``(3, H, W)`` tensor (uint8, or float in [0, 1]).
        scale: the factor, for a model that serves several (``model.scales``); default: the
            model's own ``model.scale``. A scale the model does not serve raises
            :class:`srlab.SRLabError` naming the ones it does.
        tile: process in overlapping tiles of this many LR pixels (``None``: whole image, or
            the size ``max_memory`` allows). Works for every network; see the module docs.
        overlap: LR pixels shared by neighbouring tiles, blended with raised-cosine weights.
        max_memory: memory budget in MB; the tile size is chosen to fit it.
        self_ensemble: x8 geometric self-ensemble (8x the compute).
        context: LR pixels of extra input around each tile, cropped off after SR.

    Returns:
        Float tensor ``(3, scale*H, scale*W)`` in [0, 1], on the CPU.
    """
    scale = model.check_scale(scale)
    x = as_image_tensor(image).unsqueeze(0).to(model.device)
    was_training = model.training
    model.eval()
    try:
        out = sr_forward(model, x, scale, tile, overlap, context, max_memory, self_ensemble, out_device="cpu")
        return out[0].clamp_(0, 1)
    finally:
        model.train(was_training)
