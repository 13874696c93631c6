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
decode 16-bit *colour* PNGs at full depth (it reduces them to 8 bits), so those give 8-bit PNGs.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..data.io import IMAGE_EXTENSIONS, atomic_path, list_images, read_image, to_float, write_image
from ..errors import SRLabError
from ..inference import DEFAULT_CONTEXT, DEFAULT_OVERLAP, sr_forward
from ..models.checkpoint import load_model
from .common import report_user_errors

__all__ = ["collect_inputs", "read_input", "write_output", "output_path", "main", "run"]


@dataclass(frozen=True)
class ImageInfo:
    """How an input was stored: ``bits`` (8 or 16), ``grey`` and ``tiff`` (16-bit TIFF)."""

    bits: int = 8
    grey: bool = False
    tiff: bool = False


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
            raise SRLabError(f"two inputs would both be written as {f.stem}: {stems[f.stem]} and {f}")
        stems[f.stem] = f
    return files


def read_input(path: Path) -> tuple[Tensor, ImageInfo]:
    """An input file as float ``(3, H, W)`` in [0, 1] and how it was stored (16-bit kept)."""
    from PIL import Image, ImageOps

    if path.suffix.lower() in (".tif", ".tiff"):
        try:
            import tifffile

            arr = tifffile.imread(path)
        except Exception:  # noqa: BLE001 - not a TIFF tifffile reads: fall back to Pillow
            arr = None
        if arr is not None and arr.dtype == np.uint16 and arr.ndim in (2, 3):
            grey = arr.ndim == 2
            arr = np.repeat(arr[..., None], 3, axis=2) if grey else arr[..., :3]
            t = torch.from_numpy(arr.astype(np.float32) / 65535.0).permute(2, 0, 1).contiguous()
            return t, ImageInfo(bits=16, grey=grey, tiff=True)
    try:
        with Image.open(path) as img:
            # 16-bit grey PNG: "I;16" (older Pillow: "I", 32-bit ints holding 16-bit values)
            if img.mode in ("I;16", "I;16B", "I;16L") or (img.mode == "I" and img.format == "PNG"):
                img = ImageOps.exif_transpose(img)
                arr = np.asarray(img, dtype=np.float32) / 65535.0
                t = torch.from_numpy(np.repeat(arr[None], 3, axis=0)).contiguous()
                return t, ImageInfo(bits=16, grey=True)
    except Exception:  # noqa: BLE001 - read_image reports the unreadable file clearly
        pass
    return to_float(read_image(path)), ImageInfo()


def output_path(out_dir: Path, src: Path, info: ImageInfo | None = None) -> Path:
    """Where the SR image of ``src`` goes: ``<stem>.png`` (``.tif`` for 16-bit TIFF inputs)."""
    tiff = info.tiff if info is not None else src.suffix.lower() in (".tif", ".tiff") and _is_16bit_tiff(src)
    return out_dir / f"{src.stem}{'.tif' if tiff else '.png'}"


def _is_16bit_tiff(path: Path) -> bool:
    try:
        import tifffile

        with tifffile.TiffFile(path) as tf:
            return tf.pages[0].dtype == np.uint16
    except Exception:  # noqa: BLE001
        return False


def write_output(path: Path, sr: Tensor, info: ImageInfo) -> Path:
    """Write a float ``(3, H, W)`` SR image as ``info`` says (8-bit RGB PNG by default)."""
    if info.bits != 16:
        return write_image(path, sr)
    img = sr.clamp(0, 1)
    if info.grey:
        img = img.mean(dim=0, keepdim=True)
    arr = img.mul(65535.0).round().to(torch.int32).permute(1, 2, 0).numpy().astype(np.uint16)
    with atomic_path(path) as tmp:
        if info.tiff:
            import tifffile

            tifffile.imwrite(tmp, arr[..., 0] if info.grey else arr, photometric="minisblack" if info.grey else "rgb")
        else:
            from PIL import Image

            Image.fromarray(arr[..., 0]).save(tmp, format="PNG")
    return path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="srlab-upscale", description=__doc__.split("\n\n")[0])
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    p.add_argument(
        "--ckpt", required=True,
        help="a checkpoint written by srlab-train, or a published model file "
        "(.pth, .pt, .safetensors, .mat, .caffemodel: its architecture is recognised)",
    )
    p.add_argument("--net", default=None, metavar="NAME", help="published model files: force this architecture (e.g. edsr, lapsrn)")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument(
        "--scale", type=int, default=None,
        help="the factor (multi-scale checkpoints: one of the scales they serve; "
        "single-scale ones: checked against the checkpoint)",
    )
    p.add_argument("--tile", type=int, default=None, help="tile side in LR pixels (default: whole image, or --max-memory)")
    p.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP, help=f"LR pixels blended between tiles ({DEFAULT_OVERLAP})")
    p.add_argument("--context", type=int, default=DEFAULT_CONTEXT, help=f"LR pixels of context around each tile, cropped after SR ({DEFAULT_CONTEXT})")
    p.add_argument("--max-memory", type=float, default=None, metavar="MB", help="memory budget: pick the tile size that fits")
    p.add_argument("--self-ensemble", action="store_true", help="x8 flips/rotations, averaged")
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    return p


@report_user_errors
def run(argv: list[str] | None = None) -> list[Path]:
    args = _parser().parse_args(argv)
    if args.tile is not None and args.max_memory is not None:
        raise SRLabError("give --tile or --max-memory, not both")
    files = collect_inputs(args.inputs)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    model = load_model(args.ckpt, map_location=device, net=args.net)
    if getattr(model, "release_info", None):  # a published model file: say what it was read as
        print(f"{args.ckpt}: {model.release_info['name']}", file=sys.stderr)
    scale = model.scale if args.scale is None else args.scale
    if scale not in model.scales:
        served = ", ".join(f"x{s}" for s in model.scales)
        raise SRLabError(f"the checkpoint {args.ckpt} upscales {served}, not x{scale}")
    out_dir = Path(args.out)
    written, skipped = [], []
    from rich.progress import Progress

    with Progress(transient=not sys.stderr.isatty()) as bar, torch.inference_mode():
        task = bar.add_task("upscaling", total=len(files))
        for f in files:
            bar.update(task, description=f.name)
            if not args.overwrite and output_path(out_dir, f).exists():
                skipped.append(f)
                bar.advance(task)
                continue
            lr, info = read_input(f)
            sr = sr_forward(
                model, lr.unsqueeze(0).to(device), scale, tile=args.tile, overlap=args.overlap,
                context=args.context, max_memory=args.max_memory, ensemble=args.self_ensemble,
                out_device="cpu",
            )[0].clamp_(0, 1)
            written.append(write_output(output_path(out_dir, f, info), sr, info))
            bar.advance(task)
    done = f" (skipped {len(skipped)} already done; --overwrite redoes them)" if skipped else ""
    print(f"wrote {len(written)} image(s) at x{scale} to {out_dir}{done}")
    return written


def main(argv: list[str] | None = None) -> None:
    run(argv)


if __name__ == "__main__":
    main()
