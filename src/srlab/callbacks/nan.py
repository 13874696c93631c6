"""Stop training at the first NaN or infinite loss, before it reaches the weights."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from ..errors import SRLabError

__all__ = ["StopOnNonFiniteLoss"]


class StopOnNonFiniteLoss(Callback):
    """Raise a one-sentence :class:`~srlab.errors.SRLabError` (``srlab-train`` exits with status
    2) when the training loss is NaN or infinite.

    The check runs before ``backward``, so neither the optimiser step nor a checkpoint ever sees
    the bad batch: the newest checkpoint on disk is the last good one, and the message names it.
    (Lightning's ``detect_anomaly`` finds *where* a NaN appears but costs a lot; this costs one
    ``isfinite`` per step.)
    """

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor) -> None:
        if bool(torch.isfinite(loss.detach()).all()):
            return
        value = "NaN" if bool(torch.isnan(loss.detach()).any()) else "infinite"
        good = _newest_checkpoint(trainer)
        where = f"the last good checkpoint is {good}" if good else "no checkpoint had been written yet"
        raise SRLabError(
            f"training stopped at step {trainer.global_step} (epoch {trainer.current_epoch}) because the loss is "
            f"{value}; {where} (try a lower learning rate, gradient clipping or checking the data)"
        )


def _newest_checkpoint(trainer: pl.Trainer) -> str | None:
    paths = []
    for cb in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(cb, ModelCheckpoint):
            paths += [cb.last_model_path, cb.best_model_path]
    existing = [Path(p) for p in paths if p and Path(p).exists()]
    return str(max(existing, key=lambda p: p.stat().st_mtime)) if existing else None
