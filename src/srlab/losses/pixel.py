"""Pixel losses: L1, L2 (MSE) and Charbonnier.

L1 and L2 are torch's own. Charbonnier (LapSRN) is not in torch or kornia, so it is written here:
``sqrt((x - y)^2 + eps^2)`` with eps = 1e-3 *outside* the root's square (the popular PyTorch port
puts 1e-3 inside, i.e. eps^2 = 1e-3, which is a different loss).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from typing_extensions import override

__all__ = ["L1Loss", "MSELoss", "CharbonnierLoss", "charbonnier_loss"]

_REDUCTIONS = ("mean", "sum")


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def charbonnier_loss(
    pred: Tensor, target: Tensor, eps: float = 1e-3, reduction: str = "mean"
) -> Tensor:
    """Charbonnier penalty ``sqrt((pred - target)^2 + eps^2)``, averaged or summed.

    Example:
        >>> round(charbonnier_loss(torch.zeros(4), torch.zeros(4)).item(), 6)
        0.001
    """
    if pred.shape != target.shape:
        raise ValueError(
            f"charbonnier_loss: pred {tuple(pred.shape)} != target {tuple(target.shape)}"
        )
    loss = torch.sqrt((pred - target) ** 2 + eps * eps)
    return loss.mean() if _check_reduction(reduction) == "mean" else loss.sum()


class CharbonnierLoss(nn.Module):
    """Module form of :func:`charbonnier_loss`."""

    def __init__(self, eps: float = 1e-3, reduction: str = "mean") -> None:
        super().__init__()
        self.eps = eps
        self.reduction = _check_reduction(reduction)

    @override
    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return charbonnier_loss(pred, target, self.eps, self.reduction)


class L1Loss(nn.L1Loss):
    """torch's L1 loss; ``reduction="sum"`` reproduces the summed losses of Caffe-era papers."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__(reduction=_check_reduction(reduction))


class MSELoss(nn.MSELoss):
    """torch's L2 (MSE) loss; ``reduction="sum"`` for the summed losses of Caffe-era papers."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__(reduction=_check_reduction(reduction))
