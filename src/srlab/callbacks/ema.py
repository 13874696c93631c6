"""Exponential moving average (EMA) of the generator's weights."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from typing_extensions import override

__all__ = ["EMA"]


class EMA(Callback):
    """Keep an exponential moving average of the generator's weights, updated after every batch.

    ``ema = decay * ema + (1 - decay) * w`` over ``pl_module.net`` (the generator; a GAN's
    discriminator is not averaged).

    EMA weights are smoother than the last iterate and usually validate a little better at no
    training cost (ESRGAN-style and many recent SR recipes use decay 0.999). The averaged tensors
    are the floating-point parameters and buffers; integer buffers are copied.

    Args:
        decay: the EMA decay per step (0.999: an average over roughly the last 1000 steps).
        validate_with_ema: validation (and so ``val/psnr`` and the best checkpoint) uses the EMA
            weights; training continues on the raw weights.
        ema_in_checkpoint: checkpoints hold the EMA weights in ``state_dict``, so
            :func:`srlab.load_model`, ``init_from`` and ``srlab-eval`` use them; the raw weights
            travel in this callback's state, and resuming (``ckpt_path=``) puts them back.
        start_step: copy the weights (no averaging) before this global step.

    Hand-written: Lightning ships no EMA callback (``torch.optim.swa_utils.AveragedModel`` keeps a
    second module and does not swap weights for validation or checkpoints).
    """

    def __init__(
        self,
        decay: float = 0.999,
        validate_with_ema: bool = True,
        ema_in_checkpoint: bool = True,
        start_step: int = 0,
    ) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay = float(decay)
        self.validate_with_ema = validate_with_ema
        self.ema_in_checkpoint = ema_in_checkpoint
        self.start_step = int(start_step)
        self.ema: dict[str, torch.Tensor] | None = None
        self._backup: dict[str, torch.Tensor] | None = None
        self._raw_to_restore: dict[str, torch.Tensor] | None = None
        self._module: pl.LightningModule | None = None

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._module = pl_module

    @staticmethod
    def _net(pl_module: pl.LightningModule) -> torch.nn.Module:
        return pl_module.net  # type: ignore[return-value]

    def _tensors(self, pl_module: pl.LightningModule) -> dict[str, torch.Tensor]:
        return dict(self._net(pl_module).state_dict(keep_vars=False))

    # ------------------------------------------------------------------ averaging
    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.ema is None:
            self.ema = {k: v.detach().clone() for k, v in self._tensors(pl_module).items()}
        else:  # restored from a checkpoint
            self.ema = {k: v.to(pl_module.device) for k, v in self.ema.items()}

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._raw_to_restore is not None:  # resumed from a checkpoint that stored EMA weights
            self._net(pl_module).load_state_dict(self._raw_to_restore)
            self._raw_to_restore = None

    @override
    @torch.no_grad()
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any
    ) -> None:
        assert self.ema is not None
        decay = self.decay if trainer.global_step >= self.start_step else 0.0
        for k, w in self._tensors(pl_module).items():
            e = self.ema[k]
            if e.is_floating_point():
                e.lerp_(w.detach(), 1.0 - decay)
            else:
                e.copy_(w)

    # ------------------------------------------------------------------ swapping
    def _swap_in(self, pl_module: pl.LightningModule) -> None:
        if self.ema is None or self._backup is not None:
            return
        self._backup = {k: v.detach().clone() for k, v in self._tensors(pl_module).items()}
        self._net(pl_module).load_state_dict(self.ema)

    def _swap_out(self, pl_module: pl.LightningModule) -> None:
        if self._backup is not None:
            self._net(pl_module).load_state_dict(self._backup)
            self._backup = None

    @override
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.validate_with_ema and trainer.state.fn == "fit":
            self._swap_in(pl_module)

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._swap_out(pl_module)

    # ------------------------------------------------------------------ checkpoints
    @override
    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if not self.ema_in_checkpoint or self.ema is None:
            return
        sd = checkpoint["state_dict"]
        for k, v in self.ema.items():
            if f"net.{k}" in sd:
                sd[f"net.{k}"] = v.detach().clone()
        checkpoint.setdefault("srlab", {})["ema_decay"] = self.decay

    @override
    def state_dict(self) -> dict[str, Any]:
        raw = None
        # the raw (training) weights, when the checkpoint's state_dict holds the EMA ones
        if self.ema_in_checkpoint and self._module is not None:
            raw = {
                k: v.detach().clone()
                for k, v in (self._backup or self._tensors(self._module)).items()
            }
        return {"decay": self.decay, "ema": self.ema, "raw": raw}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.ema = state_dict.get("ema")
        self._raw_to_restore = state_dict.get("raw")
