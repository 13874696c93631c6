"""What a run tells its dashboards (W&B, CSV, TensorBoard): model size, protocol tags, summary.

Shared by ``srlab-train`` and ``srlab-eval``:

- :func:`run_info`: ``{"model_size": {"params", "macs_720p_hr": {"x<s>": MACs}}, "protocol"}``,
  logged with the run's hyperparameters (MACs per 1280x720 HR output, :mod:`srlab.macs`).
- :func:`protocol_tags`: W&B tags derived from the run (``espcn``, ``x3``, ``y-bt601``,
  ``bicubic-matlab``), added to the configured ``tags`` by :func:`add_wandb_tags`.
- :func:`log_summary`: values for the W&B run summary (the run table's columns).
- :func:`finish_wandb`: close the W&B run at the end of a job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from omegaconf import DictConfig, open_dict

from ..macs import model_size
from .common import plain_dict

log = logging.getLogger("srlab.dashboard")

__all__ = ["run_info", "protocol_tags", "add_wandb_tags", "log_summary", "finish_wandb", "is_wandb"]


def is_wandb(logger: Any) -> bool:
    """Whether ``logger`` is Lightning's ``WandbLogger`` (by name: wandb is not imported)."""
    return type(logger).__name__ == "WandbLogger"


def run_info(model: Any, macs: bool = True) -> dict[str, Any]:
    """The evaluation protocol and the generator's size.

    The size is its parameters and (``macs``) its MACs per 1280x720 HR output at each scale it
    serves. A network the MAC counter cannot run is logged without MACs (with a warning), never
    a failed run.
    """
    net = getattr(model, "net", model)
    size: dict[str, Any] = {"params": sum(p.numel() for p in net.parameters())}
    if macs:
        try:
            size = model_size(net, getattr(model, "net_spec", None))
        except Exception as e:  # noqa: BLE001 - a dashboard number must not stop a run
            log.warning("MACs not counted (%s: %s)", type(e).__name__, e)
    info: dict[str, Any] = {"model_size": size}
    if hasattr(model, "protocol"):
        info["protocol"] = model.protocol
    return info


def _degradation_tag(data: Mapping[str, Any] | None) -> str:
    """The degradation tag of a data config.

    ``bicubic-matlab`` (LR made on the fly, the papers' protocol), ``lr-from-files`` (pre-made
    LR folders), or ``degradation-<steps>`` for an on-the-fly degradation pipeline.
    """
    data = data or {}
    deg = data.get("degradation")
    if deg:
        steps = deg.get("steps") if isinstance(deg, Mapping) else deg
        names = [next(iter(s)) if isinstance(s, Mapping) else str(s) for s in (steps or [])]
        return "degradation-" + ("+".join(names) or "custom")
    if data.get("train_lr_dir") or data.get("val_lr_dir"):
        return "lr-from-files"
    return "bicubic-matlab"


def protocol_tags(
    model: Any,
    data: Mapping[str, Any] | None = None,
    scales: Iterable[int] | None = None,
    y_channel: bool | None = None,
) -> list[str]:
    """W&B tags of a run.

    The network class (lower case), each scale (``x3``; default: those the model serves), the
    metric colour space (``y-bt601`` / ``rgb``; default: the model's) and the degradation of the
    ``data`` config (see :func:`_degradation_tag`).
    """
    if isinstance(data, DictConfig):
        try:
            data = plain_dict(data)
        except Exception:  # noqa: BLE001 - an unresolvable field: tag as the plain protocol
            data = None
    net = getattr(model, "net", model)
    served: Iterable[int | None] = (
        scales
        if scales is not None
        else getattr(model, "scales", None) or (getattr(net, "scale", None),)
    )
    if y_channel is None:
        y_channel = getattr(model, "metric_y_channel", True)
    tags = [type(net).__name__.lower()]
    tags += [f"x{s}" for s in served if s is not None]
    tags.append("y-bt601" if y_channel else "rgb")
    tags.append(_degradation_tag(data))
    return tags


def add_wandb_tags(cfg: DictConfig, tags: Iterable[str]) -> None:
    """Append ``tags`` to ``cfg.logger.wandb.tags`` (the configured ``tags``), without repeats.

    Nothing happens when the run has no W&B logger.
    """
    wandb_cfg = (cfg.get("logger") or {}).get("wandb")
    if not wandb_cfg:
        return
    have = list(wandb_cfg.get("tags") or [])
    with open_dict(cfg):
        cfg.logger.wandb.tags = have + [t for t in dict.fromkeys(tags) if t not in have]


def log_summary(loggers: Iterable[Any], values: Mapping[str, Any]) -> None:
    """Put ``values`` into the summary of each W&B run (the columns of the W&B runs table)."""
    for lg in loggers:
        if is_wandb(lg):
            lg.experiment.summary.update(dict(values))


def finish_wandb(loggers: Iterable[Any]) -> None:
    """Finish the W&B run of each W&B logger (Lightning leaves it open).

    Its offline record is then complete when the job returns, and the next job of an in-process
    multirun starts its own run (an open ``wandb.run`` would be reused by the next
    ``WandbLogger``).
    """
    for lg in loggers:
        if is_wandb(lg) and getattr(lg, "_experiment", None) is not None:
            lg.experiment.finish()
