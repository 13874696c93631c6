"""What every srlab network declares about its inputs, so the framework can feed it.

A network is a plain ``nn.Module`` with keyword arguments. Besides ``forward`` it exposes:

- ``scale``: the upscaling factor it was built for (int). For a multi-scale network this is its
  default (main) scale, the one used when no scale is asked for.
- ``in_channels``: 1 for a network that sees the Y channel of BT.601 YCbCr (the Cb/Cr channels
  are upscaled by bicubic interpolation and merged back), 3 for RGB.
- ``pre_upsample``: True when the network takes the bicubic-upsampled LR image at HR size
  (SRCNN, VDSR, ...), False when it takes the LR image itself (ESPCN, EDSR, ...).
- ``border``: pixels lost on each side by unpadded ("valid") convolutions; the framework crops the
  target by this much when training and reflect-pads the input by this much at inference.
- ``supported_scales``: the scales the architecture can be built for (``None``: any integer >= 2).

Multi-scale contract
--------------------
One model that serves several scales (MDSR, CARN, CARN-M, VDSR, progressive LapSRN, ...)
declares, in addition:

- ``scales: tuple[int, ...]``: every scale this one model serves (its scale-specific branches,
  or the scales it was trained on for a scale-agnostic network). ``scale`` is one of them.
- ``forward(x, scale: int | None = None)``: ``scale`` picks the branch to run; ``None`` means the
  default ``self.scale``. A scale outside ``scales`` raises the ``ValueError`` of
  :func:`check_scale` (use :meth:`SRNet.resolve_scale`).

The framework reads these declarations in one place, the input rules
(:class:`srlab.core.rules.InputRules`; :func:`srlab.core.contract.is_multi_scale` detects a
network with a ``scales`` attribute), and only then passes ``scale=`` to ``forward``;
single-scale networks keep ``forward(x)``. The data module samples one scale per training batch
(``batch["scale"]``), the LightningModule feeds the network, makes the bicubic baseline and
computes metrics at that scale, and evaluation/inference report or run every scale of
``scales`` from one checkpoint. Pre-upsampling multi-scale networks get the input
bicubic-upsampled by the batch's scale.

A multi-scale network is built from a config with ``scale: ${data.scale}``: when the data set
lists several scales (``data.scale: [2, 3, 4]``) the network's ``scale`` argument is that list;
:func:`split_scales` turns it into ``(default scale, scales)``.

``SRNet`` only stores these; it adds no behaviour, so any module that carries the same attributes
works too.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

__all__ = ["SRNet", "check_scale", "split_scales"]


def check_scale(name: str, scale: object, supported: tuple[int, ...] | None) -> int:
    """Return ``scale`` (as a config gives it) as an int.

    Raises:
        ValueError: ``scale`` is not a positive integer, or not one of ``supported``.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        if isinstance(scale, Sequence) and not isinstance(scale, str):
            raise ValueError(
                f"{name} is a single-scale network: build one model per scale, got scales "
                f"{list(scale)!r}"
            )
        raise ValueError(f"{name}: scale must be a positive integer, got {scale!r}")
    if int(scale) != scale or scale < 1:
        raise ValueError(f"{name}: scale must be a positive integer, got {scale!r}")
    if supported is not None and int(scale) not in supported:
        raise ValueError(
            f"{name} supports scales {', '.join(f'x{s}' for s in supported)}, not x{scale}"
        )
    return int(scale)


def split_scales(
    name: str,
    scale: object,
    scales: Sequence[object] | None,
    supported: tuple[int, ...] | None,
) -> tuple[int, tuple[int, ...]]:
    """``(default scale, all scales)`` of a multi-scale network from its ``scale``/``scales``.

    ``scale`` may be one int or a list (``data.scale: [2, 3, 4]`` interpolated into the net
    config); ``scales`` defaults to that list (or to ``(scale,)``). The default scale is
    ``scale`` itself, or the first listed one. Every scale is checked against ``supported``
    and the default must be one of ``scales``.

    Raises:
        ValueError: an empty list, a bad scale, or a default scale outside ``scales``.
    """
    listed = isinstance(scale, Sequence) and not isinstance(scale, str)
    given: list[object] = list(scale) if isinstance(scale, Sequence) and listed else [scale]
    if not given:
        raise ValueError(f"{name}: empty list of scales")
    asked = [check_scale(name, s, supported) for s in given]
    all_scales = [check_scale(name, s, supported) for s in scales] if scales else list(asked)
    if not all_scales:
        raise ValueError(f"{name}: empty list of scales")
    missing = [s for s in asked if s not in all_scales]
    if missing:
        raise ValueError(
            f"{name} built for scales {', '.join(f'x{s}' for s in all_scales)} "
            f"cannot serve {', '.join(f'x{s}' for s in missing)}"
        )
    return asked[0], tuple(dict.fromkeys(all_scales))


class SRNet(nn.Module):
    """Base class that records the input contract of a super-resolution network.

    Args:
        scale: the upscaling factor (single-scale networks), or the default scale / list of
            scales (multi-scale networks, which pass ``scales`` too).
        in_channels: 1 (Y) or 3 (RGB).
        scales: only for multi-scale networks: every scale the model serves
            (see the module docstring); leaving it ``None`` builds a single-scale network.
    """

    pre_upsample: bool = False
    supported_scales: tuple[int, ...] | None = None
    #: the same weights serve any scale (pre-upsampling nets such as VDSR, DRRN): ``scales``
    #: defaults to the scale(s) given, so such a net is always multi-scale capable
    scale_agnostic: bool = False

    def __init__(
        self, scale: int | Sequence[int], in_channels: int, scales: Sequence[int] | None = None
    ) -> None:
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(
                f"{type(self).__name__}: in_channels must be 1 (Y) or 3 (RGB), got {in_channels}"
            )
        name = type(self).__name__
        if scales is None and self.scale_agnostic:
            scales = list(scale) if isinstance(scale, Sequence) else [scale]
        if scales is None:
            self.scale = check_scale(name, scale, self.supported_scales)
        else:
            self.scale, self.scales = split_scales(name, scale, scales, self.supported_scales)
        self.in_channels = in_channels
        self.border = 0

    def resolve_scale(self, scale: int | None) -> int:
        """The scale a multi-scale ``forward`` runs: ``scale`` (checked) or the default."""
        if scale is None:
            return self.scale
        scales = getattr(self, "scales", (self.scale,))
        if scale not in scales:
            raise ValueError(
                f"{type(self).__name__} serves scales {', '.join(f'x{s}' for s in scales)}, "
                f"not x{scale}"
            )
        return int(scale)
