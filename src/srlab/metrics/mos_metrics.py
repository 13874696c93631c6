"""MOS joined with the metrics of the images raters saw.

Each model's mean PSNR/SSIM/NIQE/LPIPS on those images, and Spearman's rho (with its interval)
between per-image MOS and each metric.

The caller (``srlab-mos report``) supplies one :class:`RatedImage` per rated SR image: its model,
key, MOS over the kept raters, the pixels that were shown (PNG bytes or a tensor) and the HR
crop shown beside it (``None``: only NIQE can be computed). The metrics are computed on exactly
those pixels, with no border crop (the study's crops have no border to shave) and PSNR/SSIM on Y.
NIQE is ``None`` for a crop smaller than two 96x96 blocks; LPIPS only when its weights are found
(:mod:`srlab.metrics.weights`), otherwise it is left out with the reason.
"""

from __future__ import annotations

import io
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..errors import SRLabError
from .functional import psnr, ssim
from .niqe import NIQE_BLOCK, niqe
from .quality import HIGHER_IS_BETTER
from .rank_correlation import correlate_metrics

__all__ = ["RatedImage", "rated_images", "score_rated_images", "mos_metrics_markdown"]


@dataclass
class RatedImage:
    """One rated SR image: its model, image key, MOS and the pixels shown (SR and HR crop).

    ``sr``/``hr`` are PNG bytes or ``(3|1, H, W)`` float tensors in [0, 1]; ``hr`` is ``None``
    when the study showed no reference (then only NIQE can be computed).
    """

    model: str
    key: str
    mos: float
    sr: bytes | Tensor
    hr: bytes | Tensor | None = None


def rated_images(
    votes: Iterable[tuple[str, str, Any, float, bytes, bytes | None]],
    raters: Collection[Any] | None = None,
) -> list[RatedImage]:
    """Group vote rows into one :class:`RatedImage` per (model, image key).

    Rows are ``(model, image key, rater, score, SR png, HR png or None)``; the MOS is the mean
    over the votes of ``raters`` (``None``: every rater's).
    """
    acc: dict[tuple[str, str], list[Any]] = {}
    for model, key, rater, score, sr, hr in votes:
        if raters is not None and rater not in raters:
            continue
        entry = acc.setdefault((model, key), [[], sr, hr])
        entry[0].append(float(score))
    return [RatedImage(m, k, sum(v) / len(v), sr, hr) for (m, k), (v, sr, hr) in acc.items()]


def _pixels(x: bytes | Tensor) -> Tensor:
    """PNG bytes or a ``(3|1, H, W)`` float tensor in [0, 1] -> ``(1, 3|1, H, W)`` float."""
    if isinstance(x, Tensor):
        return (x if x.dim() == 4 else x.unsqueeze(0)).float()
    import numpy as np
    from PIL import Image

    img = Image.open(io.BytesIO(x))
    arr = (
        np.asarray(img.convert("RGB" if img.mode not in ("L", "I;16") else "L"), dtype=np.float32)
        / 255.0
    )
    t = torch.from_numpy(arr)
    return (t[None] if t.ndim == 2 else t.permute(2, 0, 1)).unsqueeze(0)


def score_rated_images(
    items: Iterable[RatedImage],
    metrics: Sequence[str] = ("psnr", "ssim", "niqe", "lpips"),
    ci: str = "bootstrap",
    lpips: Any = None,
) -> dict[str, Any]:
    """Per-model means and MOS-metric correlations over rated images.

    Args:
        items: the rated SR images with their MOS.
        metrics: among psnr, ssim, niqe, lpips, dists.
        ci: interval of rho (``"bootstrap"`` or ``"fisher"``).
        lpips: a built :class:`~srlab.metrics.perceptual.PerceptualDistance` (LPIPS or DISTS)
            for ``lpips``/``dists``; ``None``: built here (``lpips``: AlexNet) and, when its
            weights are missing, left out with the reason in ``"skipped"``.

    Returns:
        ``{"models": {name: {"images", "mos", <metric>: mean}}, "correlation": {metric:
        {"rho", "low", "high", "n", "level", "method", "agrees_when"} or None}, "images": [...],
        "skipped": {metric: reason}}``
    """
    items = list(items)
    names = [m for m in metrics if m in ("psnr", "ssim", "niqe", "lpips", "dists")]
    skipped: dict[str, str] = {}
    nets: dict[str, Any] = {}
    for m in ("lpips", "dists"):
        if m in names:
            if lpips is not None:
                nets[m] = lpips
                continue
            try:
                from .perceptual import build_dists, build_lpips

                nets[m] = build_lpips("alex") if m == "lpips" else build_dists()
            except SRLabError as e:
                skipped[m] = str(e)
    names = [m for m in names if m not in skipped]
    rows = []
    for it in items:
        sr = _pixels(it.sr)
        hr = _pixels(it.hr) if it.hr is not None else None
        if hr is not None and hr.shape[1] != sr.shape[1]:
            hr = hr.expand(-1, 3, -1, -1) if hr.shape[1] == 1 else hr
            sr = sr.expand(-1, 3, -1, -1) if sr.shape[1] == 1 else sr
        row: dict[str, Any] = {"model": it.model, "key": it.key, "mos": float(it.mos)}
        for m in names:
            v: float | None = None
            if m == "niqe":
                h, w = sr.shape[-2:]
                if (h // NIQE_BLOCK) * (w // NIQE_BLOCK) >= 2:
                    v = float(niqe(sr)[0])
            elif hr is not None and hr.shape == sr.shape:
                if m == "psnr":
                    v = float(psnr(sr, hr)[0])
                elif m == "ssim":
                    v = float(ssim(sr, hr)[0])
                else:
                    v = float(nets[m](sr, hr)[0])
            row[m] = v
        rows.append(row)
    models: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name]
        entry: dict[str, Any] = {
            "images": len(mine),
            "mos": sum(r["mos"] for r in mine) / len(mine),
        }
        for m in names:
            vals = [r[m] for r in mine if r[m] is not None and math.isfinite(r[m])]
            entry[m] = sum(vals) / len(vals) if vals else None
        models[name] = entry
    mos = {(r["model"], r["key"]): r["mos"] for r in rows}
    per_metric = {m: {(r["model"], r["key"]): r[m] for r in rows} for m in names}
    corr = {}
    for m, res in correlate_metrics(mos, per_metric, ci=ci).items():
        corr[m] = (
            None
            if res is None
            else {**res.as_dict(), "agrees_when": "rho > 0" if HIGHER_IS_BETTER[m] else "rho < 0"}
        )
    return {"models": models, "correlation": corr, "images": rows, "skipped": skipped}


def mos_metrics_markdown(result: dict[str, Any]) -> str:
    """Two small tables: each model's MOS and mean metrics on the rated images; rho per metric."""
    names = [m for m in ("psnr", "ssim", "niqe", "lpips", "dists") if m in result["correlation"]]
    fmt = {"psnr": 2, "ssim": 4, "niqe": 3, "lpips": 4, "dists": 4}
    lines = [
        "",
        "Metrics on the rated images (means over each model's rated images):",
        "",
        "| model | images | MOS | " + " | ".join(m.upper() for m in names) + " |",
        "|---|---:|---:|" + "---:|" * len(names),
    ]
    for name, e in result["models"].items():
        cells = " | ".join("-" if e.get(m) is None else f"{e[m]:.{fmt[m]}f}" for m in names)
        lines.append(f"| {name} | {e['images']} | {e['mos']:.2f} | {cells} |")
    lines += [
        "",
        "Spearman's rho between per-image MOS and each metric (all models' images together):",
        "",
        "| metric | rho | interval | images | agrees with raters when |",
        "|---|---:|---|---:|---|",
    ]
    for m in names:
        c = result["correlation"][m]
        if c is None:
            lines.append(f"| {m.upper()} | - | fewer than 4 images with a value | - | - |")
        else:
            lines.append(
                f"| {m.upper()} | {c['rho']:+.3f} | [{c['low']:+.3f}, {c['high']:+.3f}] "
                f"({c['level']:.0%} {c['method']}) | {c['n']} | {c['agrees_when']} |"
            )
    for m, why in result.get("skipped", {}).items():
        lines.append(f"\n{m.upper()} left out: {why}")
    return "\n".join(lines) + "\n"
