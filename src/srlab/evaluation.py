"""Benchmark evaluation: per-image PSNR/SSIM of a model and of bicubic, tables and pictures."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from .data.io import atomic_path, hstack, to_float, write_image
from .data.sources import ImageRecord, prepare_pair
from .metrics import psnr, ssim
from .models.sr_module import SRModule

__all__ = ["evaluate_sets", "results_markdown", "write_results"]


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
) -> dict[str, Any]:
    """Evaluate ``model`` on named sets of HR (and optional LR) images, at every scale it serves.

    Each HR image is mod-cropped to the scale; its LR image is the set's own or the
    MATLAB-bicubic downscale. PSNR/SSIM follow the SR protocol (8-bit, Y or RGB, border crop,
    mean over images). With ``out_dir`` and ``save_images``, writes ``sr/<set>/<name>.png`` and
    ``compare/<set>/<name>.png`` (LR-bicubic | SR | HR).

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

    Returns:
        ``{"protocol": {...}, "sets": {key: {"set", "scale", "num_images", "model": {"psnr",
        "ssim"}, "bicubic": {...}, "images": [...]}}}``
    """
    model.eval()
    all_scales = tuple(getattr(model, "scales", None) or (model.scale,))
    scales = tuple(model.check_scale(s) for s in scales) if scales else all_scales
    multi = len(all_scales) > 1
    results: dict[str, Any] = {
        "protocol": {
            "degradation": "bicubic-matlab",
            "scale": model.scale if not multi else list(scales),
            "colour": "y-bt601" if y_channel else "rgb",
            "crop_border": (model.scale if crop_border is None else crop_border)
            if not multi
            else ("scale" if crop_border is None else crop_border),
            "quantization": "8-bit",
            "mean": "over images",
        },
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
            lr = to_float(rec.lr).unsqueeze(0).to(model.device)
            hr = to_float(rec.hr).unsqueeze(0).to(model.device)
            sr = model(lr, scale).clamp(0, 1)
            bic = model.bicubic(lr, scale).clamp(0, 1)
            kw = dict(crop_border=border, y_channel=y_channel)
            row = {
                "name": rec.name,
                "psnr": float(psnr(sr, hr, **kw)[0]),
                "ssim": float(ssim(sr, hr, **kw)[0]),
                "bicubic_psnr": float(psnr(bic, hr, **kw)[0]),
                "bicubic_ssim": float(ssim(bic, hr, **kw)[0]),
            }
            if self_ensemble:
                sr8 = model.forward_x8(lr, scale).clamp(0, 1)
                row["psnr_x8"] = float(psnr(sr8, hr, **kw)[0])
                row["ssim_x8"] = float(ssim(sr8, hr, **kw)[0])
            rows.append(row)
            if out is not None and save_images:
                safe = rec.name.replace("/", "_")
                write_image(out / "sr" / set_name / f"{safe}.png", sr[0].cpu())
                write_image(out / "compare" / set_name / f"{safe}.png", hstack([bic[0].cpu(), sr[0].cpu(), hr[0].cpu()]))
            if progress is not None:
                progress(set_name, rec.name)
        results["sets"][set_name] = {
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
        if self_ensemble:
            results["sets"][set_name]["ensemble"] = {
                "psnr": _mean([r["psnr_x8"] for r in rows]),
                "ssim": _mean([r["ssim_x8"] for r in rows]),
            }
    return results


def results_markdown(results: Mapping[str, Any], model_name: str = "model") -> str:
    """One row per set and scale: bicubic and model PSNR/SSIM and the gain, with the protocol
    line."""
    p = results["protocol"]
    scales = p["scale"] if isinstance(p["scale"], list) else [p["scale"]]
    crop = "= scale" if p["crop_border"] == "scale" else f"{p['crop_border']} px"
    lines = [
        f"Protocol: {p['degradation']} {'/'.join(f'x{s}' for s in scales)}, {p['colour']}, "
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
    with atomic_path(out / "metrics.md") as tmp:
        tmp.write_text(md + "\n".join(per_image) + "\n")
    return out / "metrics.json", out / "metrics.md"
