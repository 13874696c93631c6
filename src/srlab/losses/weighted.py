"""A loss as a weighted sum of named terms, built from config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn
from typing_extensions import override

__all__ = ["WeightedSum"]


class WeightedSum(nn.Module):
    """``total = sum_k weight_k * term_k(pred, target)``, returning the terms for logging.

    Args:
        terms: name -> loss module taking ``(pred, target)``.
        weights: name -> weight; a term without a weight gets 1.0. A weight for an unknown term
            is an error (it is almost always a typo in a config).

    Returns (forward):
        ``(total, {name: unweighted term value})``.

    Example:
        >>> from srlab.losses import L1Loss
        >>> loss = WeightedSum({"l1": L1Loss()}, {"l1": 2.0})
        >>> total, parts = loss(torch.ones(2), torch.zeros(2))
        >>> total.item(), parts["l1"].item()
        (2.0, 1.0)
    """

    def __init__(
        self, terms: Mapping[str, nn.Module], weights: Mapping[str, float] | None = None
    ) -> None:
        super().__init__()
        if not terms:
            raise ValueError("WeightedSum needs at least one loss term")
        weights = dict(weights or {})
        unknown = set(weights) - set(terms)
        if unknown:
            raise ValueError(
                "loss weights name terms that do not exist: "
                f"{sorted(unknown)} (terms: {sorted(terms)})"
            )
        self.terms = nn.ModuleDict(dict(terms))
        self.weights = {name: float(weights.get(name, 1.0)) for name in terms}

    @override
    def forward(self, pred: Any, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        # ``pred`` goes to every term as the network returned it: a tensor, or the list/dict of a
        # multi-output network, which only terms marked ``multi_output`` (DeepSupervision) take
        if not isinstance(pred, Tensor):
            plain = [n for n, t in self.terms.items() if not getattr(t, "multi_output", False)]
            if plain:
                raise TypeError(
                    f"the network returned a {type(pred).__name__} of predictions, but loss terms "
                    f"{plain} take one tensor; wrap them in srlab.losses.DeepSupervision "
                    "(see conf/loss/drcn.yaml)"
                )
        parts = {name: term(pred, target) for name, term in self.terms.items()}
        if len(parts) == 1:  # the common single-term loss: no stack/sum nodes in the graph
            ((name, value),) = parts.items()
            w = self.weights[name]
            return (value if w == 1.0 else w * value), parts
        total = torch.stack([self.weights[n] * v for n, v in parts.items()]).sum()
        return total, parts
