"""MOS per model with 95% confidence intervals: a markdown table, a JSON file and a bar chart.

Two intervals are computed, both Student-t (two-sided 95%, ``scipy.stats.t``):

- **per rater** (the default for the chart): each rater's mean score over the model's images is
  one observation; the interval is ``mean +- t(0.975, R-1) * sd / sqrt(R)`` over the R raters,
  centred on the mean of the rater means. Raters are the independent units of a study, so this
  is the honest interval; it needs R >= 2.
- **per vote**: every vote is one observation (``t(0.975, N-1)`` over the N votes). It ignores
  that the votes of one rater are correlated and is narrower; given for comparison with papers
  that report it.

``MOS`` itself is the mean over all votes of the model (equal to the mean of rater means when
every rater rated every image).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from .db import Study

__all__ = ["mos_table", "report_markdown", "write_report", "t_interval"]


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) Student-t interval of the mean; low/high are NaN with fewer than 2."""
    from scipy.stats import t

    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def mos_table(study: Study) -> dict[str, Any]:
    """``{"scale": [lo, hi], "raters": R, "models": {name: {...}}}`` from the votes."""
    con = study.con
    votes: dict[str, dict[int, list[int]]] = {}
    names = [r[0] for r in con.execute("SELECT name FROM models ORDER BY id")]
    for name in names:
        votes[name] = {}
    for name, rater, score in con.execute(
        "SELECT m.name, v.rater_id, v.score FROM votes v JOIN images i ON i.id = v.image_id "
        "JOIN models m ON m.id = i.model_id ORDER BY v.id"
    ):
        votes[name].setdefault(rater, []).append(score)
    n_images = dict(
        con.execute(
            "SELECT m.name, COUNT(*) FROM images i JOIN models m ON m.id = i.model_id GROUP BY m.name"
        )
    )
    models = {}
    for name in names:
        per_rater = votes[name]
        all_votes = [s for v in per_rater.values() for s in v]
        mean_v, lo_v, hi_v = t_interval([float(s) for s in all_votes])
        mean_r, lo_r, hi_r = t_interval([sum(v) / len(v) for v in per_rater.values()])
        models[name] = {
            "mos": mean_v,
            "images": n_images.get(name, 0),
            "votes": len(all_votes),
            "raters": len(per_rater),
            "ci_per_rater": [lo_r, hi_r],
            "mean_of_rater_means": mean_r,
            "ci_per_vote": [lo_v, hi_v],
        }
    raters = con.execute("SELECT COUNT(DISTINCT rater_id) FROM votes").fetchone()[0]
    return {"scale": [study.scale_min, study.scale_max], "raters": raters, "models": models}


def _no_nan(x: Any) -> Any:
    """NaN -> None, so the JSON file is strict JSON."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _no_nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_no_nan(v) for v in x]
    return x


def _fmt(x: float, nd: int = 2) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.{nd}f}"


def _ci(ci: list[float]) -> str:
    return "n/a" if any(math.isnan(c) for c in ci) else f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def report_markdown(table: dict[str, Any]) -> str:
    lo, hi = table["scale"]
    lines = [
        f"MOS on a {lo}-{hi} scale, {table['raters']} rater(s). 95% confidence intervals, Student t: "
        "per rater = over each rater's mean score (raters as the independent units), "
        "per vote = over all votes (ignores rater correlation, narrower).",
        "",
        "| model | MOS | 95% CI (per rater) | 95% CI (per vote) | raters | votes | images |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in table["models"].items():
        lines.append(
            f"| {name} | {_fmt(m['mos'])} | {_ci(m['ci_per_rater'])} | {_ci(m['ci_per_vote'])} | "
            f"{m['raters']} | {m['votes']} | {m['images']} |"
        )
    return "\n".join(lines) + "\n"


def _chart(table: dict[str, Any], path: Path, ci: str) -> None:
    """Bar chart with error bars (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(table["models"])
    mos = [table["models"][n]["mos"] for n in names]
    lows, highs = [], []
    for n, m in zip(names, mos):
        c = table["models"][n][f"ci_per_{ci}"]
        ok = not (math.isnan(m) or any(math.isnan(v) for v in c))
        lows.append(m - c[0] if ok else 0.0)
        highs.append(c[1] - m if ok else 0.0)
    lo, hi = table["scale"]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(names) + 1.5), 3.6), dpi=120)
    heights = [0.0 if math.isnan(m) else m for m in mos]
    ax.bar(range(len(names)), heights, yerr=[lows, highs], capsize=6, color="#4C72B0")
    ax.set_xticks(range(len(names)), names, rotation=20 if len(names) > 4 else 0)
    ax.set_ylim(lo, hi)
    ax.set_ylabel("MOS")
    ax.set_title(f"MOS, 95% CI per {ci} ({table['raters']} raters)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(
    study_path: str | os.PathLike, out_dir: str | os.PathLike, ci: str = "rater"
) -> dict[str, Path]:
    """Write ``mos.md``, ``mos.json`` and ``mos.png`` (error bars: ``ci`` = rater | vote)."""
    if ci not in ("rater", "vote"):
        raise ValueError(f"ci must be 'rater' or 'vote', got {ci!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with Study(study_path) as s:
        table = mos_table(s)
    paths = {"md": out / "mos.md", "json": out / "mos.json", "png": out / "mos.png"}
    paths["md"].write_text(report_markdown(table))
    paths["json"].write_text(json.dumps(_no_nan(table), indent=2))
    _chart(table, paths["png"], ci)
    return paths
