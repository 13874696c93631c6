"""Stop training at the first NaN or infinite loss, before it reaches the weights."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from typing_extensions import override

from ..errors import SRLabError

__all__ = ["StopOnNonFiniteLoss", "AllRanksStopped"]


class StopOnNonFiniteLoss(Callback):
    """Stop training with a one-sentence error when the training loss is NaN or infinite.

    The error is an :class:`~srlab.errors.SRLabError`, so ``srlab-train`` exits with status 2.

    The check runs before ``backward``, so neither the optimiser step nor a checkpoint ever sees
    the bad batch: the newest checkpoint on disk is the last good one, and the message names it.
    (Lightning's ``detect_anomaly`` finds *where* a NaN appears but costs a lot; this costs one
    ``isfinite`` per step.)

    Under DDP the flag is gathered over the ranks at every step (one tiny collective), so a NaN
    on one rank stops **every** rank at the same step, before the gradient all-reduce that would
    spread it into all the weights (or leave the other ranks waiting in it); the message names
    the ranks whose loss was bad.
    """

    @override
    def on_before_backward(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor
    ) -> None:
        loss = loss.detach()
        code = 0 if bool(torch.isfinite(loss).all()) else 1 if bool(torch.isnan(loss).any()) else 2
        codes = [code]
        if trainer.world_size > 1 and torch.distributed.is_initialized():
            # every rank reaches this hook at the same step: one all-reduce of a rank-indexed flag
            flags = torch.zeros(trainer.world_size, dtype=torch.int32, device=loss.device)
            flags[trainer.global_rank] = code
            torch.distributed.all_reduce(flags)
            codes = [int(c) for c in flags.tolist()]
        if not any(codes):
            return
        value = "NaN" if 1 in codes else "infinite"
        ranks = [r for r, c in enumerate(codes) if c]
        on = (
            f" on rank{'s' if len(ranks) > 1 else ''} {', '.join(map(str, ranks))}"
            if len(codes) > 1
            else ""
        )
        good = _newest_checkpoint(trainer)
        where = (
            f"the last good checkpoint is {good}" if good else "no checkpoint had been written yet"
        )
        raise AllRanksStopped(
            f"training stopped at step {trainer.global_step} (epoch {trainer.current_epoch}) "
            f"because the loss is {value}{on}; {where} "
            "(try a lower learning rate, gradient clipping or checking the data)"
        )


class AllRanksStopped(SRLabError):
    """An error raised on every DDP rank at the same point (a decision taken together).

    The other ranks are not waiting for this one, and only rank 0 needs to report it.
    """

    all_ranks = True


def _newest_checkpoint(trainer: pl.Trainer) -> str | None:
    paths = []
    for cb in trainer.checkpoint_callbacks:
        if isinstance(cb, ModelCheckpoint):
            paths += [cb.last_model_path, cb.best_model_path]
    existing = [Path(p) for p in paths if p and Path(p).exists()]
    return str(max(existing, key=lambda p: p.stat().st_mtime)) if existing else None
