"""Benchmark evaluation: per-image PSNR/SSIM of a model and of bicubic, tables and pictures.

Protocol. Every result carries the protocol it was scored under
(:class:`srlab.core.protocol.Protocol`: ``results["protocol"]``, and the table's protocol line).
A grey (one-channel) HR file, Set14's ``bridge.bmp``, is scored on its grey values, decided by
the file's channel count (:func:`srlab.data.io.is_grey_file`); a Y network gets the grey values
as its Y channel and an RGB network the replicated image
(:meth:`srlab.core.rules.InputRules.grey_super_resolve`), bicubic upscales the replicated
image, and an RGB output is scored on its luma. ``grey_files="y"`` instead replicates grey
files to RGB and scores them on Y like colour files, which is what RCAN's and EDSR's MATLAB
scripts do (their ``Prepare_TestData_HR_LR.m`` writes grey images as RGB first): the two differ
by ~1.3 dB on ``bridge`` (bicubic x2). The training-time test of ``srlab-train`` follows the
same rules (``SRModule.test_step``).

Released results. :func:`score_folders` scores folders of SR images that others published
(no model) under the same protocol and into the same tables; :func:`match_sr_files` is its
file-name matching rule.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .core.imresize import bicubic_upscale
from .core.protocol import Protocol, grey8, protocol_line
from .data.io import (
    IMAGE_EXTENSIONS,
    atomic_path,
    hstack,
    is_grey_file,
    read_image,
    to_float,
    write_image,
)
from .data.sources import ImageRecord, prepare_pair
from .errors import SRLabError
from .metrics import psnr, ssim
from .metrics.quality import quality_markdown
from .models.sr_module import SRModule

__all__ = [
    "check_tile",
    "evaluate_sets",
    "match_sr_files",
    "results_markdown",
    "score_bicubic",
    "score_folders",
    "sr_picture",
    "sr_picture_path",
    "write_results",
]


def _protocol(
    scales: Sequence[int], crop_border: int | None, y_channel: bool, grey_files: str
) -> Protocol:
    return Protocol(
        scales=tuple(scales), y_channel=y_channel, crop_border=crop_border, grey_files=grey_files
    )


def _is_grey(rec: ImageRecord, protocol: Protocol) -> bool:
    """Whether ``rec`` is scored on grey values (a one-channel HR file, if the rule says so)."""
    return protocol.is_grey(1 if rec.path and is_grey_file(rec.path) else 3)


def _rgb(x: Tensor) -> Tensor:
    """A grey ``(B, 1, H, W)`` SR image (grey file, Y network) as RGB, for RGB-only metrics."""
    return x.expand(-1, 3, -1, -1) if x.shape[-3] == 1 else x


def _scores(
    sr: Tensor, hr: Tensor, border: int, protocol: Protocol, grey: bool
) -> tuple[float, float]:
    """PSNR and SSIM of one image pair ``(1, C, H, W)``; ``grey``: on grey values."""
    sr, hr = protocol.scored(sr, hr, grey)
    y = protocol.y_channel
    p = psnr(sr, hr, crop_border=border, y_channel=y)
    return float(p[0]), float(ssim(sr, hr, crop_border=border, y_channel=y)[0])


def _images(rec: ImageRecord) -> tuple[Tensor, Tensor]:
    """``(lr, hr)`` of a prepared pair as float ``(1, 3, h, w)`` batches in [0, 1]."""
    if rec.lr is None:  # prepare_pair always makes one
        raise SRLabError(f"image {rec.path or rec.name} has no LR image")
    return to_float(rec.lr).unsqueeze(0), to_float(rec.hr).unsqueeze(0)


def check_tile(tile: Any) -> int | None:
    """``tile`` (LR pixels per tile side; ``None``: whole images) if it is one.

    Raises:
        SRLabError: ``tile`` is not a positive whole number or ``None``.

    Example:
        >>> check_tile(64), check_tile(None)
        (64, None)
    """
    if tile is None:
        return None
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 1:
        raise SRLabError(f"tile must be a positive number of LR pixels or null, got {tile!r}")
    return int(tile)


def _mean(values: list[float]) -> float:
    return float(sum(values) / len(values)) if values else math.nan


def _records_at(records: Any, scale: int) -> list[ImageRecord]:
    """A set's records for ``scale``.

    An image source (``.load(scale)``) is loaded at that scale, a mapping ``scale -> records``
    (loaded already) gives that scale's, and a sequence of records is used as it is.
    """
    if hasattr(records, "load"):
        return list(records.load(scale))
    if isinstance(records, Mapping):
        return list(records[scale])
    return list(records)


def sr_picture_path(out_dir: str | Path, set_key: str, name: str) -> Path:
    """Where :func:`evaluate_sets` saves the SR picture of image ``name`` of ``set_key``.

    That is ``<out_dir>/sr/<set_key>/<name>.png``, a ``/`` in ``name`` made ``_``;
    ``set_key`` is a key of ``results["sets"]`` (``<set>/x<scale>`` for a multi-scale model).
    """
    return Path(out_dir) / "sr" / set_key / f"{name.replace('/', '_')}.png"


@torch.inference_mode()
def evaluate_sets(
    model: SRModule,
    sets: Mapping[str, Any],
    out_dir: str | Path | None = None,
    crop_border: int | None = None,
    y_channel: bool = True,
    save_images: bool = True,
    progress: Any = None,
    scales: Sequence[int] | None = None,
    self_ensemble: bool = False,
    grey_files: str = "grey",
    extra_metrics: Any = None,
    tile: int | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` on named sets of HR (and optional LR) images, at every scale it serves.

    Each HR image is mod-cropped to the scale; its LR image is the set's own or the
    MATLAB-bicubic downscale. PSNR/SSIM follow the SR protocol (8-bit, Y or RGB, border crop,
    mean over images); a one-channel HR file is scored on its grey values (see the module
    notes). With ``out_dir`` and ``save_images``, writes ``sr/<set>/<name>.png`` (grey for a
    grey file) and ``compare/<set>/<name>.png`` (LR-bicubic | SR | HR).

    A multi-scale model (``model.scales``, see :mod:`srlab.archs.base`) is evaluated at each of
    its scales: the results then hold one entry per set and scale, keyed ``<set>/x<scale>`` (so
    pictures go to ``sr/<set>/x<scale>/``). A single-scale model keeps the plain set names.

    Args:
        model: the model (e.g. from :func:`srlab.load_model`); run as it is, in eval mode, by
            :meth:`SRModule.eval_sr <srlab.models.sr_module.SRModule.eval_sr>`.
        sets: name -> list of :class:`ImageRecord`, an image source (``.load(scale)``), which
            is needed for sets with pre-made LR images at several scales, or a mapping
            ``scale -> list of records`` loaded already.
        out_dir: where pictures go (``None``: none are written).
        crop_border: pixels shaved (``None``: the scale).
        y_channel: PSNR/SSIM on the BT.601 Y channel (papers) or on RGB.
        save_images: write the pictures to ``out_dir``.
        progress: ``(set name, image name) -> Any``, called after each image.
        scales: the scales to evaluate (default: all the model serves).
        self_ensemble: also evaluate the x8 self-ensemble (flips/rotations averaged): each set
            gets ``"ensemble": {"psnr", "ssim"}`` beside ``"model"`` (per image:
            ``psnr_x8``, ``ssim_x8``) and the table an extra row; saved pictures stay plain.
        grey_files: ``"grey"`` (one-channel files scored on grey values, the published
            tables' rule) or ``"y"`` (on the Y of their RGB copy, RCAN/EDSR's scripts).
        extra_metrics: a :class:`srlab.metrics.quality.ImageMetrics` (NIQE, LPIPS, DISTS): per
            image ``<m>`` and ``bicubic_<m>``, per set ``model.<m>`` and ``bicubic.<m>``.
        tile: run the model in overlapping tiles of this many LR pixels (seam-free, see
            :mod:`srlab.core.tiling`), so that large images fit in GPU memory; the scores equal
            the whole-image ones where the network's receptive field fits the tile context.
            Default: the model's ``val_tile`` (``None`` for a loaded model: whole images).

    Returns:
        ``{"protocol": {...}, "sets": {key: {"set", "scale", "num_images", "model": {"psnr",
        "ssim"}, "bicubic": {...}, "images": [...]}}}``; an image row has ``"grey": True``
        when it was scored on grey values.

    Raises:
        SRLabError: a scale the model does not serve, a bad ``tile`` or grey rule, a missing
            image.
    """
    tile = check_tile(tile)
    model.eval()
    all_scales = tuple(getattr(model, "scales", None) or (model.scale,))
    scales = tuple(model.check_scale(s) for s in scales) if scales else all_scales
    multi = len(all_scales) > 1
    protocol = _protocol(scales, crop_border, y_channel, grey_files)
    results: dict[str, Any] = {"protocol": protocol.as_dict(), "sets": {}}
    out = Path(out_dir) if out_dir is not None else None
    items = [(name, src, s) for name, src in sets.items() for s in scales]
    for base_name, source, scale in items:
        set_name = f"{base_name}/x{scale}" if multi else base_name
        border = protocol.crop(scale)
        rows: list[dict[str, Any]] = []
        for rec in _records_at(source, scale):
            rec = prepare_pair(rec, scale)
            grey = _is_grey(rec, protocol)
            lr, hr = (t.to(model.device) for t in _images(rec))
            sr = model.eval_sr(lr, scale, grey=grey, tile=tile)
            bic = model.rules.bicubic(lr, scale).clamp(0, 1)
            row: dict[str, Any] = {"name": rec.name}
            row["psnr"], row["ssim"] = _scores(sr, hr, border, protocol, grey)
            row["bicubic_psnr"], row["bicubic_ssim"] = _scores(bic, hr, border, protocol, grey)
            if grey:
                row["grey"] = True
            if self_ensemble:
                sr8 = model.eval_sr(lr, scale, ensemble=True, grey=grey, tile=tile)
                row["psnr_x8"], row["ssim_x8"] = _scores(sr8, hr, border, protocol, grey)
            if extra_metrics:
                extra_metrics.score_row(row, _rgb(sr), bic, hr, border)
            rows.append(row)
            if out is not None and save_images:
                _save_pictures(out, set_name, rec.name, sr, bic, hr, grey)
            if progress is not None:
                progress(set_name, rec.name)
        results["sets"][set_name] = _set_entry(base_name, scale, border, rows, self_ensemble)
    if extra_metrics:
        extra_metrics.finish(results)
    return results


@torch.inference_mode()
def sr_picture(
    model: SRModule,
    rec: ImageRecord,
    scale: int,
    y_channel: bool = True,
    grey_files: str = "grey",
    tile: int | None = None,
) -> Tensor:
    """The SR picture of one image as :func:`evaluate_sets` saves it.

    The picture of ``sr/<set>/<name>.png`` (:func:`sr_picture_path`), made again: for a
    dashboard that shows pictures of a run that saved none.

    Args:
        model: the model.
        rec: the image (HR, and LR if the set has its own).
        scale: the scale.
        y_channel: the protocol's colour (with ``grey_files``, it decides whether a grey file
            is scored, and so pictured, on its grey values).
        grey_files: the protocol's grey-file rule (see :func:`evaluate_sets`).
        tile: as in :func:`evaluate_sets`.

    Returns:
        ``(3, H, W)`` RGB in [0, 1] on the CPU, or ``(1, H, W)`` grey for a grey file.
    """
    model.eval()
    protocol = _protocol((scale,), None, y_channel, grey_files)
    rec = prepare_pair(rec, scale)
    grey = _is_grey(rec, protocol)
    lr, _ = _images(rec)
    sr = model.eval_sr(lr.to(model.device), scale, grey=grey, tile=check_tile(tile))
    return (grey8(sr) if grey else sr)[0].cpu()


def _save_pictures(
    out: Path, set_name: str, name: str, sr: Tensor, bic: Tensor, hr: Tensor, grey: bool
) -> None:
    """Write ``sr/<set>/<name>.png`` and ``compare/<set>/<name>.png`` (bicubic | SR | HR).

    Grey files as the grey images that were scored (so scoring ``sr/`` again gives the same
    numbers).
    """
    if grey:
        sr, bic, hr = grey8(sr), grey8(bic), hr[:, :1]
    sr_path = sr_picture_path(out, set_name, name)
    write_image(sr_path, sr[0].cpu())
    write_image(
        out / "compare" / set_name / sr_path.name, hstack([bic[0].cpu(), sr[0].cpu(), hr[0].cpu()])
    )


def _set_entry(
    base_name: str, scale: int, border: int, rows: list[dict[str, Any]], ensemble: bool
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "set": base_name,
        "scale": scale,
        "crop_border": border,
        "num_images": len(rows),
        "model": {
            "psnr": _mean([r["psnr"] for r in rows]),
            "ssim": _mean([r["ssim"] for r in rows]),
        },
        "bicubic": {
            "psnr": _mean([r["bicubic_psnr"] for r in rows]),
            "ssim": _mean([r["bicubic_ssim"] for r in rows]),
        },
        "images": rows,
    }
    if ensemble:
        entry["ensemble"] = {
            "psnr": _mean([r["psnr_x8"] for r in rows]),
            "ssim": _mean([r["ssim_x8"] for r in rows]),
        }
    return entry


# --------------------------------------------------------------------------- released results
_HR_TAG = re.compile(r"(?:[_-]SRF[_-]?\d+)?[_-](?:HR|GT)(?:[_-]?x\d+)?$", re.IGNORECASE)
_SCALE_TOKEN = re.compile(r"(?:^|[_\-.])(?:x|srf[_-]?)(\d+)(?=$|[_\-.])", re.IGNORECASE)
_NOT_SR = re.compile(r"(?:^|[_\-.])(?:HR|GT|LR|LRBI|LRBD|LRDN)(?=$|[_\-.])", re.IGNORECASE)


def _core(stem: str) -> str:
    """An HR file stem without its HR tag.

    ``baby_GT`` -> ``baby``, ``img_001_SRF_2_HR`` -> ``img_001``, ``baby_HR_x2`` -> ``baby``.
    """
    return _HR_TAG.sub("", stem) or stem


def match_sr_files(
    hr_names: Sequence[str], sr_files: Sequence[str | Path], scale: int, where: str = "sr_dir"
) -> dict[str, Path]:
    """Pair released SR images with HR images by name.

    The rule: an SR file belongs to the HR image whose *core name* its stem starts with,
    followed by ``_``, ``-``, ``.`` or nothing (case ignored). The core name is the HR stem
    without a trailing HR tag (``_HR``, ``_GT``, ``_SRF_<s>_HR``, ``_HR_x<s>``), so ``baby``,
    ``baby_GT`` and ``img_001_SRF_2_HR`` match ``baby_x2_SR.png``, ``baby_SR.png``,
    ``baby.png``, ``baby_RCAN_x2.png``, ``img_001_SRF_2_SR.png``. When several cores fit, the
    longest wins (``img_01`` never takes ``img_010_SR``). Files whose rest names another
    scale (``x3``, ``SRF_3`` while scoring x2) and HR/LR copies lying beside the results
    (``_HR``, ``_GT``, ``_LR`` tags) are skipped. A file named exactly as the HR file
    (srlab-eval's own ``sr/`` pictures) matches it too, but any other candidate beats it; of
    the others, one naming the scale beats a plain one; any remaining tie is an error.

    Args:
        hr_names: HR image names (file stems; a ``sub/dir/`` prefix is ignored).
        sr_files: the SR image files.
        scale: the scale being scored.
        where: how the error names the folder.

    Returns:
        HR name -> SR path, for every HR name.

    Raises:
        SRLabError: one sentence listing the HR images without an SR file, the SR files
            matching no HR image, and the ambiguous ones.

    Example:
        >>> match_sr_files(
        ...     ["baby_GT", "bird_GT"], ["baby_x2_SR.png", "bird_x2_SR.png", "bird_x4_SR.png"], 2
        ... )["bird_GT"].name
        'bird_x2_SR.png'
    """
    cores = {n: _core(Path(n).name) for n in hr_names}
    seen: dict[str, str] = {}
    for n, c in cores.items():
        if c.lower() in seen:
            raise SRLabError(
                f"{where}: HR images {seen[c.lower()]} and {n} have the same name core {c!r}"
            )
        seen[c.lower()] = n
    exact = {Path(n).name.lower(): n for n in hr_names}
    # candidates with a rank: 2 names the scale, 1 plain, 0 named exactly as the HR file
    found: dict[str, list[tuple[Path, int]]] = {n: [] for n in hr_names}
    unmatched: list[str] = []
    for f in map(Path, sr_files):
        stem = f.stem
        low = stem.lower()
        if low in exact:  # srlab-eval's own sr/ pictures, or an HR copy beside the results
            found[exact[low]].append((f, 0))
            continue
        fits = [
            n
            for n, c in cores.items()
            if low == c.lower() or (low.startswith(c.lower()) and low[len(c)] in "_-.")
        ]
        if not fits:
            if not _NOT_SR.search(stem):
                unmatched.append(f.name)
            continue
        n = max(fits, key=lambda k: len(cores[k]))
        rest = stem[len(cores[n]) :]
        if _NOT_SR.search(rest):
            continue  # an HR or LR copy beside the results
        named = {int(t) for t in _SCALE_TOKEN.findall(rest)}
        if named and scale not in named:
            continue  # another scale's result
        found[n].append((f, 2 if scale in named else 1))
    missing = [n for n, c in found.items() if not c]
    ambiguous = []
    out: dict[str, Path] = {}
    for n, cands in found.items():
        if len(cands) > 1:
            best = max(c[1] for c in cands)
            cands = [c for c in cands if c[1] == best]
        if len(cands) > 1:
            ambiguous.append(f"{n} ({', '.join(sorted(c[0].name for c in cands))})")
        elif cands:
            out[n] = cands[0][0]
    if missing or unmatched or ambiguous:
        parts = []
        if missing:
            parts.append(f"no SR image for {', '.join(missing)}")
        if unmatched:
            parts.append(f"SR files matching no HR image: {', '.join(sorted(unmatched))}")
        if ambiguous:
            parts.append(f"several SR images for {'; '.join(ambiguous)} (narrow them with sr_glob)")
        raise SRLabError(f"{where} (x{scale}): " + "; ".join(parts))
    return out


def _sr_folder(
    sr_dir: str | Path, set_name: str, scale: int, several_sets: bool, several_scales: bool
) -> Path:
    """``sr_dir`` with ``{set}`` and ``{scale}`` filled in (required when scoring several)."""
    pattern = str(sr_dir)
    if several_sets and "{set}" not in pattern:
        raise SRLabError(
            f"sr_dir={pattern} scores several test sets: put {{set}} in it, "
            "e.g. results/{set}/x{scale}"
        )
    if several_scales and "{scale}" not in pattern:
        raise SRLabError(
            f"sr_dir={pattern} scores several scales: put {{scale}} in it, "
            "e.g. results/{set}/x{scale}"
        )
    folder = Path(pattern.replace("{set}", set_name).replace("{scale}", str(scale))).expanduser()
    if not folder.is_dir():
        raise SRLabError(f"SR folder not found: {folder} (from sr_dir={pattern})")
    return folder


def _fit_sr(
    sr: Tensor, rec: ImageRecord, hr_full: tuple[int, int], scale: int, path: Path
) -> Tensor:
    """A released SR image at the mod-cropped HR size.

    Equal to it, or at the full HR size and then cropped the same way (MATLAB scripts crop the
    HR image to a multiple of the scale first, top-left anchored; ``modcrop``).
    """
    h, w = sr.shape[-2:]
    hm, wm = rec.hr.shape[-2:]
    if (h, w) == (hm, wm):
        return sr
    if (h, w) == tuple(hr_full):
        return sr[..., :hm, :wm]
    full = f"{hr_full[1]}x{hr_full[0]}"
    raise SRLabError(
        f"SR image {path} is {w}x{h}, expected the HR size {full} "
        f"or its x{scale} mod-crop {wm}x{hm}"
    )


@torch.inference_mode()
def score_folders(
    sets: Mapping[str, Any],
    sr_dir: str | Path,
    scales: Sequence[int],
    crop_border: int | None = None,
    y_channel: bool = True,
    progress: Any = None,
    grey_files: str = "grey",
    sr_glob: str = "*",
    extra_metrics: Any = None,
) -> dict[str, Any]:
    """Score released SR images (no model) against the test sets, under srlab's protocol.

    For each set and scale, the SR images are read from ``sr_dir`` (``{set}`` and ``{scale}``
    filled in, e.g. ``RCAN/SR/BI/RCAN/{set}/x{scale}``; not recursive; ``sr_glob`` selects
    files, e.g. ``"*_A+.png"`` in a folder holding several methods) and paired with the HR
    images by :func:`match_sr_files`. Each HR image is mod-cropped to the scale; an SR image
    must have the mod-cropped size or the full HR size (then cropped the same way). Grey HR
    files follow the grey rule (an RGB SR image is scored on its luma; a grey SR image of a
    colour HR image is an error). The bicubic column is computed from the HR images as in
    :func:`evaluate_sets`, so the results have the same shape and tables.

    Returns:
        as :func:`evaluate_sets`, the released images in place of the model; per image also
        ``"sr_file"``; the protocol also holds ``"sr_dir"``. ``extra_metrics``: as in
        :func:`evaluate_sets` (NIQE/LPIPS/DISTS of the released images).
    """
    scales = tuple(int(s) for s in scales)
    if not scales:
        raise SRLabError("score_folders needs the scale(s) of the SR images, e.g. scales=[2]")
    multi = len(scales) > 1
    protocol = _protocol(scales, crop_border, y_channel, grey_files)
    results: dict[str, Any] = {"protocol": protocol.as_dict(), "sets": {}}
    results["protocol"]["sr_dir"] = str(sr_dir)
    for base_name, source in sets.items():
        for scale in scales:
            set_name = f"{base_name}/x{scale}" if multi else base_name
            border = protocol.crop(scale)
            folder = _sr_folder(sr_dir, base_name, scale, len(sets) > 1, multi)
            files = sorted(
                p
                for p in folder.glob(sr_glob)
                if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
            )
            records = _records_at(source, scale)
            pairs = match_sr_files(
                [r.name for r in records], files, scale, where=f"sr_dir {folder}"
            )
            rows: list[dict[str, Any]] = []
            for rec in records:
                full = (int(rec.hr.shape[-2]), int(rec.hr.shape[-1]))
                rec = prepare_pair(rec, scale)
                grey = _is_grey(rec, protocol)
                path = pairs[rec.name]
                sr_grey = is_grey_file(path)
                if sr_grey and y_channel and not grey:
                    raise SRLabError(
                        f"SR image {path} is grey but its HR image {rec.path or rec.name} "
                        "is in colour"
                    )
                sr = to_float(_fit_sr(read_image(path), rec, full, scale, path)).unsqueeze(0)
                if sr_grey:
                    sr = sr[:, :1]
                lr, hr = _images(rec)
                bic = bicubic_upscale(lr, scale).clamp(0, 1)
                row: dict[str, Any] = {"name": rec.name, "sr_file": str(path)}
                # an RGB protocol scores a grey SR file as its replicated RGB
                sr_in = sr if grey or not sr_grey else _rgb(sr)
                row["psnr"], row["ssim"] = _scores(sr_in, hr, border, protocol, grey)
                row["bicubic_psnr"], row["bicubic_ssim"] = _scores(bic, hr, border, protocol, grey)
                if grey:
                    row["grey"] = True
                if extra_metrics:
                    extra_metrics.score_row(row, _rgb(sr), bic, hr, border)
                rows.append(row)
                if progress is not None:
                    progress(set_name, rec.name)
            results["sets"][set_name] = _set_entry(base_name, scale, border, rows, False)
    if extra_metrics:
        extra_metrics.finish(results)
    return results


@torch.inference_mode()
def score_bicubic(
    sets: Mapping[str, Any],
    scales: Sequence[int],
    crop_border: int | None = None,
    y_channel: bool = True,
    grey_files: str = "grey",
    progress: Callable[[str, str], Any] | None = None,
) -> dict[str, Any]:
    """The bicubic baseline alone (MATLAB ``imresize`` down and up).

    In the results shape of :func:`evaluate_sets` (``model`` = ``bicubic``): the bicubic row of
    the published tables.
    """
    scales = tuple(int(s) for s in scales)
    multi = len(scales) > 1
    protocol = _protocol(scales, crop_border, y_channel, grey_files)
    results: dict[str, Any] = {"protocol": protocol.as_dict(), "sets": {}}
    for base_name, source in sets.items():
        for scale in scales:
            set_name = f"{base_name}/x{scale}" if multi else base_name
            border = protocol.crop(scale)
            rows: list[dict[str, Any]] = []
            for rec in _records_at(source, scale):
                rec = prepare_pair(rec, scale)
                grey = _is_grey(rec, protocol)
                lr, hr = _images(rec)
                bic = bicubic_upscale(lr, scale).clamp(0, 1)
                p, s = _scores(bic, hr, border, protocol, grey)
                row: dict[str, Any] = {
                    "name": rec.name,
                    "psnr": p,
                    "ssim": s,
                    "bicubic_psnr": p,
                    "bicubic_ssim": s,
                }
                if grey:
                    row["grey"] = True
                rows.append(row)
                if progress is not None:
                    progress(set_name, rec.name)
            results["sets"][set_name] = _set_entry(base_name, scale, border, rows, False)
    return results


def results_markdown(results: Mapping[str, Any], model_name: str = "model") -> str:
    """One row per set and scale: bicubic and model PSNR/SSIM and the gain, under the protocol."""
    p = results["protocol"]
    scales = p["scale"] if isinstance(p["scale"], list) else [p["scale"]]
    lines = [
        f"Protocol: {protocol_line(p)}",
        "",
        "| set | images | scale | bicubic PSNR | bicubic SSIM | "
        f"{model_name} PSNR | {model_name} SSIM | gain (dB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results["sets"].items():
        b, m = r["bicubic"], r["model"]
        lines.append(
            f"| {r.get('set', name)} | {r['num_images']} | x{r.get('scale', scales[0])} | "
            f"{b['psnr']:.2f} | {b['ssim']:.4f} | {m['psnr']:.2f} | "
            f"{m['ssim']:.4f} | {m['psnr'] - b['psnr']:+.2f} |"
        )
        if "ensemble" in r:  # x8 self-ensemble: its own row, the plain one above it
            e = r["ensemble"]
            lines.append(
                f"| {r.get('set', name)} (self-ensemble x8) | {r['num_images']} | "
                f"x{r.get('scale', scales[0])} | {b['psnr']:.2f} | {b['ssim']:.4f} | "
                f"{e['psnr']:.2f} | {e['ssim']:.4f} | {e['psnr'] - b['psnr']:+.2f} |"
            )
    return "\n".join(lines) + "\n"


def write_results(
    results: Mapping[str, Any], out_dir: str | Path, model_name: str = "model"
) -> tuple[Path, Path]:
    """Write ``metrics.json`` and ``metrics.md`` (atomically) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    md = results_markdown(results, model_name)
    per_image = [
        "",
        "| set | scale | image | bicubic PSNR | PSNR | SSIM |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for name, r in results["sets"].items():
        per_image += [
            f"| {r.get('set', name)} | x{r.get('scale', '?')} | {i['name']} | "
            f"{i['bicubic_psnr']:.2f} | {i['psnr']:.2f} | {i['ssim']:.4f} |"
            for i in r["images"]
        ]
    with atomic_path(out / "metrics.md") as tmp:  # + NIQE/LPIPS/DISTS per set and image, if any
        tmp.write_text(
            md + "\n".join(per_image) + "\n" + quality_markdown(results, model_name=model_name)
        )
    return out / "metrics.json", out / "metrics.md"
