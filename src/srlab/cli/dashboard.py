"""What a run tells its dashboards (W&B, CSV, TensorBoard): model size, protocol tags, summary.

Shared by ``srlab-train`` and ``srlab-eval``:

- :func:`run_info`: ``{"model_size": {"params", "macs_720p_hr": {"x<s>": MACs}}, "protocol"}``,
  logged with the run's hyperparameters (MACs per 1280x720 HR output, :mod:`srlab.macs`;
  :func:`model_size_info`).
- :func:`protocol_tags`: W&B tags derived from the run (``espcn``, ``x3``, ``y-bt601``,
  ``bicubic-matlab``: the protocol's own names, :mod:`srlab.core.protocol`), added to the
  configured ``tags`` by :func:`add_wandb_tags`.
- :func:`log_summary`: values for the W&B run summary (the run table's columns).
- :func:`finish_wandb`: close the W&B run at the end of a job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from omegaconf import DictConfig, open_dict

from ..core.protocol import DEGRADATION, Protocol
from ..macs import model_size
from .common import plain_dict

log = logging.getLogger("srlab.dashboard")

__all__ = [
    "add_wandb_tags",
    "finish_wandb",
    "is_wandb",
    "log_summary",
    "model_size_info",
    "protocol_tags",
    "run_info",
]


def is_wandb(logger: Any) -> bool:
    """Whether ``logger`` is Lightning's ``WandbLogger`` (by name: wandb is not imported)."""
    return type(logger).__name__ == "WandbLogger"


def model_size_info(
    model: Any, scales: Iterable[int] | None = None, macs: bool = True
) -> dict[str, Any]:
    """The size of ``model``'s generator: ``{"params": N, "macs_720p_hr": {"x<s>": MACs}}``.

    Its parameters and (``macs``) its MACs per 1280x720 HR output at ``scales`` (default: every
    scale it serves; :func:`srlab.macs.model_size`). A network the MAC counter cannot run gets
    its parameters only, with a warning: a dashboard number never stops a run.

    Args:
        model: an :class:`~srlab.models.sr_module.SRModule` (its ``net`` and ``net_spec``), or
            a network.
        scales: the scales to count.
        macs: count MACs at all (``False``: parameters only).
    """
    net = getattr(model, "net", model)
    if macs:
        try:
            return model_size(net, getattr(model, "net_spec", None), scales)
        except Exception as e:  # noqa: BLE001 - a dashboard number must not stop a run
            log.warning("MACs not counted (%s: %s)", type(e).__name__, e)
    return {"params": sum(p.numel() for p in net.parameters())}


def run_info(model: Any, macs: bool = True) -> dict[str, Any]:
    """The evaluation protocol's name and the generator's size (:func:`model_size_info`)."""
    info: dict[str, Any] = {"model_size": model_size_info(model, macs=macs)}
    if hasattr(model, "protocol"):
        info["protocol"] = model.protocol
    return info


def _degradation_tag(data: Mapping[str, Any] | None) -> str:
    """The degradation tag of a data config.

    The protocol's degradation (:data:`srlab.core.protocol.DEGRADATION`, ``bicubic-matlab``:
    LR made on the fly, the papers' protocol), ``lr-from-files`` (pre-made LR folders), or
    ``degradation-<steps>`` for an on-the-fly degradation pipeline.
    """
    data = data or {}
    deg = data.get("degradation")
    if deg:
        steps = deg.get("steps") if isinstance(deg, Mapping) else deg
        names = [next(iter(s)) if isinstance(s, Mapping) else str(s) for s in (steps or [])]
        return "degradation-" + ("+".join(names) or "custom")
    if data.get("train_lr_dir") or data.get("val_lr_dir"):
        return "lr-from-files"
    return DEGRADATION


def protocol_tags(
    model: Any,
    data: Mapping[str, Any] | None = None,
    scales: Iterable[int] | None = None,
    colour: str | None = None,
) -> list[str]:
    """W&B tags of a run.

    Args:
        model: the module (or a network).
        data: the run's data config, for the degradation tag (see :func:`_degradation_tag`).
        scales: the scales (``x3`` tags); default: those the model serves.
        colour: the metrics' colour space as the protocol names it
            (:attr:`srlab.core.protocol.Protocol.colour`: ``y-bt601`` / ``rgb``, as
            ``metrics.json`` records it); default: the model's protocol's.

    Returns:
        The network class (lower case), the scales, the colour and the degradation.
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
    if colour is None:
        protocol = getattr(model, "eval_protocol", None)
        colour = (protocol if isinstance(protocol, Protocol) else Protocol()).colour
    tags = [type(net).__name__.lower()]
    tags += [f"x{s}" for s in served if s is not None]
    tags.append(colour)
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

    The next job of an in-process multirun then starts its own run (an open ``wandb.run`` would
    be reused by the next ``WandbLogger``). ``finish`` hands the run to W&B's background service,
    which writes the offline record afterwards: the record is complete when the process exits
    (or after ``wandb.teardown()``, for a caller that reads it in the same process).
    """
    for lg in loggers:
        if is_wandb(lg) and getattr(lg, "_experiment", None) is not None:
            lg.experiment.finish()
