"""Model size: parameters and multiply-accumulates (MACs) of a network for a 1280x720 output.

The one MAC counter of srlab (``srlab-zoo``, the run info that ``srlab-train`` logs, the
``model_size`` that ``srlab-eval`` records in ``metrics.json`` and ``srlab-report`` plots all
use it). The network runs **on the meta device** under PyTorch's own
:class:`torch.utils.flop_counter.FlopCounterMode`, which counts from the tensor shapes alone: no
weight is allocated and nothing is computed, so a 720p pass of EDSR costs a fraction of a second.

Conventions (those of the lightweight-SR tables, e.g. CARN's):

- ``params``: every parameter of the model as built for that scale, shared ones once; a
  multi-scale network (MDSR, CARN, ...) counts all its scale branches, as its paper does.
- ``macs``: multiply-accumulates = FLOPs / 2 of the convolutions and matrix products that
  produce a **1280x720 output** (the HR image): a post-upsampling network gets a
  ``1280/s x 720/s`` LR input, a pre-upsampling one (``pre_upsample``) the 1280x720 image itself
  (plus its ``border``). A transposed convolution is counted as torch counts it:
  ``Cin * Cout * k^2`` per **input** pixel (FSRCNN's own convention for its deconvolution).
  Pixel shuffle is a pure reshuffle (no arithmetic), and element-wise work (biases,
  activations, residual additions, mean shift) and the bicubic pre-upsampling are not counted.
- x3: 1280/3 is not an integer. The count is made at LR widths 426 and 427 (height 240) and
  interpolated linearly to 426.67, which is exact for networks whose cost is affine in the
  width (every convolutional one) and equals the paper figures (CARN x3: 118.8G).

Logged and recorded as ``{"params": N, "macs_720p_hr": {"x3": M}}`` (:func:`model_size`): the
key says the input size the count is for (a 1280x720 HR output).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .core.rules import InputRules
from .errors import SRLabError
from .utils import build_from_spec

__all__ = [
    "OUT_W",
    "OUT_H",
    "MACS_KEY",
    "UnsupportedScale",
    "count_net",
    "count_module",
    "model_size",
]

OUT_W, OUT_H = 1280, 720
#: the key of the per-scale MAC counts in :func:`model_size` (MACs per 1280x720 HR output)
MACS_KEY = "macs_720p_hr"


class UnsupportedScale(ValueError):
    """The network does not serve this scale, or the output size is not a multiple of it."""


def _build_meta(spec: Mapping[str, Any]) -> nn.Module:
    try:
        with torch.device("meta"):
            return build_from_spec(spec)
    except (ValueError, SRLabError):  # a refused scale; a spec naming no srlab network
        raise
    except Exception:  # noqa: BLE001 - some constructors need real tensors: build, then move
        return build_from_spec(spec).to("meta")


def _flops(
    net: nn.Module, scale: int, h: int, w: int, state: dict[str, torch.Tensor] | None
) -> int:
    rules = InputRules.of(net)
    x = torch.empty(1, 1 if rules.y_channel else 3, h, w, device="meta")
    kwargs = rules.net_kwargs(scale)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        if state is None:
            net(x, **kwargs)
        else:  # a built network: its weights swapped for meta stand-ins for this call only
            torch.func.functional_call(net, state, (x,), kwargs)
    return int(counter.get_total_flops())


def _count(
    net: nn.Module, scale: int, out_w: int, out_h: int, state: dict[str, torch.Tensor] | None
) -> int:
    # the network's input for this output, as the input rules make it at inference
    h, w = InputRules.of(net).input_size(out_h, out_w, scale)
    if not h.is_integer():
        raise UnsupportedScale(f"the output height {out_h} is not a multiple of x{scale}")
    if w.is_integer():
        flops2: float = _flops(net, scale, int(h), int(w), state)
    else:  # affine in the width: interpolate between the two integer widths
        lo, hi = math.floor(w), math.ceil(w)
        f_lo, f_hi = _flops(net, scale, int(h), lo, state), _flops(net, scale, int(h), hi, state)
        flops2 = f_lo + (w - lo) * (f_hi - f_lo)
    return round(flops2 / 2)


def count_net(
    spec: Mapping[str, Any], scale: int, out_w: int = OUT_W, out_h: int = OUT_H
) -> dict[str, int]:
    """``{"params", "macs"}`` of the network ``spec`` built for ``scale``.

    ``spec`` is ``{"_target_": ..., **kwargs}``, as a config or a checkpoint stores it; the
    MACs are for an ``out_w x out_h`` output.

    Raises:
        UnsupportedScale: the network refuses ``scale`` (its constructor raises ``ValueError``),
            or ``out_h`` is not a multiple of it.
    """
    try:
        net = _build_meta(spec)
    except ValueError as e:
        raise UnsupportedScale(str(e)) from None
    net.eval()
    params = sum(p.numel() for p in net.parameters())
    return {"params": int(params), "macs": _count(net, int(scale), out_w, out_h, None)}


def count_module(net: nn.Module, scale: int, out_w: int = OUT_W, out_h: int = OUT_H) -> int:
    """MACs of an already built network at ``scale`` for an ``out_w x out_h`` output.

    Counted on meta stand-ins of its weights (the network itself is neither copied nor run).
    """
    state = {
        n: torch.empty_like(t, device="meta")
        for n, t in (*net.named_parameters(), *net.named_buffers())
    }
    was_training = net.training
    net.eval()
    try:
        return _count(net, int(scale), out_w, out_h, state)
    finally:
        net.train(was_training)


def model_size(
    net: nn.Module, net_spec: Mapping[str, Any] | None = None, scales: Iterable[int] | None = None
) -> dict[str, Any]:
    """``{"params": N, "macs_720p_hr": {"x<s>": MACs, ...}}`` of ``net`` at ``scales``.

    ``scales`` defaults to every scale it serves. MACs are counted on a meta rebuild from
    ``net_spec`` when given (the numbers of ``srlab-zoo``), else on meta stand-ins of ``net``'s
    weights; a scale that cannot be counted (e.g. 720 is not a multiple of it) is left out.
    """
    params = sum(p.numel() for p in net.parameters())
    macs: dict[str, int] = {}
    for s in scales or InputRules.of(net).scales:
        s = int(s)
        try:
            if net_spec is not None:
                macs[f"x{s}"] = count_net(dict(net_spec), s)["macs"]
            else:
                macs[f"x{s}"] = count_module(net, s)
        except UnsupportedScale:
            continue
    return {"params": int(params), MACS_KEY: macs}
