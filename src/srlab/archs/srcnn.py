"""SRCNN (Dong et al., ECCV 2014 / TPAMI 2016): the first CNN for SR (pre-upsampling)."""

from __future__ import annotations

from torch import Tensor, nn
from typing_extensions import override

from .base import SRNet

__all__ = ["SRCNN"]


class SRCNN(SRNet):
    """SRCNN f1-f2-f3: Conv f1 (C->n1)+ReLU, Conv f2 (n1->n2)+ReLU, Conv f3 (n2->C), linear.

    The input is the bicubic-upsampled LR image (``pre_upsample = True``). 9-1-5 is the ECCV base
    model, 9-5-5 the TPAMI best one; ``kernel_sizes`` picks the variant.

    The paper's convolutions are unpadded (``padding="valid"``): the output is
    ``sum(k - 1)`` px smaller (12 px for 9-1-5) and the loss covers only the centre. srlab keeps
    that: with ``"valid"`` the network sets ``border`` and the framework crops the target when
    training and reflect-pads the input at inference so the output has the full size. Many
    ports use ``"same"`` padding instead, which changes the border pixels.

    Parameter count (Y, 9-1-5): 64*(81+1) + 32*(64+1) + 1*(32*25+1) = 8,129 (paper: 8,032,
    which counts weights only); 9-5-5: 57,281 with biases.

    Args:
        scale: upscaling factor (the network itself is scale-agnostic; one model per scale).
        in_channels: 1 (Y, the paper) or 3.
        kernel_sizes: (f1, f2, f3).
        channels: (n1, n2).
        padding: ``"valid"`` (paper) or ``"same"``.
    """

    pre_upsample = True

    def __init__(
        self,
        scale: int = 3,
        in_channels: int = 1,
        kernel_sizes: tuple[int, int, int] = (9, 1, 5),
        channels: tuple[int, int] = (64, 32),
        padding: str = "valid",
    ) -> None:
        super().__init__(scale, in_channels)
        if padding not in ("valid", "same"):
            raise ValueError(f"SRCNN: padding must be 'valid' or 'same', got {padding!r}")
        f1, f2, f3 = kernel_sizes
        n1, n2 = channels
        pad = (lambda k: k // 2) if padding == "same" else (lambda k: 0)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, n1, f1, padding=pad(f1)),
            nn.ReLU(inplace=True),
            nn.Conv2d(n1, n2, f2, padding=pad(f2)),
            nn.ReLU(inplace=True),
            nn.Conv2d(n2, in_channels, f3, padding=pad(f3)),
        )
        if padding == "valid":
            self.border = sum(k - 1 for k in kernel_sizes) // 2

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)
