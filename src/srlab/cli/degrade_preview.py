"""srlab-degrade-preview: one PNG showing an HR crop and its LR under each degradation.

    srlab-degrade-preview --out preview.png                       # scikit-image astronaut, presets
    srlab-degrade-preview --image photo.png --scale 4 --crop 192 --out preview.png
    srlab-degrade-preview --config my_degradations.yaml --out preview.png

``--config`` is a YAML mapping ``label: {steps: [...], seed: 0}`` (the same form as
``data.degradation``); without it the built-in presets below are shown. Each LR is drawn with
nearest-neighbour enlargement to the HR size, so its pixels stay visible, and labelled with the
parameters that were drawn for it (ranges are sampled with the given seed).
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw

from ..data.degradation import Degradation, mod_crop
from ..data.io import atomic_path, read_image
from ..data.sources import SampleImages
from ..errors import SRLabError
from .common import report_user_errors

__all__ = ["PRESETS", "preview", "main", "run"]

#: shown when no --config is given
PRESETS: dict[str, dict[str, Any]] = {
    "bicubic": {"steps": [{"bicubic": {}}]},
    "iso blur s=2.0": {"steps": [{"blur": {"sigma": 2.0}}]},
    "aniso blur 3.0/0.8 @45deg": {"steps": [{"aniso_blur": {"sigma_x": 3.0, "sigma_y": 0.8, "theta": 0.785}}]},
    "noise s=15": {"steps": [{"bicubic": {}}, {"noise": {"sigma": 15}}]},
    "jpeg q=20": {"steps": [{"bicubic": {}}, {"jpeg": {"quality": 20}}]},
    "random blur+noise+jpeg": {
        "seed": 1,
        "steps": [{"blur": {"sigma": [0.2, 2.0]}}, {"bicubic": {}}, {"noise": {"sigma": [0, 15]}},
                  {"jpeg": {"quality": [40, 90]}}],
    },
}


def _label(params: dict[str, Any]) -> str:
    parts = []
    for st in params["steps"]:
        (name, p), = st.items()
        parts.append(name + ("(" + ",".join(f"{k}={v:.3g}" for k, v in p.items()) + ")" if p else ""))
    return " > ".join(parts)


def preview(hr: torch.Tensor, degradations: dict[str, Degradation], scale: int, crop: int) -> Image.Image:
    """The picture: HR crop, then one LR tile per degradation, each with a caption."""
    h, w = hr.shape[-2:]
    c = min(crop, h, w) // scale * scale
    if c == 0:
        raise SRLabError(f"the image ({w}x{h}) is smaller than the scale x{scale}")
    t, left = (h - c) // 2, (w - c) // 2
    hr_crop = mod_crop(hr[:, t : t + c, left : left + c], scale)
    tiles = [("HR crop", f"{c}x{c}", hr_crop)]
    for name, d in degradations.items():
        lr, params = d(hr_crop, scale)
        big = lr.repeat_interleave(scale, -2).repeat_interleave(scale, -1)
        tiles.append((f"{name} (x{scale}, LR {lr.shape[-1]}x{lr.shape[-2]})", _label(params), big))
    cap, gap = 60, 6
    cols = min(len(tiles), 4)
    rows = (len(tiles) + cols - 1) // cols
    W, H = cols * (c + gap) + gap, rows * (c + cap + gap) + gap
    canvas = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(canvas)
    for k, (title, sub, im) in enumerate(tiles):
        x, y = gap + (k % cols) * (c + gap), gap + (k // cols) * (c + cap + gap)
        canvas.paste(Image.fromarray(im.permute(1, 2, 0).numpy()), (x, y + cap))
        draw.text((x, y), title, fill="black")
        n = max(8, c // 6)  # characters per caption line at PIL's default font
        draw.text((x, y + 13), "\n".join(textwrap.wrap(sub, n)[:3]), fill=(90, 90, 90), spacing=1)
    return canvas


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="srlab-degrade-preview", description=__doc__.split("\n\n")[0])
    p.add_argument("--image", help="HR image (default: scikit-image's astronaut)")
    p.add_argument("--config", help="YAML: label -> {steps: [...], seed: ...}")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--crop", type=int, default=192, help="HR crop side (centre of the image)")
    p.add_argument("--out", default="degradations.png")
    return p


def run(argv: list[str] | None = None) -> Path:
    args = _parser().parse_args(argv)
    hr = read_image(args.image) if args.image else SampleImages(["astronaut"]).load(args.scale)[0].hr
    if args.config:
        from omegaconf import OmegaConf

        specs = OmegaConf.to_container(OmegaConf.load(args.config), resolve=True)
        if not isinstance(specs, dict) or not specs:
            raise SRLabError(f"{args.config}: expected a mapping label -> {{steps: [...], seed: ...}}")
    else:
        specs = PRESETS
    degs = {name: Degradation(**spec) for name, spec in specs.items()}
    img = preview(hr, degs, args.scale, args.crop)
    out = Path(args.out)
    with atomic_path(out) as tmp:
        img.save(tmp, format="PNG")
    print(f"wrote {out} ({len(degs)} degradations at x{args.scale})")
    return out


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    run(argv)


if __name__ == "__main__":
    main()
