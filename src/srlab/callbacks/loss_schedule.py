"""Change a loss weight during training (DRCN's recursive-supervision weight alpha)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytorch_lightning as pl
from typing_extensions import override

__all__ = ["LossWeightSchedule"]


def _has(owner: Any, name: str) -> bool:
    return name in owner if isinstance(owner, MutableMapping) else hasattr(owner, name)


def _resolve(root: Any, path: str) -> tuple[Any, str]:
    """Return ``(owner, name)`` of a dotted path below ``root``.

    The path goes through attributes (``"terms.deep.alpha"``) or mapping keys (``"weights.l1"``,
    the weight of a :class:`srlab.losses.WeightedSum` term).
    """
    *parents, attr = path.split(".")
    owner = root
    for name in parents:
        if not _has(owner, name):
            raise AttributeError(
                f"LossWeightSchedule: the loss has no {path!r} ({name!r} not found)"
            )
        owner = owner[name] if isinstance(owner, MutableMapping) else getattr(owner, name)
    if not _has(owner, attr):
        raise AttributeError(f"LossWeightSchedule: the loss has no {path!r} ({attr!r} not found)")
    return owner, attr


def _set(owner: Any, name: str, value: float) -> None:
    if isinstance(owner, MutableMapping):
        owner[name] = value
    else:
        setattr(owner, name, value)


class LossWeightSchedule(pl.Callback):
    """Moves an attribute of the LightningModule's ``loss`` linearly from ``start`` to ``end``.

    DRCN (Kim et al., CVPR 2016) trains with
    ``alpha * mean_d l(y_d) + (1 - alpha) * l(y_ensemble)`` and lets alpha, the weight of the
    intermediate predictions, decay from 1 towards 0 during training, so that early training
    relies on the supervision of every recursion and late training on the ensemble. With
    ``conf/loss/drcn.yaml`` the attribute is ``terms.deep.alpha`` of
    :class:`srlab.losses.DeepSupervision`. A path through a mapping works too:
    ``weights.l1`` is the weight of the ``l1`` term of a :class:`srlab.losses.WeightedSum`
    (IDN's switch from L2 to L1 training: two schedules with ``duration: 0``).

    The value depends only on the epoch (or the global step), so a resumed run continues where
    it stopped. It is set before every epoch (``interval="epoch"``) or batch (``"step"``) and
    logged as ``train/<attribute>`` (e.g. ``train/terms.deep.alpha``).

    Args:
        attribute: dotted path below ``pl_module.loss``.
        start, end: the value at ``begin`` and from ``begin + duration`` on.
        duration: epochs (or steps) of the linear ramp; ``0`` jumps to ``end`` at ``begin``.
        begin: epoch (or step) where the ramp starts; ``start`` holds before it.
        interval: ``"epoch"`` or ``"step"``.
    """

    def __init__(
        self,
        attribute: str = "terms.deep.alpha",
        start: float = 1.0,
        end: float = 0.0,
        duration: int = 100,
        begin: int = 0,
        interval: str = "epoch",
    ) -> None:
        if interval not in ("epoch", "step"):
            raise ValueError(
                f"LossWeightSchedule: interval must be 'epoch' or 'step', got {interval!r}"
            )
        if duration < 0 or begin < 0:
            raise ValueError(
                f"LossWeightSchedule: duration and begin must be >= 0, got {duration}, {begin}"
            )
        self.attribute = attribute
        self.start, self.end = float(start), float(end)
        self.duration, self.begin = int(duration), int(begin)
        self.interval = interval
        self.value = self.start

    def value_at(self, t: int) -> float:
        """The scheduled value at epoch (or step) ``t``."""
        if t < self.begin:
            return self.start
        if self.duration == 0:
            return self.end
        frac = min(1.0, (t - self.begin) / self.duration)
        return self.start + (self.end - self.start) * frac

    def apply(self, pl_module: pl.LightningModule, t: int) -> float:
        """Set the attribute for epoch (or step) ``t`` and return the value."""
        if getattr(pl_module, "loss", None) is None:
            raise AttributeError("LossWeightSchedule: the LightningModule has no loss")
        owner, attr = _resolve(pl_module.loss, self.attribute)
        self.value = self.value_at(t)
        _set(owner, attr, self.value)
        return self.value

    def _log(self, pl_module: pl.LightningModule) -> None:
        name = f"train/{self.attribute}"
        pl_module.log(
            name,
            self.value,
            on_step=self.interval == "step",
            on_epoch=self.interval == "epoch",
            batch_size=1,
        )

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        _resolve(pl_module.loss, self.attribute)  # a wrong path fails before the first step

    @override
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.interval == "epoch":
            self.apply(pl_module, trainer.current_epoch)

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.interval == "step":
            self.apply(pl_module, trainer.global_step)
        self._log(pl_module)
