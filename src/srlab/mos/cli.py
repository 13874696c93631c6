r"""srlab-mos: a Mean Opinion Score study of SR outputs, rated in the browser.

::

    srlab-mos create --study study.db --hr data/Set5/HR \
        --model EDSR=outputs/eval_edsr --model SRCNN=outputs/eval_srcnn [--scale 0-5] \
        [--anchors 2] [--repeats 2] [--include-hr] [--overwrite]
    srlab-mos invite --study study.db --name alice --name bob   # prints each rater's code
    srlab-mos revoke --study study.db --name bob
    srlab-mos raters --study study.db
    srlab-mos serve --study study.db [--host 127.0.0.1 --port 8000]
    srlab-mos report --study study.db --out mos_report [--ci rater|vote] \
        [--min-votes 20] [--anchor-min 4] [--max-repeat-diff 1.5]

See docs/mos.md.
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
    c.add_argument(
        "--anchors",
        type=int,
        default=0,
        help="HR references hidden among each rater's items as a control (needs --hr; "
        "default 0: HR images are never rated unless asked for)",
    )
    c.add_argument(
        "--repeats", type=int, default=2, help="images shown twice per rater (default 2)"
    )
    c.add_argument("--seed", type=int, default=None, help="study seed (default: random)")
    c.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing study once the new one is complete (old kept as <study>.bak)",
    )

    i = sub.add_parser("invite", help="add raters; prints the invitation code of each")
    i.add_argument("--study", required=True)
    i.add_argument("--name", action="append", required=True, help="rater name; repeat")
    i.add_argument("--url", help="base URL of the server, to print sign-in links")

    v = sub.add_parser("revoke", help="revoke a rater: their code and sessions stop working")
    v.add_argument("--study", required=True)
    v.add_argument("--name", action="append", required=True)

    lr = sub.add_parser("raters", help="list the raters and their progress")
    lr.add_argument("--study", required=True)

    s = sub.add_parser("serve", help="serve the rating web app")
    s.add_argument("--study", required=True)
    s.add_argument(
        "--host", default="127.0.0.1", help="bind address (default 127.0.0.1: this machine only)"
    )
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--threads", type=int, default=8)
    s.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        help="a host name raters use in the URL (IP addresses and localhost always work)",
    )

    r = sub.add_parser("report", help="MOS per model with 95%% confidence intervals")
    r.add_argument("--study", required=True)
    r.add_argument("--out", required=True, help="folder for mos.md, mos.json, mos.png")
    r.add_argument(
        "--ci",
        choices=("rater", "vote"),
        default="rater",
        help="interval drawn in the chart: over rater means (default) or over all votes",
    )
    r.add_argument("--min-votes", type=int, default=0, help="exclude raters with fewer votes")
    r.add_argument(
        "--anchor-min",
        type=float,
        default=None,
        help="exclude raters whose mean score on the hidden HR anchors is below this",
    )
    r.add_argument(
        "--max-repeat-diff",
        type=float,
        default=None,
        help="exclude raters whose repeated images differ by more than this on average",
    )
    r.add_argument(
        "--keep-revoked", action="store_true", help="count revoked raters too (default: excluded)"
    )
    r.add_argument(
        "--metrics",
        default="psnr,ssim,niqe",
        help="metrics computed on the rated images and rank-correlated with MOS (Spearman), "
        "comma-separated among psnr, ssim, niqe, lpips, dists; 'none' to skip "
        "(default: %(default)s)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``srlab-mos`` with ``argv`` (default: the command line); returns the exit status."""
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
                anchors=args.anchors,
                repeats=args.repeats,
            )
            print(
                f"study {args.study}: {counts['models']} models x {counts['keys']} images = "
                f"{counts['images']} to rate, + {counts['anchors']} hidden HR anchor(s) and "
                f"{counts['repeats']} repeat(s) per rater"
            )
            if counts["dropped"]:
                print(
                    f"left out ({len(counts['dropped'])} not in every model): "
                    + ", ".join(counts["dropped"])
                )
            if counts["identical"]:
                print(
                    "warning: identical images in different models: "
                    + ", ".join(counts["identical"])
                )
            if counts["backup"]:
                print(f"the previous study is kept as {counts['backup']}")
            print("next: srlab-mos invite --study STUDY --name RATER (one code per rater)")
        elif args.command == "invite":
            from .db import Study

            with Study(args.study) as s:
                for name in args.name:
                    rater, code = s.invite(name)
                    link = f"\t{args.url.rstrip('/')}/?code={code}" if args.url else ""
                    print(f"{rater.name}\t{code}{link}")
        elif args.command == "revoke":
            from .db import Study

            with Study(args.study) as s:
                for name in args.name:
                    print(f"revoked: {s.revoke(name).name}")
        elif args.command == "raters":
            from .db import Study

            with Study(args.study) as s:
                for r in s.raters():
                    state = "revoked" if r["revoked"] else "active"
                    print(f"{r['name']}\t{r['votes']}/{r['items']}\t{state}")
        elif args.command == "serve":
            from .app import serve

            serve(
                args.study,
                host=args.host,
                port=args.port,
                threads=args.threads,
                allowed_hosts=args.allowed_host,
            )
        else:
            from .report import Exclusion, write_report

            rule = Exclusion(
                min_votes=args.min_votes,
                anchor_min=args.anchor_min,
                max_repeat_diff=args.max_repeat_diff,
                revoked=not args.keep_revoked,
            )
            metrics = tuple(m.strip().lower() for m in args.metrics.split(",") if m.strip())
            metrics = () if metrics == ("none",) else metrics
            bad = [m for m in metrics if m not in ("psnr", "ssim", "niqe", "lpips", "dists")]
            if bad:
                raise SRLabError(
                    f"unknown metric(s) {', '.join(bad)} for --metrics; "
                    "choose among psnr, ssim, niqe, lpips, dists"
                )
            paths = write_report(args.study, args.out, ci=args.ci, exclude=rule, metrics=metrics)
            print(paths["md"].read_text(), end="")
            print(f"table: {paths['md']}\nchart: {paths['png']}\njson:  {paths['json']}")
    except SRLabError as e:
        print(f"srlab-mos: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        where = f": {e.filename}" if e.filename else ""
        print(f"srlab-mos: error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
