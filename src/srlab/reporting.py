"""Reports over many evaluated runs, with the papers' published numbers beside ours.

The ``metrics.json`` files ``srlab-eval`` writes become one markdown table and plots: every
``metrics.json`` found under the given folders gives one row per (network, scale, test set): our
PSNR/SSIM, bicubic, the network's parameter count and MACs per 1280x720 HR output (the
``model_size`` srlab-eval records, or counted from the network the results' checkpoint describes,
:mod:`srlab.macs`), and the paper's Set5/Set14 PSNR. The plot is PSNR on one set against
parameters or MACs, log scale, one point per network and scale, the papers' numbers as hollow
markers: the figures lightweight-SR papers show. Runs evaluated with
``metrics=[psnr,ssim,niqe,lpips]`` also get a perception-distortion table and plane (PSNR against
NIQE/LPIPS/DISTS, Blau & Michaeli 2018).

Published numbers are data, not prose: the ``paper:`` block of an experiment config
(``conf/experiment/*.yaml``), read by :func:`load_papers`::

    paper:
      source: "Lim et al., CVPRW 2017 (EDSR)"   # who published the numbers
      note: "trained on DF2K"                   # optional: what differs from our setup
      psnr:                                     # dB, paper protocol: set -> scale -> PSNR
        Set5: {x2: 38.11}
        Set14: {x2: 33.92}
      unverified: [Set14/x2]                    # optional: entries not checked against the paper

A result gets the block of the experiment that trained it (the ``paper`` key of the run's
``.hydra/config.yaml``, beside the ``checkpoints/`` folder its ``metrics.json`` names), and
otherwise that of the experiment named after its network (``<network>_x<scales>``: ESPCN ->
``espcn_x3``, EDSR -> ``edsr_x2``, not ``edsr_baseline_x2``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from .errors import SRLabError
from .macs import MACS_KEY, model_size

__all__ = [
    "PERCEPTUAL",
    "X_AXES",
    "PaperResult",
    "load_papers",
    "match_paper",
    "collect",
    "write_report",
    "perception_distortion_plot",
]

#: the perceptual metrics srlab-eval may add (all lower-is-better)
PERCEPTUAL = ("niqe", "lpips", "dists")
_PLABEL = {"niqe": "NIQE (no-reference)", "lpips": "LPIPS", "dists": "DISTS"}

#: the plot's x axis choices: the row key and the axis label
X_AXES = {"params": "parameters", "macs": "MACs per 1280x720 HR output"}

#: the sets of the report's paper column
PAPER_COLUMN_SETS = ("Set5", "Set14")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class PaperResult:
    """The published numbers of one paper setup (the ``paper:`` block of an experiment config).

    Attributes:
        experiment: the experiment config's name (``edsr_x2``), or the run's for a run's own block.
        source: who published the numbers (``"Lim et al., CVPRW 2017 (EDSR)"``).
        psnr: ``{set: {scale: dB}}`` under the paper protocol (bicubic-matlab, Y, crop = scale).
        unverified: the ``(set, scale)`` entries not checked against the paper.
        note: what differs from srlab's setup, if anything (``"trained on ImageNet"``).
    """

    experiment: str
    source: str
    psnr: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    unverified: frozenset[tuple[str, int]] = frozenset()
    note: str | None = None

    @classmethod
    def from_block(cls, experiment: str, block: Any, where: str) -> PaperResult:
        """Validate a ``paper:`` block (a plain mapping) read from ``where`` (named in errors).

        Raises:
            SRLabError: one sentence naming the file and the key at fault.
        """
        if not isinstance(block, Mapping):
            raise SRLabError(
                f"{where}: paper must be a mapping with source and psnr, got {block!r}"
            )
        unknown = set(block) - {"source", "note", "psnr", "unverified"}
        if unknown:
            raise SRLabError(
                f"{where}: paper has unknown keys {sorted(unknown)} "
                "(source, note, psnr, unverified)"
            )
        source, note = block.get("source"), block.get("note")
        if not isinstance(source, str) or not source.strip():
            raise SRLabError(
                f'{where}: paper.source must name the paper, e.g. "Lim et al., CVPRW 2017 (EDSR)"'
            )
        if note is not None and not isinstance(note, str):
            raise SRLabError(f"{where}: paper.note must be text, got {note!r}")
        psnr: dict[str, dict[int, float]] = {}
        for set_name, per_scale in (block.get("psnr") or {}).items():
            if not isinstance(per_scale, Mapping):
                raise SRLabError(
                    f"{where}: paper.psnr.{set_name} must map scales to dB, e.g. {{x2: 38.11}}"
                )
            psnr[str(set_name)] = {}
            for key, value in per_scale.items():
                m = re.fullmatch(r"x(\d+)", str(key))
                if m is None or isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise SRLabError(
                        f"{where}: paper.psnr.{set_name}.{key} must be a scale x<N> with a PSNR "
                        f"in dB, got {key}: {value!r}"
                    )
                psnr[str(set_name)][int(m.group(1))] = float(value)
        unverified = set()
        for entry in block.get("unverified") or []:
            m = re.fullmatch(r"(.+)/x(\d+)", str(entry))
            if m is None or int(m.group(2)) not in psnr.get(m.group(1), {}):
                raise SRLabError(
                    f"{where}: paper.unverified names {entry!r}, which is not a <set>/x<N> "
                    "entry of paper.psnr"
                )
            unverified.add((m.group(1), int(m.group(2))))
        return cls(experiment, source.strip(), psnr, frozenset(unverified), note)

    def at(self, set_name: str, scale: int) -> float | None:
        """The paper's PSNR on ``set_name`` (case ignored) at ``scale``, or ``None``."""
        for name, per_scale in self.psnr.items():
            if name.casefold() == set_name.casefold():
                return per_scale.get(scale)
        return None

    def is_verified(self, set_name: str, scale: int) -> bool:
        """Whether the entry (``set_name``, case ignored, at ``scale``) was checked."""
        return not any(
            s.casefold() == set_name.casefold() and x == scale for s, x in self.unverified
        )


def load_papers(config_dirs: Iterable[str | Path]) -> dict[str, PaperResult]:
    """The ``paper:`` blocks of ``<dir>/experiment/*.yaml`` for each of ``config_dirs``.

    Keyed by experiment name; a later folder's experiment replaces an earlier one's of the same
    name (your own config folder after srlab's). Experiments without a block are left out.

    Raises:
        SRLabError: a folder is missing, or a block is malformed (naming the file and key).
    """
    papers: dict[str, PaperResult] = {}
    for d in map(Path, config_dirs):
        if not d.is_dir():
            raise SRLabError(f"config folder not found: {d}")
        for f in sorted((d / "experiment").glob("*.yaml")):
            block = _yaml(f).get("paper")
            if block is not None:
                papers[f.stem] = PaperResult.from_block(f.stem, block, str(f))
    return papers


def _yaml(path: Path) -> dict[str, Any]:
    """A YAML config file as plain containers (interpolations left as written)."""
    from omegaconf import DictConfig, OmegaConf

    cfg = OmegaConf.load(path)
    if not isinstance(cfg, DictConfig):
        raise SRLabError(f"{path}: a config file must be a mapping of keys, not a list")
    return cast(dict[str, Any], OmegaConf.to_container(cfg))


def _run_paper(checkpoint: str | None) -> PaperResult | None:
    """The ``paper`` block of the training run a checkpoint belongs to.

    ``<run>/checkpoints/x.ckpt`` -> ``<run>/.hydra/config.yaml``; ``None`` for a run without one
    or a file outside a run.
    """
    if not checkpoint:
        return None
    ckpt = Path(checkpoint)
    config = ckpt.parent.parent / ".hydra" / "config.yaml"
    if ckpt.parent.name != "checkpoints" or not config.is_file():
        return None
    cfg = _yaml(config)
    block = cfg.get("paper")
    if block is None:
        return None
    hydra_cfg = config.with_name("hydra.yaml")  # the experiment's name: runtime.choices
    hydra = (_yaml(hydra_cfg).get("hydra") or {}) if hydra_cfg.is_file() else {}
    choices = (hydra.get("runtime") or {}).get("choices") or {}
    name = choices.get("experiment") or cfg.get("task_name") or ckpt.parent.parent.name
    return PaperResult.from_block(str(name), block, str(config))


def match_paper(row: Mapping[str, Any], papers: Mapping[str, PaperResult]) -> PaperResult | None:
    """The published numbers to show beside a :func:`collect` row.

    Its training run's own ``paper`` block, else the experiment named after its network
    (``<network>_x<scales>``, case and punctuation ignored: CARNM -> ``carn_m_x234``), else
    ``None``.
    """
    if row.get("paper") is not None:
        return row["paper"]
    net = _norm(str(row.get("network") or ""))
    for name, paper in papers.items():
        if _norm(re.sub(r"_x\d+$", "", name)) == net:
            return paper
    return None


NetInfo = tuple[str, int | None, dict[str, int]]


def _net_info(res: dict[str, Any], scales: list[int], cache: dict[str, NetInfo]) -> NetInfo:
    """(network class name, parameter count, ``{"x<s>": MACs per 1280x720 HR output}``) of a result.

    What srlab-eval recorded (``network``, ``model_size``), completed from the checkpoint it names
    (rebuilt; MACs counted on the meta device) for older ``metrics.json`` files.
    """
    size = res.get("model_size") or {}
    name, params, macs = res.get("network"), size.get("params"), dict(size.get(MACS_KEY) or {})
    if name and params is not None and all(f"x{s}" in macs for s in scales):
        return name, params, macs
    ckpt = res.get("checkpoint")
    if not ckpt or not Path(ckpt).is_file():
        return name or "?", params, macs
    if ckpt not in cache:
        from .models.checkpoint import load_model

        model = load_model(ckpt)
        try:
            counted = model_size(model.net, model.net_spec)
        except Exception:  # noqa: BLE001 - a net the MAC counter cannot run: params only
            counted = {"params": sum(p.numel() for p in model.net.parameters()), MACS_KEY: {}}
        cache[ckpt] = (type(model.net).__name__, counted["params"], counted[MACS_KEY])
    c_name, c_params, c_macs = cache[ckpt]
    return name or c_name, c_params if params is None else params, {**c_macs, **macs}


def collect(roots: Iterable[str | Path]) -> list[dict[str, Any]]:
    """One row per (metrics.json, test set, scale) found under ``roots``.

    ``roots`` are folders (searched recursively) or ``metrics.json`` files.

    Returns:
        dicts with ``run``, ``network``, ``params``, ``macs``, ``set``, ``scale``, ``psnr``,
        ``ssim``, ``bicubic``, the perceptual metrics present (and their ``bicubic_<m>``), and
        ``paper``: the :class:`PaperResult` of the training run's config, or ``None``.
    """
    rows: list[dict[str, Any]] = []
    cache: dict[str, NetInfo] = {}
    paths = [Path(r) for r in roots]
    files = sorted({f for r in paths for f in ([r] if r.is_file() else r.rglob("metrics.json"))})
    for f in files:
        res = json.loads(f.read_text())
        sets = res.get("sets") or {}
        net, params, macs = _net_info(
            res, sorted({int(r.get("scale") or 0) for r in sets.values()}), cache
        )
        paper = _run_paper(res.get("checkpoint"))
        for key, r in sets.items():
            scale = int(r.get("scale") or 0)
            rows.append(
                {
                    "run": str(f.parent),
                    "network": net,
                    "params": params,
                    "macs": macs.get(f"x{scale}"),
                    "set": r.get("set", key),
                    "scale": scale,
                    "psnr": r["model"]["psnr"],
                    "ssim": r["model"]["ssim"],
                    "bicubic": r["bicubic"]["psnr"],
                    # metrics=[...,niqe,lpips,dists]: model and bicubic means (lower is better)
                    **{m: r["model"][m] for m in PERCEPTUAL if m in r["model"]},
                    **{
                        f"bicubic_{m}": r["bicubic"][m]
                        for m in PERCEPTUAL
                        if m in r.get("bicubic", {})
                    },
                    "paper": paper,
                }
            )
    return rows


def _fmt_params(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}K"


def _fmt_macs(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e9:.1f}G" if n >= 1e9 else f"{n / 1e6:.1f}M"


def _paper_cell(paper: PaperResult | None, scale: int) -> str:
    """``"33.13 / 29.49"`` (Set5 / Set14; ``*``: not checked against the paper), or ``-``."""
    if paper is None:
        return "-"
    values = [(s, paper.at(s, scale)) for s in PAPER_COLUMN_SETS]
    if all(v is None for _, v in values):
        return "-"
    return " / ".join(
        "-" if v is None else f"{v:.2f}" + ("" if paper.is_verified(s, scale) else "*")
        for s, v in values
    )


def _paper_sources(used: list[PaperResult]) -> list[str]:
    """The footnote naming where the paper column's numbers come from."""
    if not used:
        return []
    star = any(p.unverified for p in used)
    lines = [
        "",
        "Paper numbers (PSNR in dB, the `paper:` block of each experiment config"
        + ("; * not checked against the paper" if star else "")
        + "):",
        "",
    ]
    for p in sorted({p.experiment: p for p in used}.values(), key=lambda p: p.experiment):
        lines.append(f"- `{p.experiment}`: {p.source}" + (f"; {p.note}" if p.note else ""))
    return lines


def _perceptual_table(rows: list[dict[str, Any]]) -> list[str]:
    """A second table for runs evaluated with NIQE/LPIPS/DISTS (none: no lines)."""
    names = [m for m in PERCEPTUAL if any(r.get(m) is not None for r in rows)]
    if not names:
        return []
    head = " | ".join(f"{m.upper()} | bicubic {m.upper()}" for m in names)
    lines = [
        "",
        "Perception-distortion (lower NIQE/LPIPS/DISTS is better; "
        "PSNR: distortion, higher is better):",
        "",
        f"| network | scale | set | PSNR | {head} |",
        "|---|---:|---|---:|" + "---:|---:|" * len(names),
    ]

    def fmt(v: float | None) -> str:
        return "-" if v is None or v != v else f"{v:.4f}"

    for r in sorted(rows, key=lambda r: (r["set"], r["scale"], r["network"])):
        if all(r.get(m) is None for m in names):
            continue
        cells = " | ".join(f"{fmt(r.get(m))} | {fmt(r.get(f'bicubic_{m}'))}" for m in names)
        lines.append(f"| {r['network']} | x{r['scale']} | {r['set']} | {r['psnr']:.2f} | {cells} |")
    return lines


def _labelled_points(ax: Any, rows: list[dict[str, Any]], x: str, colour: str, label: str) -> None:
    """One coloured point per row at ``(row[x], row["psnr"])``, each named by its network."""
    ax.scatter([r[x] for r in rows], [r["psnr"] for r in rows], color=colour, label=label)
    for r in rows:
        ax.annotate(
            r["network"], (r[x], r["psnr"]), fontsize=7, xytext=(3, 3), textcoords="offset points"
        )


def perception_distortion_plot(
    rows: list[dict[str, Any]], png: str | Path, plot_set: str
) -> Path | None:
    """Draw the perception-distortion plane (Blau & Michaeli, 2018) on ``plot_set``.

    PSNR against each perceptual metric present (one panel per metric), one point per network and
    scale, bicubic as a grey cross. Nothing is written (``None``) when no run has a perceptual
    metric.
    """
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
            _labelled_points(ax, pts, m, f"C{i}", f"x{scale}")
            bic = [r for r in pts if r.get(f"bicubic_{m}") is not None]
            if bic:  # the same for every run of a scale: one cross
                b = bic[0]
                ax.scatter([b[f"bicubic_{m}"]], [b["bicubic"]], marker="x", color="grey")
                ax.annotate(
                    f"bicubic x{scale}",
                    (b[f"bicubic_{m}"], b["bicubic"]),
                    fontsize=7,
                    color="grey",
                    xytext=(3, -9),
                    textcoords="offset points",
                )
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


def write_report(
    rows: list[dict[str, Any]],
    out: str | Path,
    papers: Mapping[str, PaperResult],
    plot_set: str | None = None,
    x: str = "params",
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.png`` (and ``report_pd.png``) into ``out``.

    ``report.md``: the table, the papers' numbers beside ours and their sources; ``report.png``:
    PSNR on ``plot_set`` against ``x`` (``"params"`` or ``"macs"``), the papers' PSNR on that set
    as hollow markers; ``report_pd.png``: the perception-distortion plane, when a run has
    perceptual metrics.

    Args:
        rows: :func:`collect`'s rows.
        out: the output folder (made if missing).
        papers: :func:`load_papers`'s blocks, for rows whose run has none (:func:`match_paper`).
        plot_set: the test set of the plots (default: the first row's).
        x: the plot's x axis, a key of :data:`X_AXES`.

    Returns:
        The paths of ``report.md`` and ``report.png``.

    Raises:
        SRLabError: no rows, an unknown ``x``, or nothing to plot on ``plot_set``.
    """
    if x not in X_AXES:
        raise SRLabError(f"the plot's x axis is params or macs, not {x!r}")
    if not rows:
        raise SRLabError(
            "no metrics.json found under the given folders (srlab-eval writes one per run)"
        )
    plot_set = plot_set or rows[0]["set"]
    pts = [r for r in rows if r["set"] == plot_set and r.get(x)]
    if not pts:
        raise SRLabError(f"no result on {plot_set} has a {x} count to plot")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "| network | scale | params | MACs (720p HR) | set | PSNR | SSIM | bicubic PSNR "
        "| paper Set5 / Set14 PSNR | run |",
        "|---|---:|---:|---:|---|---:|---:|---:|---|---|",
    ]
    used: list[PaperResult] = []
    for r in sorted(rows, key=lambda r: (r["set"], r["scale"], r["params"] or 0, r["network"])):
        paper = match_paper(r, papers)
        cell = _paper_cell(paper, r["scale"])
        if paper is not None and cell != "-":
            used.append(paper)
        lines.append(
            f"| {r['network']} | x{r['scale']} | {_fmt_params(r['params'])} | "
            f"{_fmt_macs(r.get('macs'))} | {r['set']} | {r['psnr']:.2f} | "
            f"{r['ssim']:.4f} | {r['bicubic']:.2f} | {cell} | {r['run']} |"
        )
    lines += _paper_sources(used)
    lines += _perceptual_table(rows)
    md = out / "report.md"
    md.write_text("\n".join(lines) + "\n")
    if perception_distortion_plot(rows, out / "report_pd.png", plot_set) is None:
        (out / "report_pd.png").unlink(missing_ok=True)  # no stale plane from an earlier report

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    hollow = False
    for i, scale in enumerate(sorted({r["scale"] for r in pts})):
        sel = [r for r in pts if r["scale"] == scale]
        colour = f"C{i}"
        _labelled_points(ax, sel, x, colour, f"ours x{scale}")
        for r in sel:
            paper = match_paper(r, papers)
            published = paper.at(plot_set, scale) if paper is not None else None
            if published is not None:
                ax.scatter([r[x]], [published], facecolors="none", edgecolors=colour)
                hollow = True
    ax.set_xscale("log")
    ax.set_xlabel(X_AXES[x])
    ax.set_ylabel(f"PSNR on {plot_set} (dB)")
    what = "model size" if x == "params" else "multiply-adds"
    ax.set_title(f"PSNR against {what}" + (" (hollow: paper)" if hollow else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = out / "report.png"
    fig.savefig(png)
    plt.close(fig)
    return md, png
