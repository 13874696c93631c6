"""srlab-export --ckpt CKPT --format onnx|torchscript --out FILE: export a trained model.

The exported model is the whole SRModule forward for one scale: an RGB image ``(B, 3, H, W)``
in [0, 1] in, the RGB SR image ``(B, 3, sH, sW)`` in [0, 1] out, with dynamic batch, height and
width; Y-channel networks convert to BT.601 Y and merge bicubic Cb/Cr inside the export, as
they were trained (see :mod:`srlab.export`). The export is checked before it is written: the
exported model (onnxruntime for ONNX, ``torch.jit.load`` for TorchScript) runs on a random
image of another size than the traced one beside PyTorch, and the command prints the max
absolute difference; above :data:`srlab.export.PARITY_TOL` (1e-4) it fails (exit 2) and writes
nothing (:func:`srlab.export.export_model`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..export import FORMATS, export_model
from ..models.checkpoint import load_model
from .common import report_user_errors

__all__ = ["main", "run"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="srlab-export", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--ckpt",
        required=True,
        help="a checkpoint written by srlab-train, or a published model file "
        "(.pth, .pt, .safetensors, .mat, .caffemodel)",
    )
    p.add_argument(
        "--net", default=None, metavar="NAME", help="published model files: force this architecture"
    )
    p.add_argument("--format", required=True, choices=FORMATS, help="onnx or torchscript")
    p.add_argument("--out", required=True, help="the file to write (e.g. model.onnx, model.pt)")
    p.add_argument(
        "--scale",
        type=int,
        default=None,
        help="multi-scale checkpoints: the scale to export (default: the main one)",
    )
    p.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(24, 32),
        metavar=("H", "W"),
        help="LR size the export is traced at (any size runs)",
    )
    return p


@report_user_errors
def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse ``argv``, export and check the parity; returns what ``export_model`` returned."""
    args = _parser().parse_args(argv)
    model = load_model(args.ckpt, map_location="cpu", net=args.net)
    release = getattr(model, "release_info", None)
    if release:  # a published model file: say what it was read as
        print(f"{args.ckpt}: {release['name']}", file=sys.stderr)
    h, w = args.size
    result = export_model(model, args.format, args.out, args.scale, example_size=(h, w))
    diff = result["max_abs_diff"]
    ch, cw = result["check_size"]
    print(
        f"wrote {result['path']} ({args.format}, x{result['scale']}, RGB in/out, dynamic H and W); "
        f"max abs difference to PyTorch on a {cw}x{ch} input: {diff:.2e}"
    )
    return result


def main(argv: list[str] | None = None) -> None:
    """``srlab-export``: :func:`run` (user errors as one line and exit status 2)."""
    run(argv)


if __name__ == "__main__":
    main()
