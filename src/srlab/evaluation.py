"""Benchmark evaluation: per-image PSNR/SSIM of a model and of bicubic, tables and pictures.

Grey files. A test image stored with one channel (Set14's ``bridge.bmp``) is scored on its grey
values, as the MATLAB scripts behind the published tables do (``if size(im, 3) == 1``: no
``rgb2ycbcr``); whether an image is grey is decided by its file's channel count
(:func:`srlab.data.io.is_grey_file`), never by its content, so an RGB file with three equal
channels is still scored on Y. What the networks see follows those scripts too:

- a Y network (one input channel: VDSR, DRRN, LapSRN, IDN, ...) gets the grey values *as its
  Y channel* (``im_l = imresize(grey, 1/s)`` straight into the net, as VDSR's, LapSRN's and
  IDN's test scripts do), and its output is scored on the grey scale without any conversion;
- an RGB network gets the grey image replicated to RGB (what EDSR/RCAN's loaders do), and its
  output is scored on its grey value, BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` (MATLAB
  ``rgb2gray``) of the 8-bit output, rounded to 8 bits like ``rgb2gray`` of a ``uint8`` image;
- bicubic upscales the replicated image (three equal channels) and is scored on that grey.

``grey_files="y"`` instead replicates grey files to RGB and scores them on Y like colour
files, which is what RCAN's and EDSR's MATLAB scripts do (their ``Prepare_TestData_HR_LR.m``
writes grey images as RGB first): the two differ by ~1.3 dB on ``bridge`` (bicubic x2).
The protocol records the rule (``results["protocol"]["grey_files"]``) and the table's protocol
line says it (``y-bt601 (grey files: grey values)``).

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

from .data.imresize import imresize
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
    "GREY_RULES",
    "evaluate_sets",
    "grey_values",
    "match_sr_files",
    "results_markdown",
    "score_bicubic",
    "score_folders",
    "write_results",
]

#: how grey (one-channel) test files are scored with ``y_channel=True``: on their grey values
#: (the MATLAB scripts of the published tables), or on the Y of their RGB copy (RCAN/EDSR).
GREY_RULES = {"grey": "grey values", "y": "y of rgb copy"}

# BT.601 luma weights: the Y row of MATLAB rgb2ycbcr divided by 219 (= rgb2gray's 0.2989,
# 0.5870, 0.1140 before their rounding)
_LUMA = (65.481 / 219.0, 128.553 / 219.0, 24.966 / 219.0)


def grey_values(x: Tensor) -> Tensor:
    """The grey value of each pixel: BT.601 luma of ``(B, 3, H, W)`` RGB in [0, 1], on the full
    0..1 range (MATLAB ``rgb2gray``; equal channels give that channel back exactly).
    One-channel input is returned as is.

    Example:
        >>> x = torch.tensor([[0.2, 1.0], [0.2, 0.0], [0.2, 0.0]]).view(1, 3, 1, 2)  # grey, red
        >>> [round(v, 3) for v in grey_values(x).mul(255).flatten().tolist()]  # red: 0.299 * 255
        [51.0, 76.245]
    """
    if x.shape[-3] == 1:
        return x
    r, g, b = x.to(torch.float64).unbind(-3)
    return (r * _LUMA[0] + g * _LUMA[1] + b * _LUMA[2]).unsqueeze(-3).to(x.dtype)


def _check_grey_rule(grey_files: str) -> None:
    if grey_files not in GREY_RULES:
        raise SRLabError(f"grey_files must be one of {', '.join(GREY_RULES)}, got {grey_files!r}")


def _protocol(scales: Sequence[int], multi: bool, crop_border: int | None, y_channel: bool, grey_files: str) -> dict:
    return {
        "degradation": "bicubic-matlab",
        "scale": list(scales) if multi else scales[0],
        "colour": "y-bt601" if y_channel else "rgb",
        # grey (one-channel) files: only a Y protocol treats them apart
        "grey_files": GREY_RULES[grey_files] if y_channel else "rgb copy",
        "crop_border": (scales[0] if crop_border is None else crop_border)
        if not multi
        else ("scale" if crop_border is None else crop_border),
        "quantization": "8-bit",
        "mean": "over images",
    }


def _is_grey(rec: ImageRecord, y_channel: bool, grey_files: str) -> bool:
    """Whether ``rec`` is scored on grey values: a one-channel HR file under a Y protocol."""
    return bool(y_channel and grey_files == "grey" and rec.path and is_grey_file(rec.path))


def _grey8(x: Tensor) -> Tensor:
    """SR output -> the grey image that is scored: RGB is rounded to 8 bits first (the saved
    PNG), then reduced to its luma (rounded again by the metric, as rgb2gray of uint8)."""
    if x.shape[-3] == 1:
        return x
    return grey_values(x.clamp(0, 1).mul(255.0).round().div(255.0))


def _rgb(x: Tensor) -> Tensor:
    """A grey ``(B, 1, H, W)`` SR image (grey file, Y network) as RGB, for RGB-only metrics."""
    return x.expand(-1, 3, -1, -1) if x.shape[-3] == 1 else x


def _scores(sr: Tensor, hr: Tensor, border: int, y_channel: bool, grey: bool) -> tuple[float, float]:
    """PSNR and SSIM of one image pair ``(1, C, H, W)``; ``grey``: on grey values."""
    if grey:
        sr, hr = _grey8(sr), hr[:, :1]
    kw = dict(crop_border=border, y_channel=y_channel)
    return float(psnr(sr, hr, **kw)[0]), float(ssim(sr, hr, **kw)[0])


def _model_sr(model: SRModule, lr: Tensor, scale: int, grey: bool, x8: bool = False) -> Tensor:
    """The model's SR image of ``lr`` (RGB, ``(1, 3, h, w)``), clamped to [0, 1].

    ``grey``: ``lr`` is a replicated grey image. A Y network then gets the grey values as its
    Y channel, through its ordinary RGB path: the RGB whose BT.601 Y is ``g`` is
    ``(255 g - 16) / 219`` on each channel (the colour maps are exact inverses, unclamped),
    and its output is read back the same way; the result is then ``(1, 1, H, W)`` grey.
    """
    run = model.forward_x8 if x8 else model
    if grey and getattr(model.net, "in_channels", 3) == 1:
        out = run((lr * 255.0 - 16.0) / 219.0, scale)
        return (out[:, :1] * 219.0 + 16.0).div(255.0).clamp(0, 1)
    return run(lr, scale).clamp(0, 1)


def _mean(values: list[float]) -> float:
    return float(sum(values) / len(values)) if values else math.nan


def _records_at(records: Any, scale: int) -> list[ImageRecord]:
    """A set's records for ``scale``: an image source is loaded at that scale."""
    return records.load(scale) if hasattr(records, "load") else list(records)


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
        sets: name -> list of :class:`ImageRecord`, or an image source (``.load(scale)``), which
            is needed for sets with pre-made LR images at several scales.
        crop_border: pixels shaved (``None``: the scale).
        scales: the scales to evaluate (default: all the model serves).
        self_ensemble: also evaluate the x8 self-ensemble (flips/rotations averaged): each set
            gets ``"ensemble": {"psnr", "ssim"}`` beside ``"model"`` (per image:
            ``psnr_x8``, ``ssim_x8``) and the table an extra row; saved pictures stay plain.
        grey_files: ``"grey"`` (one-channel files scored on grey values, the published
            tables' rule) or ``"y"`` (on the Y of their RGB copy, RCAN/EDSR's scripts).
        extra_metrics: a :class:`srlab.metrics.quality.ImageMetrics` (NIQE, LPIPS, DISTS): per
            image ``<m>`` and ``bicubic_<m>``, per set ``model.<m>`` and ``bicubic.<m>``.

    Returns:
        ``{"protocol": {...}, "sets": {key: {"set", "scale", "num_images", "model": {"psnr",
        "ssim"}, "bicubic": {...}, "images": [...]}}}``; an image row has ``"grey": True``
        when it was scored on grey values.
    """
    _check_grey_rule(grey_files)
    model.eval()
    all_scales = tuple(getattr(model, "scales", None) or (model.scale,))
    scales = tuple(model.check_scale(s) for s in scales) if scales else all_scales
    multi = len(all_scales) > 1
    results: dict[str, Any] = {
        "protocol": _protocol(scales if multi else (model.scale,), multi, crop_border, y_channel, grey_files),
        "sets": {},
    }
    out = Path(out_dir) if out_dir is not None else None
    items = [(name, src, s) for name, src in sets.items() for s in scales]
    for base_name, source, scale in items:
        set_name = f"{base_name}/x{scale}" if multi else base_name
        border = scale if crop_border is None else crop_border
        rows = []
        for rec in _records_at(source, scale):
            rec = prepare_pair(rec, scale)
            grey = _is_grey(rec, y_channel, grey_files)
            lr = to_float(rec.lr).unsqueeze(0).to(model.device)
            hr = to_float(rec.hr).unsqueeze(0).to(model.device)
            sr = _model_sr(model, lr, scale, grey)
            bic = model.bicubic(lr, scale).clamp(0, 1)
            row: dict[str, Any] = {"name": rec.name}
            row["psnr"], row["ssim"] = _scores(sr, hr, border, y_channel, grey)
            row["bicubic_psnr"], row["bicubic_ssim"] = _scores(bic, hr, border, y_channel, grey)
            if grey:
                row["grey"] = True
            if self_ensemble:
                sr8 = _model_sr(model, lr, scale, grey, x8=True)
                row["psnr_x8"], row["ssim_x8"] = _scores(sr8, hr, border, y_channel, grey)
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


def _save_pictures(out: Path, set_name: str, name: str, sr: Tensor, bic: Tensor, hr: Tensor, grey: bool) -> None:
    """``sr/<set>/<name>.png`` and ``compare/<set>/<name>.png`` (bicubic | SR | HR); grey files
    as the grey images that were scored (so scoring ``sr/`` again gives the same numbers)."""
    safe = name.replace("/", "_")
    if grey:
        sr, bic, hr = _grey8(sr), _grey8(bic), hr[:, :1]
    write_image(out / "sr" / set_name / f"{safe}.png", sr[0].cpu())
    write_image(out / "compare" / set_name / f"{safe}.png", hstack([bic[0].cpu(), sr[0].cpu(), hr[0].cpu()]))


def _set_entry(base_name: str, scale: int, border: int, rows: list[dict], ensemble: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "set": base_name,
        "scale": scale,
        "crop_border": border,
        "num_images": len(rows),
        "model": {"psnr": _mean([r["psnr"] for r in rows]), "ssim": _mean([r["ssim"] for r in rows])},
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
    """An HR file stem without its HR tag: ``baby_GT`` -> ``baby``,
    ``img_001_SRF_2_HR`` -> ``img_001``, ``baby_HR_x2`` -> ``baby``."""
    return _HR_TAG.sub("", stem) or stem


def match_sr_files(hr_names: Sequence[str], sr_files: Sequence[str | Path], scale: int, where: str = "sr_dir") -> dict[str, Path]:
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
        >>> match_sr_files(["baby_GT", "bird_GT"], ["baby_x2_SR.png", "bird_x2_SR.png",
        ...                                          "bird_x4_SR.png"], 2)["bird_GT"].name
        'bird_x2_SR.png'
    """
    cores = {n: _core(Path(n).name) for n in hr_names}
    seen: dict[str, str] = {}
    for n, c in cores.items():
        if c.lower() in seen:
            raise SRLabError(f"{where}: HR images {seen[c.lower()]} and {n} have the same name core {c!r}")
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
        fits = [n for n, c in cores.items() if low == c.lower() or (low.startswith(c.lower()) and low[len(c)] in "_-.")]
        if not fits:
            if not _NOT_SR.search(stem):
                unmatched.append(f.name)
            continue
        n = max(fits, key=lambda k: len(cores[k]))
        rest = stem[len(cores[n]):]
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


def _sr_folder(sr_dir: str | Path, set_name: str, scale: int, several_sets: bool, several_scales: bool) -> Path:
    """``sr_dir`` with ``{set}`` and ``{scale}`` filled in (required when scoring several)."""
    pattern = str(sr_dir)
    if several_sets and "{set}" not in pattern:
        raise SRLabError(f"sr_dir={pattern} scores several test sets: put {{set}} in it, e.g. results/{{set}}/x{{scale}}")
    if several_scales and "{scale}" not in pattern:
        raise SRLabError(f"sr_dir={pattern} scores several scales: put {{scale}} in it, e.g. results/{{set}}/x{{scale}}")
    folder = Path(pattern.replace("{set}", set_name).replace("{scale}", str(scale))).expanduser()
    if not folder.is_dir():
        raise SRLabError(f"SR folder not found: {folder} (from sr_dir={pattern})")
    return folder


def _fit_sr(sr: Tensor, rec: ImageRecord, hr_full: tuple[int, int], scale: int, path: Path) -> Tensor:
    """A released SR image at the mod-cropped HR size: equal to it, or at the full HR size and
    then cropped the same way (MATLAB scripts crop the HR image to a multiple of the scale
    first, top-left anchored; ``modcrop``)."""
    h, w = sr.shape[-2:]
    hm, wm = rec.hr.shape[-2:]
    if (h, w) == (hm, wm):
        return sr
    if (h, w) == tuple(hr_full):
        return sr[..., :hm, :wm]
    full = f"{hr_full[1]}x{hr_full[0]}"
    raise SRLabError(
        f"SR image {path} is {w}x{h}, expected the HR size {full} or its x{scale} mod-crop {wm}x{hm}"
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
    _check_grey_rule(grey_files)
    scales = tuple(int(s) for s in scales)
    if not scales:
        raise SRLabError("score_folders needs the scale(s) of the SR images, e.g. scales=[2]")
    multi = len(scales) > 1
    results: dict[str, Any] = {"protocol": _protocol(scales, multi, crop_border, y_channel, grey_files), "sets": {}}
    results["protocol"]["sr_dir"] = str(sr_dir)
    for base_name, source in sets.items():
        for scale in scales:
            set_name = f"{base_name}/x{scale}" if multi else base_name
            border = scale if crop_border is None else crop_border
            folder = _sr_folder(sr_dir, base_name, scale, len(sets) > 1, multi)
            files = sorted(
                p for p in folder.glob(sr_glob) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
            )
            records = _records_at(source, scale)
            pairs = match_sr_files([r.name for r in records], files, scale, where=f"sr_dir {folder}")
            rows = []
            for rec in records:
                full = tuple(rec.hr.shape[-2:])
                rec = prepare_pair(rec, scale)
                grey = _is_grey(rec, y_channel, grey_files)
                path = pairs[rec.name]
                sr_grey = is_grey_file(path)
                if sr_grey and y_channel and not grey:
                    raise SRLabError(f"SR image {path} is grey but its HR image {rec.path or rec.name} is in colour")
                sr = to_float(_fit_sr(read_image(path), rec, full, scale, path)).unsqueeze(0)
                if sr_grey:
                    sr = sr[:, :1]
                hr = to_float(rec.hr).unsqueeze(0)
                bic = imresize(to_float(rec.lr).unsqueeze(0), scale).clamp(0, 1)
                row: dict[str, Any] = {"name": rec.name, "sr_file": str(path)}
                if grey or not sr_grey:
                    row["psnr"], row["ssim"] = _scores(sr, hr, border, y_channel, grey)
                else:  # rgb protocol, grey SR file: its replicated RGB
                    row["psnr"], row["ssim"] = _scores(sr.expand(-1, 3, -1, -1), hr, border, y_channel, grey)
                row["bicubic_psnr"], row["bicubic_ssim"] = _scores(bic, hr, border, y_channel, grey)
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
    """The bicubic baseline alone (MATLAB ``imresize`` down and up), in the results shape of
    :func:`evaluate_sets` (``model`` = ``bicubic``): the bicubic row of the published tables."""
    _check_grey_rule(grey_files)
    scales = tuple(int(s) for s in scales)
    multi = len(scales) > 1
    results: dict[str, Any] = {"protocol": _protocol(scales, multi, crop_border, y_channel, grey_files), "sets": {}}
    for base_name, source in sets.items():
        for scale in scales:
            set_name = f"{base_name}/x{scale}" if multi else base_name
            border = scale if crop_border is None else crop_border
            rows = []
            for rec in _records_at(source, scale):
                rec = prepare_pair(rec, scale)
                grey = _is_grey(rec, y_channel, grey_files)
                hr = to_float(rec.hr).unsqueeze(0)
                bic = imresize(to_float(rec.lr).unsqueeze(0), scale).clamp(0, 1)
                p, s = _scores(bic, hr, border, y_channel, grey)
                row: dict[str, Any] = {"name": rec.name, "psnr": p, "ssim": s, "bicubic_psnr": p, "bicubic_ssim": s}
                if grey:
                    row["grey"] = True
                rows.append(row)
                if progress is not None:
                    progress(set_name, rec.name)
            results["sets"][set_name] = _set_entry(base_name, scale, border, rows, False)
    return results


def results_markdown(results: Mapping[str, Any], model_name: str = "model") -> str:
    """One row per set and scale: bicubic and model PSNR/SSIM and the gain, with the protocol
    line."""
    p = results["protocol"]
    scales = p["scale"] if isinstance(p["scale"], list) else [p["scale"]]
    crop = "= scale" if p["crop_border"] == "scale" else f"{p['crop_border']} px"
    colour = p["colour"]
    if p.get("grey_files") in GREY_RULES.values():  # older results have no grey rule
        colour += f" (grey files: {p['grey_files']})"
    lines = [
        f"Protocol: {p['degradation']} {'/'.join(f'x{s}' for s in scales)}, {colour}, "
        f"crop {crop}, {p['quantization']}, {p['mean']}",
        "",
        f"| set | images | scale | bicubic PSNR | bicubic SSIM | {model_name} PSNR | {model_name} SSIM | gain (dB) |",
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


def write_results(results: Mapping[str, Any], out_dir: str | Path, model_name: str = "model") -> tuple[Path, Path]:
    """Write ``metrics.json`` and ``metrics.md`` (atomically) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    md = results_markdown(results, model_name)
    per_image = ["", "| set | scale | image | bicubic PSNR | PSNR | SSIM |", "|---|---:|---|---:|---:|---:|"]
    for name, r in results["sets"].items():
        per_image += [
            f"| {r.get('set', name)} | x{r.get('scale', '?')} | {i['name']} | {i['bicubic_psnr']:.2f} | "
            f"{i['psnr']:.2f} | {i['ssim']:.4f} |"
            for i in r["images"]
        ]
    with atomic_path(out / "metrics.md") as tmp:  # + NIQE/LPIPS/DISTS per set and image, if any
        tmp.write_text(md + "\n".join(per_image) + "\n" + quality_markdown(results, model_name=model_name))
    return out / "metrics.json", out / "metrics.md"
