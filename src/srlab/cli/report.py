"""srlab-report: the ``metrics.json`` of many runs -> one markdown table and one PNG plot.

    srlab-report multirun/train/2026-11-26_01-00-00 outputs/eval --out report/
    srlab-report runs/ --set Set5 --papers experiments/README.md

Every ``metrics.json`` found under the given folders (``srlab-eval`` writes one per run) gives
one row per (network, scale, test set): our PSNR/SSIM, bicubic, the network's parameter count
and MACs per 1280x720 HR output (the ``model_size`` srlab-eval records, or counted from the
network the results' checkpoint describes, :mod:`srlab.macs`), and the paper's Set5/Set14 PSNR
from the reproduction table in ``experiments/README.md``. The plot is PSNR on one set against
parameters (``--x params``, the default) or MACs (``--x macs``), log scale, one point per
network and scale, the papers' numbers as hollow markers: the figures lightweight-SR papers show.
Runs evaluated with ``metrics=[psnr,ssim,niqe,lpips]`` also get a perception-distortion table and
``report_pd.png``: PSNR against NIQE/LPIPS/DISTS, one point per network (Blau & Michaeli 2018).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import SRLabError
from ..macs import MACS_KEY, model_size

__all__ = ["collect", "paper_table", "write_report", "main"]


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def paper_table(readme: str | Path) -> dict[tuple[str, int], tuple[float | None, float | None]]:
    """``experiments/README.md`` -> ``{(network, scale): (Set5 PSNR, Set14 PSNR)}``; the network
    is the first word of the row, normalised (``"SRCNN 9-1-5"`` -> ``"srcnn"``)."""
    out: dict[tuple[str, int], tuple[float | None, float | None]] = {}
    path = Path(readme)
    if not path.is_file():
        return out
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not re.match(r"^x\d", cells[1]):
            continue
        net = _norm(cells[0].split(" (")[0].split()[0])
        scales = [int(s) for s in re.findall(r"x(\d+)", cells[1])]
        for s, part in zip(scales, cells[2].split(";")):
            nums = re.findall(r"\d+\.\d+", part)
            out[(net, s)] = (float(nums[0]) if nums else None, float(nums[1]) if len(nums) > 1 else None)
    return out


NetInfo = tuple[str, int | None, dict[str, int]]


def _net_info(res: dict[str, Any], scales: list[int], cache: dict[str, NetInfo]) -> NetInfo:
    """(network class name, parameter count, ``{"x<s>": MACs per 1280x720 HR output}``) of a
    result: what srlab-eval recorded (``network``, ``model_size``), completed from the checkpoint
    it names (rebuilt; MACs counted on the meta device) for older ``metrics.json`` files."""
    size = res.get("model_size") or {}
    name, params, macs = res.get("network"), size.get("params"), dict(size.get(MACS_KEY) or {})
    if name and params is not None and all(f"x{s}" in macs for s in scales):
        return name, params, macs
    ckpt = res.get("checkpoint")
    if not ckpt or not Path(ckpt).is_file():
        return name or "?", params, macs
    if ckpt not in cache:
        from ..models.checkpoint import load_model

        model = load_model(ckpt)
        try:
            counted = model_size(model.net, model.net_spec)
        except Exception:  # noqa: BLE001 - a net the MAC counter cannot run: params only
            counted = {"params": sum(p.numel() for p in model.net.parameters()), MACS_KEY: {}}
        cache[ckpt] = (type(model.net).__name__, counted["params"], counted[MACS_KEY])
    c_name, c_params, c_macs = cache[ckpt]
    return name or c_name, c_params if params is None else params, {**c_macs, **macs}


def collect(roots: list[str | Path]) -> list[dict[str, Any]]:
    """One row per (metrics.json, test set, scale) found under ``roots``."""
    rows: list[dict[str, Any]] = []
    cache: dict[str, NetInfo] = {}
    files = sorted({f for r in roots for f in ([Path(r)] if Path(r).is_file() else Path(r).rglob("metrics.json"))})
    for f in files:
        res = json.loads(f.read_text())
        sets = res.get("sets") or {}
        net, params, macs = _net_info(res, sorted({int(r.get("scale") or 0) for r in sets.values()}), cache)
        for key, r in sets.items():
            scale = int(r.get("scale") or 0)
            rows.append({
                "run": str(f.parent), "network": net, "params": params, "macs": macs.get(f"x{scale}"),
                "set": r.get("set", key), "scale": scale, "psnr": r["model"]["psnr"], "ssim": r["model"]["ssim"],
                "bicubic": r["bicubic"]["psnr"],
                # srlab-eval metrics=[...,niqe,lpips,dists]: model and bicubic means (lower is better)
                **{m: r["model"][m] for m in PERCEPTUAL if m in r["model"]},
                **{f"bicubic_{m}": r["bicubic"][m] for m in PERCEPTUAL if m in r.get("bicubic", {})},
            })
    return rows


def _fmt_params(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}K"


def _fmt_macs(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e9:.1f}G" if n >= 1e9 else f"{n / 1e6:.1f}M"


#: the perceptual metrics srlab-eval may add (all lower-is-better)
PERCEPTUAL = ("niqe", "lpips", "dists")
_PLABEL = {"niqe": "NIQE (no-reference)", "lpips": "LPIPS", "dists": "DISTS"}


def _perceptual_table(rows: list[dict[str, Any]]) -> list[str]:
    """A second table for runs evaluated with NIQE/LPIPS/DISTS (none: no lines)."""
    names = [m for m in PERCEPTUAL if any(r.get(m) is not None for r in rows)]
    if not names:
        return []
    head = " | ".join(f"{m.upper()} | bicubic {m.upper()}" for m in names)
    lines = ["", "Perception-distortion (lower NIQE/LPIPS/DISTS is better; PSNR: distortion, higher is better):", "",
             f"| network | scale | set | PSNR | {head} |", "|---|---:|---|---:|" + "---:|---:|" * len(names)]
    fmt = lambda v: "-" if v is None or v != v else f"{v:.4f}"  # noqa: E731
    for r in sorted(rows, key=lambda r: (r["set"], r["scale"], r["network"])):
        if all(r.get(m) is None for m in names):
            continue
        cells = " | ".join(f"{fmt(r.get(m))} | {fmt(r.get(f'bicubic_{m}'))}" for m in names)
        lines.append(f"| {r['network']} | x{r['scale']} | {r['set']} | {r['psnr']:.2f} | {cells} |")
    return lines


def perception_distortion_plot(rows: list[dict[str, Any]], png: str | Path, plot_set: str) -> Path | None:
    """The perception-distortion plane (Blau & Michaeli, 2018) on ``plot_set``: PSNR against each
    perceptual metric present (one panel per metric), one point per network and scale, bicubic as
    a grey cross. Nothing is written (``None``) when no run has a perceptual metric."""
    sel = [r for r in rows if r["set"] == plot_set]
    names = [m for m in PERCEPTUAL if any(r.get(m) is not None for r in sel)]
    if not names:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 4.3), dpi=120, squeeze=False)
    scales = sorted({r["scale"] for r in sel})
    for ax, m in zip(axes[0], names):
        for i, scale in enumerate(scales):
            pts = [r for r in sel if r["scale"] == scale and r.get(m) is not None]
            ax.scatter([r[m] for r in pts], [r["psnr"] for r in pts], color=f"C{i}", label=f"x{scale}")
            for r in pts:
                ax.annotate(r["network"], (r[m], r["psnr"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
            bic = [r for r in pts if r.get(f"bicubic_{m}") is not None]
            if bic:  # the same for every run of a scale: one cross
                b = bic[0]
                ax.scatter([b[f"bicubic_{m}"]], [b["bicubic"]], marker="x", color="grey")
                ax.annotate(f"bicubic x{scale}", (b[f"bicubic_{m}"], b["bicubic"]), fontsize=7, color="grey",
                            xytext=(3, -9), textcoords="offset points")
        ax.set_xlabel(f"{_PLABEL[m]}: lower is better (perception)")
        ax.set_ylabel(f"PSNR on {plot_set} (dB): higher is better (distortion)")
        ax.invert_xaxis()  # better to the right and up: the ideal corner is the top right
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Perception-distortion plane on {plot_set} (ideal: top right)", fontsize=10)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return Path(png)


#: --x choices: the row key and the axis label
X_AXES = {"params": "parameters", "macs": "MACs per 1280x720 HR output"}


def write_report(
    rows: list[dict[str, Any]], out: str | Path, papers: dict, plot_set: str | None = None, x: str = "params"
) -> tuple[Path, Path]:
    """Write ``report.md`` (the table) and ``report.png`` (PSNR against ``x``: ``"params"`` or
    ``"macs"``) into ``out``."""
    if x not in X_AXES:
        raise SRLabError(f"the plot's x axis is params or macs, not {x!r}")
    if not rows:
        raise SRLabError("no metrics.json found under the given folders (srlab-eval writes one per run)")
    plot_set = plot_set or rows[0]["set"]
    pts = [r for r in rows if r["set"] == plot_set and r.get(x)]
    if not pts:
        raise SRLabError(f"no result on {plot_set} has a {x} count to plot")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "| network | scale | params | MACs (720p HR) | set | PSNR | SSIM | bicubic PSNR | paper Set5 / Set14 PSNR | run |",
        "|---|---:|---:|---:|---|---:|---:|---:|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["set"], r["scale"], r["params"] or 0, r["network"])):
        p5, p14 = papers.get((_norm(r["network"]), r["scale"]), (None, None))
        paper = " / ".join("-" if v is None else f"{v:.2f}" for v in (p5, p14)) if (p5 or p14) else "-"
        lines.append(
            f"| {r['network']} | x{r['scale']} | {_fmt_params(r['params'])} | {_fmt_macs(r.get('macs'))} | "
            f"{r['set']} | {r['psnr']:.2f} | "
            f"{r['ssim']:.4f} | {r['bicubic']:.2f} | {paper} | {r['run']} |"
        )
    lines += _perceptual_table(rows)
    md = out / "report.md"
    md.write_text("\n".join(lines) + "\n")
    if perception_distortion_plot(rows, out / "report_pd.png", plot_set) is None:
        (out / "report_pd.png").unlink(missing_ok=True)  # no stale plane from an earlier report

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    for i, scale in enumerate(sorted({r["scale"] for r in pts})):
        sel = [r for r in pts if r["scale"] == scale]
        colour = f"C{i}"
        ax.scatter([r[x] for r in sel], [r["psnr"] for r in sel], color=colour, label=f"ours x{scale}")
        for r in sel:
            ax.annotate(r["network"], (r[x], r["psnr"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
            p5 = papers.get((_norm(r["network"]), scale), (None, None))[0]
            if p5 is not None and plot_set.lower() == "set5":
                ax.scatter([r[x]], [p5], facecolors="none", edgecolors=colour)
    ax.set_xscale("log")
    ax.set_xlabel(X_AXES[x])
    ax.set_ylabel(f"PSNR on {plot_set} (dB)")
    what = "model size" if x == "params" else "multiply-adds"
    ax.set_title(f"PSNR against {what}" + (" (hollow: paper)" if plot_set.lower() == "set5" else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = out / "report.png"
    fig.savefig(png)
    plt.close(fig)
    return md, png


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="srlab-report", description=__doc__.split("\n\n")[0])
    p.add_argument("roots", nargs="+", help="run folders (searched recursively) or metrics.json files")
    p.add_argument("--out", default="report", help="folder for report.md and report.png")
    p.add_argument("--set", default=None, help="test set of the plot (default: the first found)")
    p.add_argument("--papers", default="experiments/README.md", help="the reproduction table with the papers' numbers")
    p.add_argument(
        "--x", choices=sorted(X_AXES), default="params",
        help="the plot's x axis: parameters (default) or MACs per 1280x720 HR output",
    )
    args = p.parse_args(argv)
    try:
        md, png = write_report(collect(args.roots), args.out, paper_table(args.papers), args.set, args.x)
    except SRLabError as e:
        print(f"srlab: error: {e}", file=sys.stderr)
        sys.exit(2)
    print(md.read_text(), end="")
    pd = png.with_name("report_pd.png")
    print(f"wrote {md} and {png}" + (f" and {pd} (perception-distortion plane)" if pd.is_file() else ""))


if __name__ == "__main__":
    main()
