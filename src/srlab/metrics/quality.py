"""Perceptual metrics beside PSNR/SSIM in evaluations (``srlab-eval metrics=[...,niqe,lpips]``).

PSNR and SSIM are always computed (they are the protocol's columns). The others, per image, on
the model's SR image and on the bicubic upscale, with the same border crop:

=========  =====================  ==========  ==============================================
name       kind                   better      needs
=========  =====================  ==========  ==============================================
``niqe``   no-reference (SR only) lower       nothing (pristine model ships with srlab)
``lpips``  full-reference         lower       AlexNet (or ``lpips_net``) ImageNet weights
``dists``  full-reference         lower       VGG16 ImageNet weights
``pi``     no-reference           lower       Ma et al.'s score: not implemented, never shown
=========  =====================  ==========  ==============================================

The PIRM perceptual index ``PI = ((10 - Ma) + NIQE) / 2`` needs Ma et al.'s learned score
(regression forests trained on human ratings, MATLAB); srlab has no port of it, so asking for
``pi`` prints one line saying so and the column is left out: PI is never approximated (e.g. by
NIQE alone). :func:`perceptual_index` combines the two scores when Ma's values come from elsewhere.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ..errors import SRLabError
from .niqe import NIQE_BLOCK, niqe

__all__ = [
    "KNOWN_METRICS",
    "HIGHER_IS_BETTER",
    "ImageMetrics",
    "perceptual_index",
    "quality_markdown",
]

HIGHER_IS_BETTER = {
    "psnr": True,
    "ssim": True,
    "niqe": False,
    "lpips": False,
    "dists": False,
    "pi": False,
}
KNOWN_METRICS = tuple(HIGHER_IS_BETTER)
_EXTRA = ("niqe", "lpips", "dists")
_LABELS = {"niqe": "NIQE", "lpips": "LPIPS", "dists": "DISTS"}
PI_NOTE = (
    "PI not computed: it needs Ma et al.'s score, which srlab does not implement "
    "(PI is never approximated)"
)


def perceptual_index(ma: float | Tensor, niqe_value: float | Tensor) -> float | Tensor:
    """PIRM 2018's perceptual index ``((10 - Ma) + NIQE) / 2`` (lower is better).

    Ma et al.'s score is computed elsewhere (e.g. the PIRM MATLAB toolbox).
    """
    return ((10 - ma) + niqe_value) / 2


class ImageMetrics:
    """The extra per-image metrics of an evaluation, built once.

    The networks are loaded up front, so a missing weights file stops the run before any work.

    Args:
        names: requested metrics (``psnr``/``ssim`` are accepted and ignored: always computed).
        weights: ``{"lpips_alex"|"lpips_vgg"|"lpips_squeeze"|"dists": path or None}``: backbone
            files; ``None``/absent: the torch hub cache (downloaded there when online).
        lpips_net: LPIPS backbone (``alex``: the LPIPS authors' choice as a metric).
        device: where LPIPS/DISTS run.
        download: allow fetching missing backbone weights.
    """

    def __init__(
        self,
        names: Sequence[str],
        weights: Mapping[str, str | os.PathLike[str] | None] | None = None,
        lpips_net: str = "alex",
        device: str | torch.device = "cpu",
        download: bool = True,
    ) -> None:
        names = [str(n).lower() for n in names]
        unknown = [n for n in names if n not in KNOWN_METRICS]
        if unknown:
            raise SRLabError(f"unknown metric(s) {unknown}: choose from {list(KNOWN_METRICS)}")
        if "pi" in names:
            print(f"srlab-eval: {PI_NOTE}", file=sys.stderr)
        self.names = [n for n in dict.fromkeys(names) if n in _EXTRA]
        weights = dict(weights or {})
        self.lpips_net = lpips_net
        self.nets: dict[str, Any] = {}
        if "lpips" in self.names:
            from .perceptual import build_lpips

            self.nets["lpips"] = build_lpips(
                lpips_net, weights.get(f"lpips_{lpips_net}"), download=download
            ).to(device)
        if "dists" in self.names:
            from .perceptual import build_dists

            self.nets["dists"] = build_dists(weights.get("dists"), download=download).to(device)
        self._skipped: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.names)

    def _one(self, name: str, x: Tensor, hr: Tensor, border: int) -> float | None:
        if name == "niqe":
            h, w = x.shape[-2] - 2 * border, x.shape[-1] - 2 * border
            if (h // NIQE_BLOCK) * (w // NIQE_BLOCK) < 2:
                return None
            return float(niqe(x, crop_border=border)[0])
        if x.shape[-3] != hr.shape[-3]:  # a grey file against a colour one: both as RGB
            x, hr = x.expand(-1, 3, -1, -1), hr.expand(-1, 3, -1, -1)
        return float(self.nets[name](x, hr.to(x.device), crop_border=border)[0])

    def score_row(
        self, row: dict[str, Any], sr: Tensor, bic: Tensor, hr: Tensor, border: int
    ) -> None:
        """Add ``row[<metric>]`` (model) and ``row["bicubic_<metric>"]`` for one image.

        The images are ``(1, C, H, W)``; NIQE of an image smaller than two 96x96 blocks (after
        the crop) is ``None``.
        """
        for n in self.names:
            row[n] = self._one(n, sr, hr, border)
            row[f"bicubic_{n}"] = self._one(n, bic, hr, border)
            if row[n] is None:
                self._skipped.append(str(row.get("name")))

    def protocol(self) -> dict[str, str]:
        """How each requested extra metric is computed, for the results' ``protocol``."""
        out = {}
        if "niqe" in self.names:
            out["niqe"] = (
                "MATLAB niqe default model, Y (uint8), 96x96 blocks, crop as PSNR; lower is better"
            )
        if "lpips" in self.names:
            out["lpips"] = (
                f"LPIPS-{self.lpips_net} v0.1 (torchmetrics), RGB 8-bit, crop as PSNR; "
                "lower is better"
            )
        if "dists" in self.names:
            out["dists"] = "DISTS (torchmetrics), RGB 8-bit, crop as PSNR; lower is better"
        return out

    def finish(self, results: dict[str, Any]) -> None:
        """Write the per-set means and the metrics' protocol into ``results``.

        The means (over the images that have a value) go to ``model``/``bicubic`` of each set,
        the protocol to ``results["protocol"]["perceptual"]``.
        """
        for entry in results.get("sets", {}).values():
            rows = entry.get("images", [])
            for n in self.names:
                for side, key in (("model", n), ("bicubic", f"bicubic_{n}")):
                    vals = [r[key] for r in rows if r.get(key) is not None]
                    entry.setdefault(side, {})[n] = (
                        float(sum(vals) / len(vals)) if vals else math.nan
                    )
        if self.names:
            results.setdefault("protocol", {})["perceptual"] = self.protocol()
        if self._skipped:
            print(
                f"srlab-eval: NIQE left out for {len(self._skipped)} image(s) smaller than two "
                f"{NIQE_BLOCK}x{NIQE_BLOCK} blocks: {', '.join(sorted(set(self._skipped))[:5])}",
                file=sys.stderr,
            )


def _extras(results: Mapping[str, Any]) -> list[str]:
    sets = list(results.get("sets", {}).values())
    return [n for n in _EXTRA if sets and any(n in s.get("model", {}) for s in sets)]


def _f(v: Any, digits: int = 4) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def quality_markdown(
    results: Mapping[str, Any], per_image: bool = True, model_name: str = "model"
) -> str:
    """The perceptual metrics as markdown; empty when the results hold none.

    One row per set (bicubic and model means), then, with ``per_image``, one row per image.
    """
    names = _extras(results)
    if not names:
        return ""
    labels = [_LABELS[n] for n in names]
    arrows = ", ".join(f"{_LABELS[n]} lower is better" for n in names)
    lines = [
        "",
        f"Perceptual metrics ({arrows}; NIQE is no-reference: it scores the SR image alone):",
        "",
        "| set | scale | "
        + " | ".join(f"bicubic {lb} | {model_name} {lb}" for lb in labels)
        + " |",
        "|---|---:|" + "---:|" * (2 * len(names)),
    ]
    for key, r in results["sets"].items():
        cells = [f"{_f(r['bicubic'].get(n))} | {_f(r['model'].get(n))}" for n in names]
        lines.append(
            f"| {r.get('set', key)} | x{r.get('scale', '?')} | " + " | ".join(cells) + " |"
        )
    if per_image:
        lines += [
            "",
            "| set | scale | image | " + " | ".join(labels) + " |",
            "|---|---:|---|" + "---:|" * len(names),
        ]
        for key, r in results["sets"].items():
            for i in r.get("images", []):
                lines.append(
                    f"| {r.get('set', key)} | x{r.get('scale', '?')} | {i['name']} | "
                    + " | ".join(_f(i.get(n)) for n in names)
                    + " |"
                )
    return "\n".join(lines) + "\n"
