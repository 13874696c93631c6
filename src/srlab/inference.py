"""Public inference API: ``srlab.upscale(model, image)``, with seam-free tiling and x8 ensemble.

Tiling and the self-ensemble are :mod:`srlab.core.tiling`'s (the SR module validates with them
too); this module adds the public API on top: images from files or arrays, the model's scale
checked, and the tile size that fits a memory budget; and :func:`upscale_files`, what
``srlab-upscale`` runs: image files into a folder, one output per input, resumable.

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
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from .core.tiling import DEFAULT_CONTEXT, DEFAULT_OVERLAP, self_ensemble, tiled_forward
from .data.io import (
    ImageInfo,
    collect_images,
    is_16bit_tiff,
    read_image,
    read_image_full_depth,
    to_float,
    write_image_like,
)
from .errors import SRLabError

if TYPE_CHECKING:
    from .models.sr_module import SRModule

__all__ = [
    "as_image_tensor",
    "auto_tile_size",
    "collect_inputs",
    "output_path",
    "sr_forward",
    "upscale",
    "upscale_files",
]

_PROBE = 64
_SAFETY = 1.5


def as_image_tensor(image: Tensor | np.ndarray | str | os.PathLike[str]) -> Tensor:
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


# ---------------------------------------------------------------------- memory budget
class _LiveBytes(TorchDispatchMode):
    """Counts the bytes of tensor storages alive at once while operators run (CPU or GPU).

    Every new storage an operator returns is added, and subtracted when its tensor dies.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._seen: set[int] = set()

    def _free(self, key: int, n: int) -> None:
        if key in self._seen:
            self._seen.discard(key)
            self.live -= n

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
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
    """The largest tile side (LR pixels, a multiple of 8) whose run fits ``max_memory_mb``.

    The whole-image buffers count too; ``None`` when the whole image fits untiled.

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
    """``model(lr, scale)`` for an LR batch ``(B,3,H,W)``, optionally tiled and/or x8 ensembled.

    Not clamped. ``max_memory`` (MB) picks the tile size when ``tile`` is ``None`` (see
    :func:`auto_tile_size`).
    """
    scale = model.check_scale(scale)

    def one(t: Tensor) -> Tensor:
        return model(t, scale)

    fn = (lambda t: self_ensemble(one, t)) if ensemble else one
    if tile is None and max_memory is not None:
        weights = sum(p.numel() * p.element_size() for p in model.parameters())
        tile = auto_tile_size(
            fn,
            tuple(lr.shape),
            scale,
            max_memory,
            overlap,
            context,
            fixed_bytes=weights,
            device=lr.device,
        )
    if tile is None:
        out = fn(lr)
        return out.to(out_device) if out_device is not None else out
    return tiled_forward(fn, lr, scale, int(tile), overlap, context, out_device=out_device)


@torch.inference_mode()
def upscale(
    model: SRModule,
    image: Tensor | np.ndarray | str | os.PathLike[str],
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
        out = sr_forward(
            model, x, scale, tile, overlap, context, max_memory, self_ensemble, out_device="cpu"
        )
        return out[0].clamp_(0, 1)
    finally:
        model.train(was_training)


# ---------------------------------------------------------------------- files into a folder
def output_path(out_dir: str | os.PathLike[str], src: Path, info: ImageInfo | None = None) -> Path:
    """Where the SR image of ``src`` goes: ``<stem>.png`` (``.tif`` for 16-bit TIFF inputs).

    ``info``: how ``src`` was read (:func:`srlab.data.io.read_image_full_depth`); without it the
    file's header is looked at.
    """
    suffix = info.suffix if info is not None else (".tif" if is_16bit_tiff(src) else ".png")
    return Path(out_dir) / f"{src.stem}{suffix}"


def collect_inputs(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The image files of ``inputs`` (files, folders searched recursively), in order.

    Raises:
        SRLabError: an input is missing or not an image, or two would be written under one name
            (the same stem, :func:`output_path`).
    """
    files = collect_images(inputs)
    stems: dict[str, Path] = {}
    for f in files:
        if f.stem in stems:
            raise SRLabError(
                f"two inputs would both be written as {f.stem}: {stems[f.stem]} and {f}"
            )
        stems[f.stem] = f
    return files


@torch.inference_mode()
def upscale_files(
    model: SRModule,
    files: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    scale: int | None = None,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    context: int = DEFAULT_CONTEXT,
    max_memory: float | None = None,
    self_ensemble: bool = False,
    overwrite: bool = False,
    progress: Callable[[Path], Any] | None = None,
) -> tuple[list[Path], list[Path]]:
    """Super-resolve image files into ``out_dir``, one output per input (:func:`output_path`).

    Each image is read at full depth with its EXIF orientation applied and written like its
    input (:func:`srlab.data.io.write_image_like`: 16-bit grey PNG and 16-bit TIFF keep 16
    bits, everything else becomes an 8-bit PNG), under a temporary name and then renamed, so an
    output that exists is a finished one: it is skipped unless ``overwrite`` (a run that was
    stopped resumes where it was).

    Args:
        model: e.g. from :func:`srlab.load_model`; run on its device, in eval mode.
        files: the image files (:func:`collect_inputs` checks that their names do not collide).
        out_dir: the output folder (made if missing).
        scale: the factor (default: the model's; checked against those it serves).
        tile: process in overlapping tiles of this many LR pixels (``None``: whole images,
            or the size ``max_memory`` allows).
        overlap: LR pixels shared by neighbouring tiles, blended.
        context: LR pixels of extra input around each tile, cropped off after SR.
        max_memory: memory budget in MB; the tile size of each image is chosen to fit it.
        self_ensemble: x8 geometric self-ensemble (8x the compute).
        overwrite: redo outputs that exist.
        progress: called with each input once it is done or skipped.

    Returns:
        ``(written, skipped)``: the outputs written and the inputs skipped (already done).

    Raises:
        SRLabError: a scale the model does not serve, an unreadable image, a bad tile.
    """
    scale = model.check_scale(scale)
    was_training = model.training
    model.eval()
    written: list[Path] = []
    skipped: list[Path] = []
    try:
        for src in map(Path, files):
            if not overwrite and output_path(out_dir, src).exists():
                skipped.append(src)
            else:
                lr, info = read_image_full_depth(src)
                sr = sr_forward(
                    model,
                    lr.unsqueeze(0).to(model.device),
                    scale,
                    tile,
                    overlap,
                    context,
                    max_memory,
                    self_ensemble,
                    out_device="cpu",
                )[0].clamp_(0, 1)
                written.append(write_image_like(output_path(out_dir, src, info), sr, info))
            if progress is not None:
                progress(src)
    finally:
        model.train(was_training)
    return written, skipped
