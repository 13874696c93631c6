"""srlab-upscale INPUT... --ckpt CKPT --out DIR: super-resolve image files or folders.

``--ckpt`` takes a checkpoint of srlab-train or a published model file (``.pth``, ``.pt``,
``.safetensors``, ``.mat``, ``.caffemodel``), whose architecture is recognised from its tensors
(``--net NAME`` forces one); see :mod:`srlab.published`.

One image per input, with the same file stem, in DIR. Y-channel models upscale Y and merge
bicubic-upscaled Cb/Cr. ``--scale`` picks the factor of a multi-scale checkpoint (MDSR, CARN,
VDSR, ...; default: its main scale) and checks it for a single-scale one.

Large images: ``--tile N`` (LR pixels) runs the network on overlapping tiles whose overlaps
(``--overlap``) are blended with raised-cosine weights, each tile with ``--context`` pixels of
real image around it that are cropped off after SR, so no seam shows; ``--max-memory MB``
picks the largest tile that fits the budget (see :mod:`srlab.inference`).
``--self-ensemble``: x8 flips/rotations averaged (8x slower, a little more PSNR).

Folders and resuming: an output that already exists is skipped (outputs are written under a
temporary name and renamed, so an existing file is a finished one); ``--overwrite`` redoes it.

Formats and bit depth: the EXIF orientation is applied before upscaling. Outputs are PNG
(lossless; a JPEG input is not re-compressed lossily), except: a 16-bit greyscale PNG gives a
16-bit greyscale PNG, and a 16-bit TIFF gives a 16-bit RGB TIFF (``.tif``). Pillow cannot
decode 16-bit *colour* PNGs at full depth (it reduces them to 8 bits), so those give 8-bit PNGs
(:func:`srlab.data.io.read_image_full_depth` and :func:`~srlab.data.io.write_image_like`).

The work is :func:`srlab.inference.upscale_files`'s; this command parses, calls it and reports.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.tiling import DEFAULT_CONTEXT, DEFAULT_OVERLAP
from ..errors import SRLabError
from ..inference import collect_inputs, upscale_files
from ..models.checkpoint import load_model
from ..speed import resolve_device
from .common import report_user_errors

__all__ = ["main", "run"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="srlab-upscale", description=__doc__.split("\n\n")[0])
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    p.add_argument(
        "--ckpt",
        required=True,
        help="a checkpoint written by srlab-train, or a published model file "
        "(.pth, .pt, .safetensors, .mat, .caffemodel: its architecture is recognised)",
    )
    p.add_argument(
        "--net",
        default=None,
        metavar="NAME",
        help="published model files: force this architecture (e.g. edsr, lapsrn)",
    )
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument(
        "--scale",
        type=int,
        default=None,
        help="the factor (multi-scale checkpoints: one of the scales they serve; "
        "single-scale ones: checked against the checkpoint)",
    )
    p.add_argument(
        "--tile",
        type=int,
        default=None,
        help="tile side in LR pixels (default: whole image, or --max-memory)",
    )
    p.add_argument(
        "--overlap",
        type=int,
        default=DEFAULT_OVERLAP,
        help=f"LR pixels blended between tiles ({DEFAULT_OVERLAP})",
    )
    p.add_argument(
        "--context",
        type=int,
        default=DEFAULT_CONTEXT,
        help=f"LR pixels of context around each tile, cropped after SR ({DEFAULT_CONTEXT})",
    )
    p.add_argument(
        "--max-memory",
        type=float,
        default=None,
        metavar="MB",
        help="memory budget: pick the tile size that fits",
    )
    p.add_argument("--self-ensemble", action="store_true", help="x8 flips/rotations, averaged")
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    return p


@report_user_errors
def run(argv: list[str] | None = None) -> list[Path]:
    """Parse ``argv`` and upscale every input; returns the files written."""
    args = _parser().parse_args(argv)
    if args.tile is not None and args.max_memory is not None:
        raise SRLabError("give --tile or --max-memory, not both")
    files = collect_inputs(args.inputs)
    device = resolve_device(args.device)
    model = load_model(args.ckpt, map_location=device, net=args.net)
    release = getattr(model, "release_info", None)
    if release:  # a published model file: say what it was read as
        print(f"{args.ckpt}: {release['name']}", file=sys.stderr)
    scale = model.check_scale(args.scale)
    out_dir = Path(args.out)
    from rich.progress import Progress

    with Progress(transient=not sys.stderr.isatty()) as bar:
        task = bar.add_task("upscaling", total=len(files))
        written, skipped = upscale_files(
            model,
            files,
            out_dir,
            scale,
            tile=args.tile,
            overlap=args.overlap,
            context=args.context,
            max_memory=args.max_memory,
            self_ensemble=args.self_ensemble,
            overwrite=args.overwrite,
            progress=lambda f: bar.update(task, advance=1, description=f.name),
        )
    done = f" (skipped {len(skipped)} already done; --overwrite redoes them)" if skipped else ""
    print(f"wrote {len(written)} image(s) at x{scale} to {out_dir}{done}")
    return written


def main(argv: list[str] | None = None) -> None:
    """``srlab-upscale``: :func:`run`."""
    run(argv)


if __name__ == "__main__":
    main()
