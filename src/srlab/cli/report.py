"""srlab-report: the ``metrics.json`` of many runs -> one markdown table and one PNG plot.

    srlab-report multirun/train/2026-11-26_01-00-00 outputs/eval --out report/
    srlab-report runs/ --set Set5 --x macs --config-dir my_configs

Every ``metrics.json`` found under the given folders (``srlab-eval`` writes one per run) gives
one row per (network, scale, test set): our PSNR/SSIM, bicubic, parameters and MACs per 1280x720
HR output, and the paper's Set5/Set14 PSNR, read from the ``paper:`` blocks of the experiment
configs (srlab's, then those of each ``--config-dir``; :mod:`srlab.reporting`). The plot is PSNR
on one set against parameters (``--x params``, the default) or MACs (``--x macs``), log scale,
the papers' numbers as hollow markers. Runs evaluated with ``metrics=[psnr,ssim,niqe,lpips]``
also get a perception-distortion table and ``report_pd.png``.
"""

from __future__ import annotations

import argparse

from ..reporting import X_AXES, collect, load_papers, write_report
from .common import CONF_DIR, report_user_errors

__all__ = ["main"]


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    """Run ``srlab-report`` on ``argv`` (default: the command line); user errors exit 2."""
    p = argparse.ArgumentParser(prog="srlab-report", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "roots", nargs="+", help="run folders (searched recursively) or metrics.json files"
    )
    p.add_argument("--out", default="report", help="folder for report.md and report.png")
    p.add_argument("--set", default=None, help="test set of the plot (default: the first found)")
    p.add_argument(
        "--config-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="your own config folder (as srlab-train --config-dir): the paper blocks of its "
        "experiment/*.yaml too, replacing srlab's of the same name (repeatable)",
    )
    p.add_argument(
        "--x",
        choices=sorted(X_AXES),
        default="params",
        help="the plot's x axis: parameters (default) or MACs per 1280x720 HR output",
    )
    args = p.parse_args(argv)
    papers = load_papers([CONF_DIR, *args.config_dir])
    md, png = write_report(collect(args.roots), args.out, papers, args.set, args.x)
    print(md.read_text(), end="")
    pd = png.with_name("report_pd.png")
    print(
        f"wrote {md} and {png}"
        + (f" and {pd} (perception-distortion plane)" if pd.is_file() else "")
    )


if __name__ == "__main__":
    main()
