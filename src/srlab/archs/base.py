"""What every srlab network declares about its inputs, so the framework can feed it.

A network is a plain ``nn.Module`` with keyword arguments. Besides ``forward`` it exposes:

- ``scale``: the upscaling factor it was built for (int).
- ``in_channels``: 1 for a network that sees the Y channel of BT.601 YCbCr (the Cb/Cr channels
  are upscaled by bicubic interpolation and merged back), 3 for RGB.
- ``pre_upsample``: True when the network takes the bicubic-upsampled LR image at HR size
  (SRCNN, VDSR, ...), False when it takes the LR image itself (ESPCN, EDSR, ...).
- ``border``: pixels lost on each side by unpadded ("valid") convolutions; the framework crops the
  target by this much when training and reflect-pads the input by this much at inference.
- ``supported_scales``: the scales the architecture can be built for (``None``: any integer >= 2).

``SRNet`` only stores these; it adds no behaviour, so any module that carries the same attributes
works too.
"""

from __future__ import annotations

from torch import nn

__all__ = ["SRNet", "check_scale"]


def check_scale(name: str, scale: int, supported: tuple[int, ...] | None) -> int:
    """Return ``scale`` as an int, or raise a ``ValueError`` naming the supported scales."""
    if int(scale) != scale or scale < 1:
        raise ValueError(f"{name}: scale must be a positive integer, got {scale!r}")
    if supported is not None and int(scale) not in supported:
        raise ValueError(
            f"{name} supports scales {', '.join(f'x{s}' for s in supported)}, not x{scale}"
        )
    return int(scale)


class SRNet(nn.Module):
    """Base class that records the input contract of a super-resolution network."""

    pre_upsample: bool = False
    supported_scales: tuple[int, ...] | None = None

    def __init__(self, scale: int, in_channels: int) -> None:
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(
                f"{type(self).__name__}: in_channels must be 1 (Y) or 3 (RGB), got {in_channels}"
            )
        self.scale = check_scale(type(self).__name__, scale, self.supported_scales)
        self.in_channels = in_channels
        self.border = 0
