r"""Harness for the published-models table: srlab's PSNR/SSIM of released models and outputs.

Rows come from one of three sources, all scored by the code srlab-eval runs (so the numbers
are the ones ``srlab-eval`` prints, protocol included):

- ``--release FILE:SCALES`` (repeatable) or ``--releases LIST`` (lines ``FILE SCALES [NAME]``,
  ``#`` comments): a release file (``.ckpt``; ``.pth``/``.mat``/``.caffemodel``/
  ``.safetensors`` once ``srlab.load_model`` reads them) through
  :func:`srlab.evaluation.evaluate_sets`;
- ``--sr-dir PATTERN --name NAME``: released SR images (``{set}``/``{scale}`` filled in)
  through :func:`srlab.evaluation.score_folders` (``srlab-eval sr_dir=...``);
- ``--bicubic``: the bicubic row (:func:`srlab.evaluation.score_bicubic`).

The test sets are read from ``--bench-root`` in the published layout
(``<root>/Set5/baby_GT.bmp ...``, ``Set14/*.bmp``, ``B100/*``, ``Urban100/*.png``; an
``HR/`` subfolder works too, see :class:`srlab.data.Benchmark`). Nothing is downloaded.

Output: ``--out DIR`` gets ``rows.json`` (one object per model, scale and set; rows of an
earlier run with the same model, scale and set are replaced) and ``rows.md`` (the README
table, paper columns filled from ``PAPER`` where known, else ``not measured yet``).

Examples::

    python experiments/published/evaluate.py --bench-root /data/bench --bicubic --scales 2 3 4
    python experiments/published/evaluate.py --bench-root /data/bench --sets Set5 --scales 2 3 4 \
        --sr-dir 'RCAN/RCAN_TestCode/SR/BI/RCAN/{set}/x{scale}' --name RCAN
    python experiments/published/evaluate.py --bench-root /data/bench --release EDSR_x2.pt:2
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

#: published PSNR/SSIM, (name, set, scale) -> (psnr, ssim), with where they come from. Only
#: numbers read off the papers' own tables (RCAN, ECCV 2018, Table 3; the same table is in
#: github.com/yulunzhang/RCAN Figs/psnr_bi_1-3.PNG).
PAPER_SOURCE = {"Bicubic": "RCAN paper, Table 3", "RCAN": "RCAN paper, Table 3"}
PAPER: dict[tuple[str, str, int], tuple[float, float]] = {
    ("Bicubic", "Set5", 2): (33.66, 0.9299),
    ("Bicubic", "Set14", 2): (30.24, 0.8688),
    ("Bicubic", "B100", 2): (29.56, 0.8431),
    ("Bicubic", "Urban100", 2): (26.88, 0.8403),
    ("Bicubic", "Set5", 3): (30.39, 0.8682),
    ("Bicubic", "Set14", 3): (27.55, 0.7742),
    ("Bicubic", "B100", 3): (27.21, 0.7385),
    ("Bicubic", "Urban100", 3): (24.46, 0.7349),
    ("Bicubic", "Set5", 4): (28.42, 0.8104),
    ("Bicubic", "Set14", 4): (26.00, 0.7027),
    ("Bicubic", "B100", 4): (25.96, 0.6675),
    ("Bicubic", "Urban100", 4): (23.14, 0.6577),
    ("RCAN", "Set5", 2): (38.27, 0.9614),
    ("RCAN", "Set14", 2): (34.12, 0.9216),
    ("RCAN", "B100", 2): (32.41, 0.9027),
    ("RCAN", "Urban100", 2): (33.34, 0.9384),
    ("RCAN", "Set5", 3): (34.74, 0.9299),
    ("RCAN", "Set14", 3): (30.65, 0.8482),
    ("RCAN", "B100", 3): (29.32, 0.8111),
    ("RCAN", "Urban100", 3): (29.09, 0.8702),
    ("RCAN", "Set5", 4): (32.63, 0.9002),
    ("RCAN", "Set14", 4): (28.87, 0.7889),
    ("RCAN", "B100", 4): (27.77, 0.7436),
    ("RCAN", "Urban100", 4): (26.82, 0.8087),
}
#: what the authors' own evaluation code printed for the same outputs, where it ships with them
#: (RCAN_TestCode/PSNR_SSIM_Results_BI_model.txt, Set5 only)
AUTHORS_CODE: dict[tuple[str, str, int], float] = {
    ("RCAN", "Set5", 2): 38.274168,
    ("RCAN", "Set5", 3): 34.742155,
    ("RCAN", "Set5", 4): 32.633562,
}
SETS = ("Set5", "Set14", "B100", "Urban100")
NOT_MEASURED = "not measured yet"


def parse_release(spec: str) -> tuple[str, list[int], str | None]:
    """``FILE:2,3,4`` or ``FILE 2,3,4 [NAME]`` -> (file, scales, name)."""
    parts = spec.split()
    if len(parts) == 1:
        path, _, scales = spec.rpartition(":")
        name = None
    else:
        path, scales, name = parts[0], parts[1], (parts[2] if len(parts) > 2 else None)
    try:
        s = [int(x) for x in scales.split(",") if x]
    except ValueError:
        s = []
    if not path or not s:
        raise SystemExit(
            f"evaluate.py: a release is FILE:SCALES (e.g. RCAN_BIX2.pt:2), got {spec!r}"
        )
    return path, s, name


def _sets(bench_root: str, names: list[str]) -> dict[str, Any]:
    from srlab.data.sources import Benchmark

    return {n: Benchmark(n, bench_root, lr=None) for n in names}


def rows_from(
    results: dict[str, Any], name: str, release: str, command: str
) -> list[dict[str, Any]]:
    """One row per set and scale of srlab results (evaluate_sets / score_folders shape)."""
    rows = []
    for r in results["sets"].values():
        key = (name, r["set"], int(r["scale"]))
        paper = PAPER.get(key)
        rows.append(
            {
                "model": name,
                "release": release,
                "scale": int(r["scale"]),
                "set": r["set"],
                "num_images": r["num_images"],
                "psnr": r["model"]["psnr"],
                "ssim": r["model"]["ssim"],
                "bicubic_psnr": r["bicubic"]["psnr"],
                "paper_psnr": paper[0] if paper else None,
                "paper_ssim": paper[1] if paper else None,
                "paper_source": PAPER_SOURCE.get(name) if paper else None,
                "authors_code_psnr": AUTHORS_CODE.get(key),
                "grey_images": [i["name"] for i in r["images"] if i.get("grey")],
                "protocol": results["protocol"],
                "command": command,
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """Render ``rows`` as the README table.

    Columns: model, release, scale, set, srlab / paper PSNR/SSIM, authors' code, difference to
    the paper and the command.
    """
    out = [
        "| model | release file (repo/path) | scale | set | srlab PSNR/SSIM | paper PSNR/SSIM | "
        "authors'-code PSNR | srlab - paper (dB) | command |",
        "|---|---|---:|---|---|---|---|---:|---|",
    ]
    for r in rows:
        paper = (
            f"{r['paper_psnr']:.2f}/{r['paper_ssim']:.4f}"
            if r.get("paper_psnr") is not None
            else NOT_MEASURED
        )
        diff = f"{r['psnr'] - r['paper_psnr']:+.2f}" if r.get("paper_psnr") is not None else ""
        authors = (
            f"{r['authors_code_psnr']:.2f}"
            if r.get("authors_code_psnr") is not None
            else NOT_MEASURED
        )
        out.append(
            f"| {r['model']} | {r['release']} | x{r['scale']} | {r['set']} | "
            f"{r['psnr']:.2f}/{r['ssim']:.4f} | {paper} | {authors} | {diff} | `{r['command']}` |"
        )
    return "\n".join(out) + "\n"


def write_rows(out_dir: Path, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge ``new`` into ``out_dir/rows.json`` and write it and ``rows.md`` atomically.

    A row of ``new`` replaces an earlier one of the same model, scale and set.

    Returns:
        all rows, sorted as the table shows them.
    """
    from srlab.data.io import atomic_path

    path = out_dir / "rows.json"
    old = json.loads(path.read_text()) if path.is_file() else []
    keys = {(r["model"], r["scale"], r["set"]) for r in new}
    rows = [r for r in old if (r["model"], r["scale"], r["set"]) not in keys] + new
    order = {s: i for i, s in enumerate(SETS)}
    rows.sort(
        key=lambda r: (
            r["model"] != "Bicubic",
            r["model"],
            r["scale"],
            order.get(r["set"], 99),
            r["set"],
        )
    )
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(rows, indent=2))
    with atomic_path(out_dir / "rows.md") as tmp:
        tmp.write_text(markdown(rows))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--bench-root", required=True, help="folder holding Set5/, Set14/, B100/, Urban100/"
    )
    ap.add_argument("--sets", nargs="+", default=list(SETS))
    ap.add_argument(
        "--scales", nargs="+", type=int, default=[2, 3, 4], help="for --bicubic and --sr-dir"
    )
    ap.add_argument("--release", action="append", default=[], help="FILE:SCALES, e.g. EDSR_x2.pt:2")
    ap.add_argument("--releases", help="a file of lines 'FILE SCALES [NAME]'")
    ap.add_argument("--sr-dir", help="released SR images, with {set} and {scale}")
    ap.add_argument("--sr-glob", default="*")
    ap.add_argument(
        "--name",
        help="model name in the table, for --sr-dir or a single --release "
        "(default: the folder name / the release file's stem)",
    )
    ap.add_argument("--bicubic", action="store_true", help="the bicubic row")
    ap.add_argument("--grey-files", default="grey", choices=["grey", "y"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default="experiments/published/results")
    args = ap.parse_args(argv)

    import torch

    from srlab.errors import SRLabError
    from srlab.evaluation import evaluate_sets, score_bicubic, score_folders

    command = "python experiments/published/evaluate.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    releases = [parse_release(s) for s in args.release]
    if args.releases:
        for line in Path(args.releases).read_text().splitlines():
            if line.split("#")[0].strip():
                releases.append(parse_release(line.split("#")[0].strip()))
    if not (releases or args.sr_dir or args.bicubic):
        ap.error("nothing to score: give --release, --releases, --sr-dir or --bicubic")
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    rows: list[dict[str, Any]] = []
    try:
        sets = _sets(args.bench_root, args.sets)
        if args.bicubic:
            res = score_bicubic(sets, args.scales, grey_files=args.grey_files)
            rows += rows_from(res, "Bicubic", "(MATLAB imresize)", command)
        if args.sr_dir:
            res = score_folders(
                sets, args.sr_dir, args.scales, grey_files=args.grey_files, sr_glob=args.sr_glob
            )
            rows += rows_from(
                res, args.name or Path(args.sr_dir).name, f"SR images: {args.sr_dir}", command
            )
        for path, scales, name in releases:
            import srlab

            model = srlab.load_model(path, map_location=device)
            res = evaluate_sets(
                model, sets, scales=scales, save_images=False, grey_files=args.grey_files
            )
            name = name or (args.name if len(releases) == 1 else None) or Path(path).stem
            rows += rows_from(res, name, path, command)
    except SRLabError as e:
        print(f"evaluate.py: {e}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_rows(out, rows)
    print(markdown(rows))
    print(f"rows: {out / 'rows.json'}, table: {out / 'rows.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
