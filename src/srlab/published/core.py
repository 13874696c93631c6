"""The shared machinery of the release importers.

What a reader returns, what a recogniser returns, the tensor ledger that proves every released
tensor was used exactly once, and the registry the dispatcher
(:func:`srlab.published.load_release`) walks.

Layout of the package (one owner per file):

- ``core.py``        this file: data classes, :class:`TensorLedger`, :func:`recogniser` registry.
- ``readers.py``     file formats -> :class:`RawRelease`: PyTorch ``.pt``/``.pth`` (safe,
                     ``weights_only=True``, wrapper keys unwrapped), ``.safetensors``.
- ``matconvnet.py``  MatConvNet ``.mat`` reader (scipy.io) + recognisers of MATLAB releases.
- ``caffe.py``       ``.caffemodel`` reader (protobuf, no Caffe) + recognisers of Caffe releases.
- ``torch_nets.py``  recognisers of PyTorch releases (EDSR-PyTorch, BasicSR, ESRGAN, CARN, ports).
- ``__init__.py``    :func:`load_release`: read, try every recogniser, one clear error otherwise.

A recogniser is a function ``(raw: RawRelease) -> Release | None`` registered with
``@recogniser("edsr", formats=("pytorch", "safetensors"))``. It returns ``None`` quickly when the
tensor names/shapes are not its architecture's, raises :class:`ReleaseError` (one sentence) when
they are but something is wrong (a missing or extra tensor, an impossible shape), and otherwise
returns the srlab network with the release's weights folded in (range/mean/filter-order
conversions applied once), so that the result is an ordinary srlab network working in [0, 1].
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import SRLabError

__all__ = [
    "RawRelease",
    "Release",
    "ReleaseError",
    "Recogniser",
    "TensorLedger",
    "recogniser",
    "RECOGNISERS",
    "scale_from_name",
]


class ReleaseError(SRLabError):
    """A release file that cannot be loaded: one sentence naming the file's problem."""


@dataclass
class RawRelease:
    """What a reader found in a file, before any architecture is recognised.

    Attributes:
        path: the file (for messages).
        format: ``"pytorch"``, ``"safetensors"``, ``"matconvnet"`` or ``"caffe"``.
        tensors: every numeric array of the file by its name in the file (wrapper prefixes such
            as ``params_ema.`` / ``module.`` already removed), as float32 CPU tensors in the
            file's own layout (no transposition applied yet).
        meta: format-specific extras a recogniser may need (e.g. MatConvNet layer list, Caffe
            layer types/order, the wrapper key that was unwrapped).
    """

    path: str
    format: str
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)

    def describe(self, limit: int = 4) -> str:
        """A short description for error messages: count and the first few names/shapes."""
        items = list(self.tensors.items())[:limit]
        shown = ", ".join(f"{k} {tuple(v.shape)}" for k, v in items)
        more = "..." if len(self.tensors) > limit else ""
        return f"{len(self.tensors)} tensors ({shown}{more})"


@dataclass
class Release:
    """A recognised release: an srlab network holding the release's weights.

    Attributes:
        net: the srlab network (eval mode), working in [0, 1], Y or RGB as the release was trained.
        spec: its network description ``{"_target_": "srlab.archs.<mod>.<Class>", **kwargs}``
            (what srlab checkpoints store, so that ``srlab-export``/``init_from`` can use it).
        name: what the file was recognised as, e.g. ``"LapSRN x4 (MatConvNet release)"``.
        arch: the registry key of the recogniser that matched, e.g. ``"lapsrn"``.
        notes: conversions applied (e.g. ``"[0,255] biases divided by 255"``), for the log.
    """

    net: nn.Module
    spec: dict[str, Any]
    name: str
    arch: str
    notes: list[str] = field(default_factory=list)


Recogniser = Callable[[RawRelease], "Release | None"]


@dataclass(frozen=True)
class _Entry:
    arch: str
    formats: tuple[str, ...]
    fn: Recogniser


#: every registered recogniser, in registration order (the dispatcher tries them in this order)
RECOGNISERS: list[_Entry] = []


def recogniser(arch: str, formats: Iterable[str]) -> Callable[[Recogniser], Recogniser]:
    """Decorator registering a recogniser of architecture ``arch`` for some file formats.

    Args:
        arch: the architecture's registry key (the name ``--net`` takes).
        formats: the :attr:`RawRelease.format` values the recogniser reads.

    Returns:
        a decorator that appends the function to :data:`RECOGNISERS` and returns it unchanged.
    """

    def register(fn: Recogniser) -> Recogniser:
        RECOGNISERS.append(_Entry(arch, tuple(formats), fn))
        return fn

    return register


class TensorLedger:
    """Hands out a release's tensors and proves each one was used exactly once.

    ``take(name)`` returns a tensor and marks it used (taking it twice raises);
    ``finish()`` raises :class:`ReleaseError` naming any tensor never taken, so that a file
    with extra (unknown) tensors is refused instead of silently half-loaded.
    """

    def __init__(self, raw: RawRelease) -> None:
        self.raw = raw
        self._left = dict(raw.tensors)
        self._used: set[str] = set()

    def has(self, name: str) -> bool:
        """Whether the release holds a tensor called ``name`` (taken or not)."""
        return name in self._left or name in self._used

    def take(self, name: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """Hand out the tensor ``name`` and mark it used.

        Args:
            name: the tensor's name in the release.
            shape: the shape it must have, checked when given.

        Returns:
            the tensor, as the reader stored it.

        Raises:
            ReleaseError: the tensor is missing, was already taken, or has another shape.
        """
        if name in self._used:
            raise ReleaseError(f"{self.raw.path}: tensor {name!r} would be used twice")
        if name not in self._left:
            raise ReleaseError(f"{self.raw.path}: expected tensor {name!r} is missing")
        t = self._left.pop(name)
        self._used.add(name)
        if shape is not None and tuple(t.shape) != tuple(shape):
            raise ReleaseError(
                f"{self.raw.path}: tensor {name!r} has shape {tuple(t.shape)}, "
                f"expected {tuple(shape)}"
            )
        return t

    def finish(self) -> None:
        """Check that every tensor of the release was taken.

        Raises:
            ReleaseError: some tensors were never taken (the message names the first six).
        """
        if self._left:
            names = ", ".join(list(self._left)[:6]) + ("..." if len(self._left) > 6 else "")
            raise ReleaseError(
                f"{self.raw.path}: {len(self._left)} tensor(s) of the file are not part of the "
                f"recognised architecture ({names})"
            )


def load_into(net: nn.Module, state: Mapping[str, torch.Tensor]) -> nn.Module:
    """``net.load_state_dict(state, strict=True)`` with shape checks turned into a ReleaseError."""
    try:
        net.load_state_dict(dict(state), strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise ReleaseError(
            f"weights do not fit {type(net).__name__}: {first[-1] if first else e}"
        ) from None
    return net.eval()


def scale_from_name(path: str | os.PathLike[str]) -> int | None:
    """The scale (2-8) a release's file name states, for releases whose weights do not fix it.

    ``x2.mat``, ``FSRCNN_x3.mat`` and ``carn_4x.pth`` state 2, 3 and 4; ``None`` when the name
    states none.

    Example:
        >>> [scale_from_name(n) for n in ("x2.mat", "FSRCNN_x3.mat", "carn_4x.pth", "edsr.pt")]
        [2, 3, 4, None]
    """
    name = Path(path).name.lower()
    m = re.search(r"(?:^|[^a-z0-9])x([2-8])(?![0-9])", name)
    m = m or re.search(r"(?<![0-9])([2-8])x(?:[^a-z0-9]|$)", name)
    return int(m.group(1)) if m else None
