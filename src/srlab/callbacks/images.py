"""Validation pictures: bicubic | SR | HR triplets, to W&B / TensorBoard, or PNGs in the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger, WandbLogger
from torch import Tensor
from typing_extensions import override

from ..data.io import hstack, write_image

__all__ = ["ValidationImages"]


class ValidationImages(pl.Callback):
    """Logs the first ``num_images`` validation images as bicubic | SR | HR triplets.

    With a W&B logger the pictures go to the run (``val/images``); with TensorBoard to its image
    tab; otherwise (and always when ``save_png``) they are written as PNGs under
    ``<run dir>/val_images/``.

    Under DDP only global rank 0 collects and writes pictures, from its own shard of the
    validation set (images ``0, W, 2W, ...`` of ``W`` ranks), and it touches no collective:
    nothing here may wait for the other ranks, which skip all of it.

    Args:
        num_images: how many validation images to show.
        every_n_epochs: log every n validation epochs.
        max_side: longer side of each panel; larger images are shown as a centre crop.
        save_png: also write PNG files.
    """

    def __init__(
        self,
        num_images: int = 4,
        every_n_epochs: int = 1,
        max_side: int = 256,
        save_png: bool = True,
    ) -> None:
        self.num_images = num_images
        self.every_n_epochs = every_n_epochs
        self.max_side = max_side
        self.save_png = save_png
        self._items: list[tuple[str, Tensor]] = []

    def _active(self, trainer: pl.Trainer) -> bool:
        return (
            not trainer.sanity_checking
            and trainer.is_global_zero
            and self.num_images > 0
            and (trainer.current_epoch + 1) % self.every_n_epochs == 0
        )

    def _crop(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        ch, cw = min(h, self.max_side), min(w, self.max_side)
        i, j = (h - ch) // 2, (w - cw) // 2
        return x[..., i : i + ch, j : j + cw]

    @override
    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if (
            not self._active(trainer)
            or len(self._items) >= self.num_images
            or not isinstance(outputs, dict)
        ):
            return
        for k in range(batch["hr"].shape[0]):
            if len(self._items) >= self.num_images:
                break
            panel = hstack(
                [
                    self._crop(t[k].detach().float().cpu())
                    for t in (outputs["bicubic"], outputs["sr"], batch["hr"])
                ]
            )
            self._items.append((str(batch["name"][k]), panel.clamp(0, 1)))

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        items, self._items = self._items, []
        if not items:
            return
        step = trainer.global_step
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(
                    key="val/images",
                    images=[p.permute(1, 2, 0).numpy() for _, p in items],
                    caption=[f"{n}: bicubic | SR | HR" for n, _ in items],
                    step=step,
                )
            elif isinstance(logger, TensorBoardLogger):
                for name, panel in items:
                    logger.experiment.add_image(f"val/{name}", panel, global_step=step)
        if self.save_png:
            root = Path(_log_dir(trainer)) / "val_images"
            for name, panel in items:
                safe = name.replace("/", "_")
                write_image(root / f"epoch{trainer.current_epoch:04d}_{safe}.png", panel)


def _log_dir(trainer: pl.Trainer) -> str:
    """Return ``trainer.log_dir`` without its broadcast.

    That property is a collective (every rank must call it), and this runs on rank 0 alone.
    """
    if trainer.loggers:
        first = trainer.loggers[0]
        path = (
            first.log_dir if isinstance(first, (TensorBoardLogger, CSVLogger)) else first.save_dir
        )
        if path:
            return str(path)
    return str(trainer.default_root_dir)
