"""srlab-degrade-preview: one PNG showing an HR crop and its LR under each degradation.

    srlab-degrade-preview --out preview.png                       # scikit-image astronaut, presets
    srlab-degrade-preview --image photo.png --scale 4 --crop 192 --out preview.png
    srlab-degrade-preview --config my_degradations.yaml --out preview.png

``--config`` is a YAML mapping ``label: {steps: [...], seed: 0}`` (the same form as
``data.degradation``); without it the built-in presets are shown
(:data:`srlab.data.degradation_preview.PRESETS`). Each LR is drawn with nearest-neighbour
enlargement to the HR size, so its pixels stay visible, and labelled with the parameters that
were drawn for it (ranges are sampled with the given seed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data.degradation_preview import degradation_preview, load_degradations
from ..data.io import atomic_path, read_image
from ..data.sources import SampleImages
from .common import report_user_errors

__all__ = ["main", "run"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="srlab-degrade-preview", description=__doc__.split("\n\n")[0])
    p.add_argument("--image", help="HR image (default: scikit-image's astronaut)")
    p.add_argument("--config", help="YAML: label -> {steps: [...], seed: ...}")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--crop", type=int, default=192, help="HR crop side (centre of the image)")
    p.add_argument("--out", default="degradations.png")
    return p


def run(argv: list[str] | None = None) -> Path:
    """Parse ``argv``, draw the picture and write it; returns its path."""
    args = _parser().parse_args(argv)
    hr = (
        read_image(args.image) if args.image else SampleImages(["astronaut"]).load(args.scale)[0].hr
    )
    degs = load_degradations(args.config)
    img = degradation_preview(hr, degs, args.scale, args.crop)
    out = Path(args.out)
    with atomic_path(out) as tmp:
        img.save(tmp, format="PNG")
    print(f"wrote {out} ({len(degs)} degradations at x{args.scale})")
    return out


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    """``srlab-degrade-preview``: :func:`run`, user errors as one line and exit status 2."""
    run(argv)


if __name__ == "__main__":
    main()
