"""Reading the contract a network declares, and what it returns.

A network is a plain ``nn.Module`` that declares ``scale``, ``in_channels``, ``pre_upsample``,
``border`` and, when one model serves several scales, ``scales`` (the contract is written out,
for the authors of networks, in :mod:`srlab.archs.base`). The framework reads those
declarations here, never by naming an architecture.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["final_output", "is_multi_scale", "net_scales"]


def is_multi_scale(net: nn.Module) -> bool:
    """Whether ``net`` follows the multi-scale contract (``scales``, ``forward(x, scale=)``).

    Example:
        >>> net = nn.Identity()
        >>> net.scale = 2
        >>> is_multi_scale(net), net_scales(net)
        (False, (2,))
        >>> net.scales = (2, 3)
        >>> is_multi_scale(net), net_scales(net)
        (True, (2, 3))
    """
    return getattr(net, "scales", None) is not None


def net_scales(net: nn.Module) -> tuple[int, ...]:
    """Every scale ``net`` serves: its ``scales``, or ``(net.scale,)``."""
    scales: Any = getattr(net, "scales", None)
    if scales is None:
        scales = (getattr(net, "scale", None),)
    return tuple(int(s) for s in scales)


def final_output(out: Any) -> torch.Tensor:
    """The reported prediction of a network's output.

    Progressive and recursive networks list their intermediate predictions first, so this is
    the tensor itself, the last element of a list/tuple, or ``out["out"]``.

    Raises:
        TypeError: ``out`` is none of those.

    Example:
        >>> a, b = torch.zeros(1), torch.ones(1)
        >>> final_output([a, b]) is b, final_output({"out": a}) is a
        (True, True)
    """
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (list, tuple)):
        return final_output(out[-1])
    if isinstance(out, Mapping):
        return final_output(out["out"])
    raise TypeError(f"a network returned {type(out).__name__}; expected a tensor, list or dict")
