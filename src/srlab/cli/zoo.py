"""srlab-zoo: parameters and multiply-adds of every network config, for a 1280x720 output.

For each ``conf/model/net/<name>.yaml`` and each scale (2, 3, 4 by default) the network is built
from its config (``${data.scale}`` set to the scale) **on the meta device** and counted by
:func:`srlab.macs.count_net` (PyTorch's :class:`torch.utils.flop_counter.FlopCounterMode`, from
the tensor shapes alone); :mod:`srlab.macs` states the conventions (those of the lightweight-SR
tables, e.g. CARN's): ``params`` = every parameter as built for that scale (multi-scale nets:
every branch), ``macs`` = FLOPs / 2 of the convolutions and matrix products that produce a
**1280x720 output**.

A config that fails to build or run is reported with its error instead of numbers; a scale a
network does not support (it raises ``ValueError`` at that scale but builds at another) is
skipped. ``--json`` prints ``{"<config>": {"2": {"params": N, "macs": M}, ...}}`` (a failing
config: ``{"<config>": {"error": "..."}}``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ..macs import OUT_H, OUT_W, count_net
from ..macs import UnsupportedScale as _Unsupported
from .common import CONF_DIR, plain_dict

__all__ = ["count_net", "zoo", "zoo_markdown", "main"]  # count_net: from srlab.macs


def _spec(raw: Any, scale: int) -> dict[str, Any]:
    """The net config with ``${data.scale}`` (the only interpolation net configs use) = scale."""
    root = OmegaConf.create({"data": {"scale": scale}, "net": raw})
    spec = plain_dict(root.net)
    spec.pop("defaults", None)
    return spec


def _short_error(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg}"[:200]


def zoo(
    conf_dir: str | Path | None = None,
    scales: tuple[int, ...] = (2, 3, 4),
    names: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Parameters and MACs of every network config under ``<conf_dir>/model/net``, by name.

    Returns:
        ``{config: {"<scale>": {"params", "macs"}, ...}}`` (or ``{"error": ...}``), in name order.
    """
    net_dir = Path(conf_dir or CONF_DIR) / "model" / "net"
    paths = sorted(net_dir.glob("*.yaml"))
    if names:
        paths = [p for p in paths if p.stem in names]
    table: dict[str, dict[str, Any]] = {}
    for path in paths:
        row: dict[str, Any] = {}
        errors: list[str] = []
        try:
            raw = OmegaConf.load(path)
            target = str(raw.get("_target_", "")) if isinstance(raw, DictConfig) else ""
        except Exception as e:  # noqa: BLE001 - a broken config is a row, not a crash
            table[path.stem] = {"error": _short_error(e)}
            continue
        for s in scales:
            try:
                row[str(s)] = count_net(_spec(raw, s), s)
            except _Unsupported as e:
                errors.append(str(e))
            except Exception as e:  # noqa: BLE001
                table[path.stem] = {"error": _short_error(e)}
                break
        else:
            if not row:
                table[path.stem] = {"error": errors[0] if errors else "no scale to count"}
            else:
                table[path.stem] = row
        table[path.stem].setdefault("_target_", target)
    return table


def _fmt(n: float, unit: str) -> str:
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.{1 if suffix in 'GT' else 2}f}{suffix}"
    return f"{n:.0f}"


def zoo_markdown(table: dict[str, dict[str, Any]], scales: tuple[int, ...] = (2, 3, 4)) -> str:
    """The table as Markdown: one row per config; params and MACs at each scale."""
    # export: srlab-export formats (tests/test_export.py exports every config and checks
    # parity); a network that cannot be exported is listed in srlab.export.EXPORT_LIMITS
    from ..export import EXPORT_LIMITS

    head = (
        "| config | network | params | " + " | ".join(f"MACs x{s}" for s in scales) + " | export |"
    )
    lines = [head, "|---|---|---:|" + "---:|" * len(scales) + "---|"]
    for name, row in table.items():
        target = row.get("_target_", "").rsplit(".", 1)[-1]
        if "error" in row:
            lines.append(
                f"| {name} | {target} | error: {row['error']} |" + " |" * (len(scales) + 1)
            )
            continue
        counted = [row[str(s)] for s in scales if str(s) in row]
        params = sorted({c["params"] for c in counted})
        p = (
            _fmt(params[0], "")
            if len(params) == 1
            else " / ".join(
                _fmt(row[str(s)]["params"], "") if str(s) in row else "-" for s in scales
            )
        )
        macs = [_fmt(row[str(s)]["macs"], "") if str(s) in row else "-" for s in scales]
        export = EXPORT_LIMITS.get(target, "ONNX, TorchScript")
        lines.append(f"| {name} | {target} | {p} | " + " | ".join(macs) + f" | {export} |")
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="srlab-zoo", description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    p.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4], help="scales (2 3 4)")
    p.add_argument("--nets", nargs="+", default=None, help="only these configs (file stems)")
    p.add_argument("--conf-dir", default=None, help="config root (default: srlab's conf/)")
    return p


def main(argv: list[str] | None = None) -> None:
    """``srlab-zoo``: print the table (Markdown, or JSON with ``--json``)."""
    args = _parser().parse_args(argv)
    scales = tuple(args.scales)
    table = zoo(args.conf_dir, scales, args.nets)
    if args.json:
        clean = {k: {kk: vv for kk, vv in v.items() if kk != "_target_"} for k, v in table.items()}
        json.dump(clean, sys.stdout, indent=2)
        print()
        return
    print(
        f"Parameters and multiply-adds (MACs = FLOPs/2, torch FlopCounterMode) for a "
        f"{OUT_W}x{OUT_H} output; params as built (multi-scale nets: every branch).\n"
    )
    print(zoo_markdown(table, scales))


if __name__ == "__main__":
    main()
