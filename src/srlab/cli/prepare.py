"""srlab-prepare: one-time sub-image extraction of a training set, for fast loading.

    srlab-prepare --source df2k --data-dir /data --out /data/DF2K_sub --scales 2 3 4
    srlab-prepare --hr-dir my_photos/ --out my_photos_sub --scales 4 --crop 480 --step 240
    srlab-train data=prepared data.prepared_dir=/data/DF2K_sub data.scale=2

Every HR image is cut into overlapping ``--crop`` sub-images every ``--step`` pixels and stored
with its LR sub-images (provided LR when the source has it, else MATLAB bicubic) as uint8
``.npy`` arrays, memory-mapped by training (:class:`srlab.data.PreparedPatches`). Safe to
interrupt: run the same command again to resume; unreadable images are reported and skipped.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..data.catalog import TRAINING_SOURCES, training_source
from ..data.prepare import prepare_subimages
from ..errors import SRLabError
from .common import report_user_errors

__all__ = ["main", "run", "build_source"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="srlab-prepare", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--source",
        choices=TRAINING_SOURCES,
        default="folder",
        help="data set layout (see the README's Data sets); folder: --hr-dir [--lr-dir]",
    )
    p.add_argument("--data-dir", default="data", help="folder holding DIV2K/, Flickr2K/, Waterloo/")
    p.add_argument("--hr-dir", help="HR folder (--source folder)")
    p.add_argument("--lr-dir", help="LR folder (--source folder); {scale} is replaced by the scale")
    p.add_argument(
        "--lr", default="auto", help="provided LR track: auto | bicubic | unknown | none"
    )
    p.add_argument("--out", required=True, help="prepared folder (an existing one is resumed)")
    p.add_argument("--scales", type=int, nargs="+", default=[2])
    p.add_argument("--crop", type=int, default=480, help="sub-image side in HR pixels")
    p.add_argument("--step", type=int, default=240, help="stride between sub-images in HR pixels")
    p.add_argument("--no-progress", action="store_true")
    return p


def build_source(args: argparse.Namespace) -> Any:
    """The source the arguments name (:func:`srlab.data.catalog.training_source`)."""
    if args.source == "folder" and not args.hr_dir:
        raise SRLabError("--source folder needs --hr-dir")
    lr = None if args.lr in ("none", "null") else args.lr
    return training_source(args.source, args.data_dir, args.hr_dir, args.lr_dir, lr)


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse ``argv`` and prepare the sub-images; returns the prepared folder's index."""
    args = _parser().parse_args(argv)
    try:
        index = prepare_subimages(
            build_source(args), args.out, args.scales, args.crop, args.step, not args.no_progress
        )
    except KeyboardInterrupt:
        print(
            "srlab-prepare: interrupted; finished images are kept, "
            f"run the same command to resume ({args.out})"
        )
        raise
    print(
        f"{index['subimages']} sub-images of {len(index['images'])} images in {args.out}"
        + (f"; {len(index['skipped'])} skipped (see index.json)" if index["skipped"] else "")
    )
    return index


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    """``srlab-prepare``: :func:`run`, user errors as one line and exit status 2."""
    run(argv)


if __name__ == "__main__":
    main()
