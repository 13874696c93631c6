"""Deep supervision: one loss term over all the predictions of a multi-output network.

Recursive networks (DRCN, CMSC) reconstruct an image after every recursion or stage and report
their learned ensemble last; progressive networks (LapSRN, MS-LapSRN) return one image per pyramid
level, smallest first. :class:`DeepSupervision` supervises each of them with a base loss (L2,
Charbonnier, ...) and a weight from the config, so the training loop stays generic: the network
returns a list (or a dict), the loss config says how each element counts, and the framework
reports ``final_output`` (the last element, or ``out["out"]``).

A prediction smaller than the target (a coarse pyramid level) is compared with the target
downscaled to its size by MATLAB-exact bicubic (:func:`srlab.core.imresize.imresize`), as
LapSRN builds its per-level ground truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from typing_extensions import override

from ..core.imresize import imresize

__all__ = ["DeepSupervision", "as_prediction_list"]


def as_prediction_list(pred: Any) -> tuple[list[str], list[Tensor]]:
    """``(names, tensors)`` of a network output: a tensor, a list/tuple, or a dict.

    List elements are named by their index (``"0"``, ``"1"``, ...), dict entries by their key.
    """
    if isinstance(pred, Tensor):
        return ["0"], [pred]
    if isinstance(pred, Mapping):
        return [str(k) for k in pred], list(pred.values())
    if isinstance(pred, Sequence):
        return [str(i) for i in range(len(pred))], list(pred)
    raise TypeError(
        f"expected a tensor, a list or a dict of predictions, got {type(pred).__name__}"
    )


class DeepSupervision(nn.Module):
    """``total = sum_k w_k * loss(pred_k, target_k)`` over the predictions of one network.

    Args:
        loss: the base loss, ``(pred, target) -> scalar`` (e.g. :class:`srlab.losses.MSELoss`).
        weights: one weight per prediction: a list in output order, or for dict outputs a
            mapping key -> weight (a key without a weight counts 1). ``None``: every prediction
            counts 1 (LapSRN: equal weights on all levels).
        alpha: recursive supervision instead of fixed weights (DRCN, CMSC):
            ``alpha / (n - 1)`` on each intermediate prediction and ``1 - alpha`` on the final
            one (the last list element, or ``"out"`` of a dict), i.e.
            ``alpha * mean_d loss(pred_d) + (1 - alpha) * loss(final)``. A callback
            (:class:`srlab.callbacks.LossWeightSchedule`) can change ``alpha`` during training.
        resize_target: compare a prediction smaller than the target with the target
            bicubic-downscaled to its size (progressive networks). ``False`` makes a size
            mismatch an error.

    Returns (forward):
        the weighted sum, a scalar tensor.

    Shape:
        - pred: a tensor ``(B, C, H_k, W_k)``, a list of them, or a dict of them; each
          ``(H, W)`` must divide the target's by the same integer factor.
        - target: ``(B, C, H, W)``.

    Example:
        >>> from srlab.losses import L1Loss
        >>> deep = DeepSupervision(L1Loss(), alpha=0.5)
        >>> target = torch.zeros(1, 1, 4, 4)
        >>> preds = [
        ...     torch.full_like(target, 2.0),
        ...     torch.full_like(target, 4.0),
        ...     torch.ones_like(target),
        ... ]
        >>> deep(preds, target).item()  # 0.5 * mean(2, 4) + 0.5 * 1
        2.0
    """

    #: tells :class:`srlab.losses.WeightedSum` that this term takes several predictions
    multi_output: bool = True

    def __init__(
        self,
        loss: nn.Module,
        weights: Sequence[float] | Mapping[str, float] | None = None,
        alpha: float | None = None,
        resize_target: bool = True,
    ) -> None:
        super().__init__()
        if weights is not None and alpha is not None:
            raise ValueError("DeepSupervision: give either weights or alpha, not both")
        self.loss = loss
        if isinstance(weights, Mapping):
            self.weights: list[float] | dict[str, float] | None = {
                str(k): float(v) for k, v in weights.items()
            }
        elif weights is not None:
            self.weights = [float(w) for w in weights]
        else:
            self.weights = None
        self._alpha: float | None = None
        self.alpha = alpha
        self.resize_target = resize_target

    @property
    def alpha(self) -> float | None:
        """Weight shared by the intermediate predictions (``None``: ``weights`` decide)."""
        return self._alpha

    @alpha.setter
    def alpha(self, value: float | None) -> None:
        if value is not None and not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"DeepSupervision: alpha must be in [0, 1], got {value}")
        self._alpha = None if value is None else float(value)

    def prediction_weights(self, names: list[str], is_dict: bool) -> list[float]:
        """The weight of each prediction, in output order."""
        n = len(names)
        if self._alpha is not None:
            final = names.index("out") if is_dict and "out" in names else n - 1
            if n == 1:
                return [1.0]
            return [1.0 - self._alpha if i == final else self._alpha / (n - 1) for i in range(n)]
        if self.weights is None:
            return [1.0] * n
        if isinstance(self.weights, dict):
            if not is_dict:
                raise ValueError(
                    "DeepSupervision: weights given by name, but the network returned a list"
                )
            unknown = set(self.weights) - set(names)
            if unknown:
                raise ValueError(
                    "DeepSupervision: weights name outputs that do not exist: "
                    f"{sorted(unknown)} (outputs: {names})"
                )
            return [self.weights.get(k, 1.0) for k in names]
        if len(self.weights) != n:
            raise ValueError(
                f"DeepSupervision: {len(self.weights)} weights for {n} predictions; "
                "give one weight per output"
            )
        return list(self.weights)

    def _target_like(
        self, pred: Tensor, target: Tensor, cache: dict[tuple[int, int], Tensor]
    ) -> Tensor:
        size = (int(pred.shape[-2]), int(pred.shape[-1]))
        if size == tuple(target.shape[-2:]):
            return target
        th, tw = int(target.shape[-2]), int(target.shape[-1])
        if not self.resize_target or th % size[0] or tw % size[1] or th // size[0] != tw // size[1]:
            raise ValueError(
                f"DeepSupervision: a prediction of size {size} cannot be compared with a target of "
                f"size {(th, tw)} (it must be the target's size, or smaller by one integer factor)"
            )
        if size not in cache:
            # the per-level ground truth is a fixed function of the target: no gradient needed
            with torch.no_grad():
                cache[size] = imresize(target, size=size)
        return cache[size]

    @override
    def forward(self, pred: Any, target: Tensor) -> Tensor:
        names, preds = as_prediction_list(pred)
        if not preds:
            raise ValueError("DeepSupervision: the network returned no predictions")
        weights = self.prediction_weights(names, isinstance(pred, Mapping))
        cache: dict[tuple[int, int], Tensor] = {}
        total = preds[0].new_zeros(())
        for w, p in zip(weights, preds):
            if w != 0.0:
                total = total + w * self.loss(p, self._target_like(p, target, cache))
        return total

    @override
    def extra_repr(self) -> str:
        if self._alpha is not None:
            return f"alpha={self._alpha:g}"
        return f"weights={self.weights}" if self.weights is not None else "weights=equal"
