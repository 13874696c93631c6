"""Reusing checkpoints: rebuild a model from a checkpoint alone, or initialise a new run's network
from another run's weights (e.g. x2 weights for an x4 run)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import SRLabError
from ..utils import build_from_spec
from .sr_module import SRModule

__all__ = ["read_checkpoint", "load_model", "load_net_weights", "net_state_dict"]


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint file on the CPU, with a clear error for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise SRLabError(f"checkpoint not found: {path}")
    try:
        # srlab's own checkpoints hold plain Python/OmegaConf objects besides tensors
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        raise SRLabError(f"cannot read checkpoint {path}: {e}") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise SRLabError(f"{path} is not a Lightning checkpoint (no state_dict)")
    return ckpt


def net_state_dict(ckpt: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The generator's weights from a module checkpoint (keys ``net.*``, prefix removed)."""
    return {k[4:]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> SRModule:
    """Rebuild an :class:`SRModule` (network + protocol, no loss/optimizer) from a checkpoint,
    in eval mode.

    Example:
        ``model = srlab.load_model("outputs/.../checkpoints/best.ckpt")``
    """
    ckpt = read_checkpoint(path)
    meta = ckpt.get("srlab") or {}
    spec = meta.get("net")
    if not spec:
        raise SRLabError(f"{path} has no srlab network description; was it written by srlab-train?")
    net = build_from_spec(spec)
    hp = ckpt.get("hyper_parameters", {})
    model = SRModule(
        net,
        net_spec=spec,
        crop_border=hp.get("crop_border"),
        metric_y_channel=hp.get("metric_y_channel", True),
    )
    model.net.load_state_dict(net_state_dict(ckpt))
    return model.to(map_location).eval()


def load_net_weights(net: nn.Module, path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Initialise ``net`` from the generator weights of a checkpoint, weights only.

    Tensors whose name or shape does not match (e.g. the x2 upsampler tail in an x4 network)
    are skipped with a warning. Returns ``(loaded, skipped)`` names.
    """
    source = net_state_dict(read_checkpoint(path))
    if not source:
        raise SRLabError(f"{path} holds no generator weights (no 'net.*' tensors)")
    target = net.state_dict()
    loaded, skipped = [], []
    new_state = {}
    for name, value in source.items():
        if name in target and target[name].shape == value.shape:
            new_state[name] = value
            loaded.append(name)
        else:
            skipped.append(name)
    missing = [n for n in target if n not in new_state]
    net.load_state_dict(new_state, strict=False)
    if not loaded:
        raise SRLabError(f"no tensor of {path} fits this network: is it the same architecture?")
    if skipped or missing:
        warnings.warn(
            f"init from {path}: loaded {len(loaded)} tensors; skipped {len(skipped)} that do not fit "
            f"({', '.join(skipped[:6])}{'...' if len(skipped) > 6 else ''}); "
            f"{len(missing)} left at their initial values ({', '.join(missing[:6])}{'...' if len(missing) > 6 else ''})",
            stacklevel=2,
        )
    return loaded, skipped
