"""Settings that pick themselves per device.

``device=auto`` (:func:`resolve_device`, the rule of ``srlab-eval`` and ``srlab-upscale``),
``trainer.precision=auto`` and ``model.channels_last=auto``.

Mixed precision and the NHWC memory format pay off on tensor-core GPUs and cost time on a CPU
(`bench/bench_train_step.py --options ...`, README "Speed options": on this project's 2-core CPU
bf16 autocast made the ESPCN step several times slower, channels_last slower too). ``auto``
turns them on where they help and leaves a CPU run in float32/NCHW, so one config serves both.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from .errors import SRLabError

log = logging.getLogger("srlab.speed")

__all__ = ["resolve_device", "resolve_precision", "resolve_channels_last", "uses_cuda"]

_GPU_ACCELERATORS = {"gpu", "cuda", "auto"}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The device a ``device`` setting names.

    ``"auto"``: the (current) CUDA GPU when there is one, else the CPU; any other name
    (``cpu``, ``cuda``, ``cuda:1``, ``mps``, ...) or :class:`torch.device`: that device.

    Raises:
        SRLabError: ``device`` names no device type PyTorch knows.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
        >>> resolve_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
        True
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise SRLabError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:1, ...") from None


def uses_cuda(accelerator: Any) -> bool:
    """Whether a Lightning ``accelerator`` setting will run on a CUDA GPU here."""
    acc = str(accelerator or "auto").lower()
    return acc in _GPU_ACCELERATORS and torch.cuda.is_available()


def resolve_precision(precision: Any, accelerator: Any = "auto") -> Any:
    """The Lightning precision a ``trainer.precision`` setting names.

    ``"auto"``: ``bf16-mixed`` on CUDA GPUs that support bfloat16 (Ampere and newer),
    ``16-mixed`` on older CUDA GPUs, ``32-true`` on the CPU. Anything else is returned as is;
    a mixed precision asked for on the CPU is kept but warned about (it is slower there).
    """
    p = str(precision)
    if p == "auto":
        if uses_cuda(accelerator):
            return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
        return "32-true"
    if p.endswith("-mixed") and not uses_cuda(accelerator):
        log.warning(
            "trainer.precision=%s on the CPU: autocast is usually slower than float32 there "
            "(README 'Speed options'); trainer.precision=auto picks float32 on a CPU",
            p,
        )
    return precision


def resolve_channels_last(channels_last: Any, device: torch.device | str) -> bool:
    """``"auto"``: the NHWC memory format on CUDA devices only; booleans are returned as is."""
    if isinstance(channels_last, str):
        if channels_last.lower() != "auto":
            raise ValueError(
                f"model.channels_last must be true, false or auto, got {channels_last!r}"
            )
        return torch.device(device).type == "cuda"
    return bool(channels_last)
