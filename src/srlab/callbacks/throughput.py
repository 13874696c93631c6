"""Training throughput: samples/s and HR megapixels/s, computed only on the steps that log."""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
import torch
from typing_extensions import override

__all__ = ["TrainingThroughput"]


class TrainingThroughput(pl.Callback):
    """Logs samples, HR megapixels and steps per second, averaged since the previous log.

    The logged names are ``train/samples_per_sec``, ``train/hr_mpix_per_sec`` (HR megapixels of
    the training targets per second) and ``train/steps_per_sec``.

    Hand-written rather than Lightning's ``ThroughputMonitor``, which synchronises CUDA, enters
    ``inference_mode`` and updates its running window on **every** batch and takes its batch
    size from a function (not expressible in a YAML config). Here a non-logging batch only adds
    two integers; the clock is read (and CUDA synchronised, so that queued kernels are counted)
    only every ``log_every_n_steps`` batches (default: the trainer's). Time spent validating
    between two logs is left out; data loading and checkpointing are part of the throughput.

    Args:
        log_every_n_steps: batches between two logs (``None``: ``trainer.log_every_n_steps``).
    """

    def __init__(self, log_every_n_steps: int | None = None) -> None:
        self.log_every_n_steps = log_every_n_steps
        self._every = 1
        self._batches = self._samples = self._pixels = 0
        self._t0 = 0.0
        self._val_t0: float | None = None
        self._active = False

    def _reset(self) -> None:
        self._batches = self._samples = self._pixels = 0
        self._t0 = time.perf_counter()

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._active = trainer.is_global_zero and bool(trainer.loggers)
        self._every = max(
            1, int(self.log_every_n_steps or getattr(trainer, "log_every_n_steps", 50) or 1)
        )
        self._reset()

    @override
    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if not self._active:
            return
        hr = (
            batch["hr"]
            if isinstance(batch, dict)
            else batch[1]
            if isinstance(batch, (list, tuple))
            else batch
        )
        n, h, w = hr.shape[0], hr.shape[-2], hr.shape[-1]
        self._batches += 1
        self._samples += n
        self._pixels += n * h * w
        if self._batches % self._every:
            return
        if hr.is_cuda:
            torch.cuda.synchronize(hr.device)
        dt = time.perf_counter() - self._t0
        if dt > 0:
            metrics = {
                "train/samples_per_sec": self._samples / dt,
                "train/hr_mpix_per_sec": self._pixels / dt / 1e6,
                "train/steps_per_sec": self._batches / dt,
            }
            for logger in trainer.loggers:
                logger.log_metrics(metrics, step=trainer.global_step)
        self._reset()

    # validation inside the training loop: its time does not count
    @override
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._active and not trainer.sanity_checking:
            self._val_t0 = time.perf_counter()

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._val_t0 is not None:
            self._t0 += time.perf_counter() - self._val_t0
            self._val_t0 = None
