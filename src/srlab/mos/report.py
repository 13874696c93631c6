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
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SRLabError
from .db import Study

__all__ = ["Exclusion", "mos_table", "report_markdown", "write_report", "t_interval"]


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


@dataclass(frozen=True)
class Exclusion:
    """The owner's rule for leaving raters out of the MOS (each ``None``/0: not applied).

    Args:
        min_votes: fewer votes than this on rated images (not counting controls): excluded.
        anchor_min: mean score on the hidden HR anchors (and on HR images rated with
            ``--include-hr``) below this: excluded (a rater who finds the reference poor is not
            judging quality).
        max_repeat_diff: mean absolute difference between the two scores of repeated images
            above this: excluded (inconsistent).
        revoked: revoked raters are always excluded unless this is False.
    """

    min_votes: int = 0
    anchor_min: float | None = None
    max_repeat_diff: float | None = None
    revoked: bool = True

    def describe(self) -> str:
        """The rule in words, for the report (``"none"`` when it excludes nobody)."""
        parts = []
        if self.revoked:
            parts.append("revoked by the owner")
        if self.min_votes:
            parts.append(f"fewer than {self.min_votes} votes")
        if self.anchor_min is not None:
            parts.append(f"mean HR-anchor score below {self.anchor_min:g}")
        if self.max_repeat_diff is not None:
            parts.append(f"mean repeat difference above {self.max_repeat_diff:g}")
        return "; ".join(parts) or "none"


def rater_controls(study: Study) -> dict[int, dict[str, Any]]:
    """Per rater: name, revoked, votes on rated images, anchor scores and repeat pairs.

    Anchor scores are the scores of HR images shown as items; repeat pairs are
    ``(first score, second score)``.
    """
    con = study.con
    out: dict[int, dict[str, Any]] = {}
    for rid, name, revoked in con.execute("SELECT id, name, revoked FROM raters ORDER BY id"):
        out[rid] = {
            "name": name,
            "revoked": revoked is not None,
            "votes": 0,
            "anchors": [],
            "repeats": [],
        }
    first: dict[tuple[int, int], int] = {}
    second: list[tuple[int, int, int]] = []
    for rid, iid, role, is_hr, score in con.execute(
        "SELECT v.rater_id, o.image_id, o.role, i.is_hr, v.score FROM votes v "
        "JOIN rater_order o ON o.rater_id = v.rater_id AND o.position = v.position "
        "JOIN images i ON i.id = o.image_id ORDER BY v.rater_id, o.position"
    ):
        r = out[rid]
        if role == "rate":
            r["votes"] += 1
            first[(rid, iid)] = score
        elif role == "repeat":
            second.append((rid, iid, score))
        if is_hr and role != "repeat":
            r["anchors"].append(score)
    for rid, iid, score in second:
        if (rid, iid) in first:
            out[rid]["repeats"].append((first[(rid, iid)], score))
    return out


def _excluded_because(r: dict[str, Any], rule: Exclusion) -> list[str]:
    why = []
    if rule.revoked and r["revoked"]:
        why.append("revoked")
    if r["votes"] < rule.min_votes:
        why.append(f"{r['votes']} votes")
    if rule.anchor_min is not None and r["anchors"]:
        m = sum(r["anchors"]) / len(r["anchors"])
        if m < rule.anchor_min:
            why.append(f"anchor mean {m:.2f}")
    if rule.max_repeat_diff is not None and r["repeats"]:
        d = sum(abs(a - b) for a, b in r["repeats"]) / len(r["repeats"])
        if d > rule.max_repeat_diff:
            why.append(f"repeat diff {d:.2f}")
    return why


def _models(
    names: list[str], votes: dict[str, dict[int, list[int]]], n_images: dict[str, int]
) -> dict[str, dict[str, Any]]:
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
    return models


def legacy_v1_table(path: Path, exclude: Exclusion | None = None) -> dict[str, Any]:
    """The table of a study made by the first srlab-mos, read-only.

    Schema 1 had raters by name, votes by image id and no controls; reading it lets its votes
    still be reported after an upgrade. Only ``min_votes`` applies (it had no anchors, repeats
    or revocation).
    """
    rule = exclude or Exclusion()
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        meta = dict(con.execute("SELECT key, value FROM meta"))
        names = [r[0] for r in con.execute("SELECT name FROM models ORDER BY id")]
        per_rater_votes: dict[int, int] = {}
        rows = con.execute(
            "SELECT m.name, v.rater_id, v.score FROM votes v JOIN images i ON i.id = v.image_id "
            "JOIN models m ON m.id = i.model_id ORDER BY v.id"
        ).fetchall()
        rater_names = dict(con.execute("SELECT id, name FROM raters"))
        n_images = dict(
            con.execute(
                "SELECT m.name, COUNT(*) FROM images i JOIN models m ON m.id = i.model_id "
                "GROUP BY m.name"
            )
        )
    finally:
        con.close()
    for _, rater, _ in rows:
        per_rater_votes[rater] = per_rater_votes.get(rater, 0) + 1
    kept = {r for r, n in per_rater_votes.items() if n >= rule.min_votes}
    votes: dict[str, dict[int, list[int]]] = {n: {} for n in names}
    for name, rater, score in rows:
        if rater in kept:
            votes[name].setdefault(rater, []).append(score)
    qc = [
        {
            "rater": rater_names.get(r, str(r)),
            "votes": n,
            "anchor_votes": 0,
            "anchor_mean": math.nan,
            "repeat_pairs": 0,
            "repeat_mean_abs_diff": math.nan,
            "excluded": "" if r in kept else f"{n} votes",
        }
        for r, n in sorted(per_rater_votes.items())
    ]
    return {
        "scale": [int(meta["scale_min"]), int(meta["scale_max"])],
        "raters": len(kept),
        "raters_total": len(per_rater_votes),
        "excluded": len(per_rater_votes) - len(kept),
        "rule": (f"fewer than {rule.min_votes} votes" if rule.min_votes else "none")
        + " (a schema-1 study: raters by name, no controls)",
        "rater_qc": qc,
        "dropped_images": [],
        "models": _models(names, votes, n_images),
    }


def mos_table(
    study: Study, exclude: Exclusion | None = None, metrics: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The MOS table of a study, with the rater controls and (optionally) the metrics.

    Keys: ``{"scale", "raters", "raters_total", "excluded", "rule", "rater_qc", "models"}``, and
    ``"metrics"`` when ``metrics`` names any.

    MOS counts each rater's vote on each rated image once (the first showing; repeats and hidden
    anchors are controls, not data), over the raters that ``exclude`` keeps. ``metrics`` (among
    psnr, ssim, niqe, lpips, dists) are computed on exactly the pixels raters saw, per model, with
    Spearman's rho between per-image MOS and each metric (:mod:`srlab.metrics.mos_metrics`).
    """
    rule = exclude or Exclusion()
    con = study.con
    qc = rater_controls(study)
    rater_qc = []
    kept: set[int] = set()
    voters = {rid for rid, r in qc.items() if r["votes"] or r["anchors"] or r["repeats"]}
    for rid, r in qc.items():
        why = _excluded_because(r, rule)
        if rid in voters and not why:
            kept.add(rid)
        an, rep = r["anchors"], r["repeats"]
        rater_qc.append(
            {
                "rater": r["name"],
                "votes": r["votes"],
                "anchor_votes": len(an),
                "anchor_mean": sum(an) / len(an) if an else math.nan,
                "repeat_pairs": len(rep),
                "repeat_mean_abs_diff": (
                    sum(abs(a - b) for a, b in rep) / len(rep) if rep else math.nan
                ),
                "excluded": ", ".join(why) if rid in voters and why else "",
            }
        )
    votes: dict[str, dict[int, list[int]]] = {}
    names = [r[0] for r in con.execute("SELECT name FROM models WHERE control = 0 ORDER BY id")]
    for name in names:
        votes[name] = {}
    for name, rater, score in con.execute(
        "SELECT m.name, v.rater_id, v.score FROM votes v "
        "JOIN rater_order o ON o.rater_id = v.rater_id AND o.position = v.position "
        "JOIN images i ON i.id = o.image_id JOIN models m ON m.id = i.model_id "
        "WHERE o.role = 'rate' AND m.control = 0 ORDER BY v.id"
    ):
        if rater in kept:
            votes[name].setdefault(rater, []).append(score)
    n_images = dict(
        con.execute(
            "SELECT m.name, COUNT(*) FROM images i JOIN models m ON m.id = i.model_id "
            "GROUP BY m.name"
        )
    )
    models = _models(names, votes, n_images)
    extra: dict[str, Any] = {}
    if metrics:
        # torch only when asked for: the rest of srlab-mos needs none
        from ..metrics.mos_metrics import rated_images, score_rated_images

        rows = con.execute(
            "SELECT m.name, i.key, v.rater_id, v.score, b.png, rb.png FROM votes v "
            "JOIN rater_order o ON o.rater_id = v.rater_id AND o.position = v.position "
            "JOIN images i ON i.id = o.image_id JOIN models m ON m.id = i.model_id "
            "JOIN blobs b ON b.id = i.blob_id LEFT JOIN refs r ON r.id = i.ref_id "
            "LEFT JOIN blobs rb ON rb.id = r.blob_id WHERE o.role = 'rate' AND m.control = 0"
        ).fetchall()
        extra["metrics"] = score_rated_images(rated_images(rows, kept), metrics=metrics)
    return {
        **extra,
        "scale": [study.scale_min, study.scale_max],
        "raters": len(kept),
        "raters_total": len(voters),
        "excluded": len(voters) - len(kept),
        "rule": rule.describe(),
        "rater_qc": rater_qc,
        "dropped_images": study.dropped,
        "models": models,
    }


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


def _md(text: str) -> str:
    r"""A name as one markdown table cell: ``|`` and ``\`` escaped, HTML brackets as entities."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def report_markdown(table: dict[str, Any]) -> str:
    """The MOS table of :func:`mos_table` as the markdown of ``mos.md``."""
    lo, hi = table["scale"]
    lines = [
        f"MOS on a {lo}-{hi} scale, {table['raters']} rater(s) counted, {table['excluded']} of "
        f"{table['raters_total']} who voted excluded (rule: {table['rule']}). "
        "95% confidence intervals, Student t: "
        "per rater = over each rater's mean score (raters as the independent units), "
        "per vote = over all votes (ignores rater correlation, narrower).",
        "",
        "| model | MOS | 95% CI (per rater) | 95% CI (per vote) | raters | votes | images |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in table["models"].items():
        lines.append(
            f"| {_md(name)} | {_fmt(m['mos'])} | {_ci(m['ci_per_rater'])} | "
            f"{_ci(m['ci_per_vote'])} | {m['raters']} | {m['votes']} | {m['images']} |"
        )
    lines += [
        "",
        "Raters (controls: hidden HR anchors should score high; repeated images should score "
        "alike):",
        "",
        "| rater | votes | anchor votes | anchor mean | repeat pairs | repeat mean abs diff "
        "| excluded |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in table["rater_qc"]:
        lines.append(
            f"| {_md(r['rater'])} | {r['votes']} | {r['anchor_votes']} | {_fmt(r['anchor_mean'])} "
            f"| {r['repeat_pairs']} | {_fmt(r['repeat_mean_abs_diff'])} | {r['excluded'] or '-'} |"
        )
    if table.get("metrics"):
        from ..metrics.mos_metrics import mos_metrics_markdown

        lines += ["", mos_metrics_markdown(table["metrics"]).rstrip("\n")]
    if table.get("dropped_images"):
        lines += [
            "",
            "Pictures left out at create (not in every model): "
            + ", ".join(_md(d) for d in table["dropped_images"]),
        ]
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
    study_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    ci: str = "rater",
    exclude: Exclusion | None = None,
    metrics: tuple[str, ...] = (),
) -> dict[str, Path]:
    """Write ``mos.md``, ``mos.json`` and ``mos.png`` (error bars: ``ci`` = rater | vote).

    Over the raters the ``exclude`` rule keeps, with ``metrics`` joined (see :func:`mos_table`).
    The study is only read.
    """
    if ci not in ("rater", "vote"):
        raise ValueError(f"ci must be 'rater' or 'vote', got {ci!r}")
    try:
        with Study(study_path) as s:
            table = mos_table(s, exclude, metrics=tuple(metrics))
    except SRLabError as e:
        if "(schema 1," not in str(e):
            raise
        table = legacy_v1_table(Path(study_path), exclude)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / "mos.md", "json": out / "mos.json", "png": out / "mos.png"}
    paths["md"].write_text(report_markdown(table))
    paths["json"].write_text(json.dumps(_no_nan(table), indent=2))
    _chart(table, paths["png"], ci)
    return paths
