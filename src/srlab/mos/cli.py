"""srlab-mos: a Mean Opinion Score study of SR outputs, rated in the browser.

::

    srlab-mos create --study study.db --hr data/Set5/HR \\
        --model EDSR=outputs/eval_edsr --model SRCNN=outputs/eval_srcnn [--scale 0-5] [--include-hr]
    srlab-mos serve --study study.db [--host 127.0.0.1 --port 8000]
    srlab-mos report --study study.db --out mos_report [--ci rater|vote]
"""

from __future__ import annotations

import argparse
import sys

from ..errors import SRLabError

__all__ = ["main"]


def _model_arg(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {text!r}")
    return name.strip(), path.strip()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="srlab-mos", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("create", help="build a study database from srlab-eval outputs")
    c.add_argument("--study", required=True, help="SQLite file to create")
    c.add_argument("--hr", help="folder of the HR references (enables the reference toggle)")
    c.add_argument(
        "--model",
        action="append",
        required=True,
        type=_model_arg,
        metavar="NAME=DIR",
        help="a model's srlab-eval run folder (or its folder of SR images); repeat per model",
    )
    c.add_argument(
        "--scale", default="1-5", help="score scale: 1-5 (default) or 0-5 (the article's)"
    )
    c.add_argument(
        "--include-hr", action="store_true", help="also rate the HR images, as model 'HR'"
    )
    c.add_argument("--seed", type=int, default=None, help="study seed (default: random)")
    c.add_argument("--overwrite", action="store_true", help="replace an existing study file")

    s = sub.add_parser("serve", help="serve the rating web app")
    s.add_argument("--study", required=True)
    s.add_argument(
        "--host", default="127.0.0.1", help="bind address (default 127.0.0.1: this machine only)"
    )
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--threads", type=int, default=8)

    r = sub.add_parser("report", help="MOS per model with 95%% confidence intervals")
    r.add_argument("--study", required=True)
    r.add_argument("--out", required=True, help="folder for mos.md, mos.json, mos.png")
    r.add_argument(
        "--ci",
        choices=("rater", "vote"),
        default="rater",
        help="interval drawn in the chart: over rater means (default) or over all votes",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "create":
            from .db import create_study, parse_scale

            models = dict(args.model)
            if len(models) != len(args.model):
                raise SRLabError("two --model arguments have the same name")
            counts = create_study(
                args.study,
                models,
                hr_dir=args.hr,
                scale=parse_scale(args.scale),
                seed=args.seed,
                include_hr=args.include_hr,
                overwrite=args.overwrite,
            )
            print(
                f"study {args.study}: {counts['models']} models x {counts['keys']} images = "
                f"{counts['images']} to rate"
            )
        elif args.command == "serve":
            from .app import serve

            serve(args.study, host=args.host, port=args.port, threads=args.threads)
        else:
            from .report import write_report

            paths = write_report(args.study, args.out, ci=args.ci)
            print(paths["md"].read_text(), end="")
            print(f"table: {paths['md']}\nchart: {paths['png']}\njson:  {paths['json']}")
    except SRLabError as e:
        print(f"srlab-mos: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
