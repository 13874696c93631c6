"""Adjustable gradient clipping (VDSR, DRRN): clip each gradient to +-theta / learning rate."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from typing_extensions import override

__all__ = ["AdjustableGradientClipping"]


class AdjustableGradientClipping(pl.Callback):
    """Clips every gradient element to ``[-theta / lr, theta / lr]`` before each optimizer step.

    VDSR (Kim et al., CVPR 2016) and DRRN (Tai et al., CVPR 2017) train with a high SGD learning
    rate and clip the gradients to a range that grows as the learning rate falls, so that the
    update ``lr * g`` never exceeds ``theta`` per weight. Lightning's ``gradient_clip_val`` is a
    fixed bound; this callback reads each parameter group's current ``lr``.

    Args:
        theta: the bound on ``lr * gradient`` (DRRN: 0.01).
    """

    def __init__(self, theta: float = 0.01) -> None:
        if theta <= 0:
            raise ValueError(f"AdjustableGradientClipping: theta must be > 0, got {theta}")
        self.theta = float(theta)

    @override
    @torch.no_grad()
    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        for group in optimizer.param_groups:
            lr = float(group["lr"])
            if lr <= 0:
                continue
            bound = self.theta / lr
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.clamp_(-bound, bound)
