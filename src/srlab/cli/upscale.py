"""srlab-upscale INPUT... --ckpt CKPT --out DIR: super-resolve image files or folders.

One PNG per input, with the same file stem, in DIR. Y-channel models upscale Y and merge
bicubic-upscaled Cb/Cr. ``--scale`` picks the factor of a multi-scale checkpoint (MDSR, CARN,
VDSR, ...; default: its main scale) and checks it for a single-scale one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from ..data.io import IMAGE_EXTENSIONS, list_images, read_image, to_float, write_image
from ..errors import SRLabError
from ..models.checkpoint import load_model
from .common import report_user_errors

__all__ = ["collect_inputs", "main"]


def collect_inputs(inputs: list[str]) -> list[Path]:
    """Expand files and folders (recursively) into a list of image files, in order."""
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files.extend(list_images(p))
        elif p.is_file():
            if p.suffix.lower() not in IMAGE_EXTENSIONS:
                raise SRLabError(f"not an image file ({', '.join(IMAGE_EXTENSIONS)}): {p}")
            files.append(p)
        else:
            raise SRLabError(f"input not found: {p}")
    stems = {}
    for f in files:
        if f.stem in stems:
            raise SRLabError(f"two inputs would both be written as {f.stem}.png: {stems[f.stem]} and {f}")
        stems[f.stem] = f
    return files


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="srlab-upscale", description=__doc__.split("\n\n")[0])
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    p.add_argument("--ckpt", required=True, help="a checkpoint written by srlab-train")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument(
        "--scale", type=int, default=None,
        help="the factor (multi-scale checkpoints: one of the scales they serve; "
        "single-scale ones: checked against the checkpoint)",
    )
    return p


@report_user_errors
def run(argv: list[str] | None = None) -> list[Path]:
    args = _parser().parse_args(argv)
    files = collect_inputs(args.inputs)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    model = load_model(args.ckpt, map_location=device)
    scale = model.scale if args.scale is None else args.scale
    if scale not in model.scales:
        served = ", ".join(f"x{s}" for s in model.scales)
        raise SRLabError(f"the checkpoint {args.ckpt} upscales {served}, not x{scale}")
    out_dir = Path(args.out)
    written = []
    from rich.progress import Progress

    with Progress(transient=not sys.stderr.isatty()) as bar, torch.inference_mode():
        task = bar.add_task("upscaling", total=len(files))
        for f in files:
            bar.update(task, description=f.name)
            lr = to_float(read_image(f)).unsqueeze(0).to(device)
            sr = model(lr, scale)[0].clamp(0, 1).cpu()
            written.append(write_image(out_dir / f"{f.stem}.png", sr))
            bar.advance(task)
    print(f"wrote {len(written)} image(s) at x{scale} to {out_dir}")
    return written


def main(argv: list[str] | None = None) -> None:
    run(argv)


if __name__ == "__main__":
    main()
