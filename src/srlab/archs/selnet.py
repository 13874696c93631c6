"""SelNet (Choi & Kim, CVPRW 2017): a deep network with selection units."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn
from typing_extensions import override

from ..core.imresize import bicubic_upscale
from .base import SRNet

__all__ = ["SelNet", "SelectionUnit"]


class SelectionUnit(nn.Module):
    """Selection unit, SelNet's replacement of ReLU: ``x * sigmoid(Conv1x1(ReLU(x)))``.

    The selection module (ReLU, 1x1 conv, sigmoid) gates the identity path per pixel and
    channel.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, num_feat: int = 64) -> None:
        super().__init__()
        self.select = nn.Sequential(nn.ReLU(), nn.Conv2d(num_feat, num_feat, 1), nn.Sigmoid())

    @override
    def forward(self, x: Tensor) -> Tensor:
        return x * self.select(x)


class _SelResidualUnit(nn.Module):
    """``x + SU(Conv3x3(SU(Conv3x3(x))))``."""

    def __init__(self, num_feat: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(num_feat, num_feat, 3, padding=1), SelectionUnit(num_feat),
            nn.Conv2d(num_feat, num_feat, 3, padding=1), SelectionUnit(num_feat),
        )  # fmt: skip

    @override
    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SelNet(SRNet):
    """SelNet: residual units whose activations are selection units, plus the bicubic input.

    Conv3x3(C->F)+SU, U residual units of two Conv3x3+SU with identity skips, a sub-pixel
    upsampler (Conv3x3(F->F s^2), PixelShuffle(s), SU), Conv3x3(F->C), plus the
    bicubic-upsampled input.

    Every ReLU of a plain network becomes a selection unit. The network takes the LR image and
    adds the MATLAB-bicubic upsampled LR itself (torch only). Defaults: F=64 and U=10, i.e.
    22 3x3 convolutions (first, 20 in the units, last) besides the sub-pixel conv.

    Internals partly UNVERIFIED (there is no official code): the grouping of layers into
    residual units, the one-step F s^2 sub-pixel layer (inferred from comparison tables, not
    stated in the paper) and the colour space (Y here, as the paper's Set5/Set14 numbers).

    Parameter count (Y, F=64, U=10, weights and biases): 640 + 4,160 (head) + 10 x 82,176
    (units) + 36,928 s^2 (sub-pixel conv) + 4,160 + 577 = 831,297 + 36,928 s^2: x2 979,009,
    x3 1,163,649, x4 1,422,145. The paper's own count is not known to us.

    Args:
        scale: upscaling factor (x2, x3, x4; one model per scale).
        in_channels: 1 (Y) or 3.
        num_feat: F (64).
        num_unit: U, residual units (10).

    Shape:
        ``(B, C, H, W) -> (B, C, sH, sW)``.
    """

    #: constructor arguments renamed since checkpoints were written (old name -> new name)
    renamed_args: ClassVar[dict[str, str]] = {"num_units": "num_unit"}

    def __init__(
        self, scale: int = 4, in_channels: int = 1, num_feat: int = 64, num_unit: int = 10
    ) -> None:
        super().__init__(scale, in_channels)
        s = self.scale
        self.head = nn.Sequential(
            nn.Conv2d(in_channels, num_feat, 3, padding=1), SelectionUnit(num_feat)
        )
        self.body = nn.Sequential(*[_SelResidualUnit(num_feat) for _ in range(num_unit)])
        self.upsample = nn.Sequential(
            nn.Conv2d(num_feat, num_feat * s * s, 3, padding=1),
            nn.PixelShuffle(s),
            SelectionUnit(num_feat),
        )
        self.tail = nn.Conv2d(num_feat, in_channels, 3, padding=1)

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.tail(self.upsample(self.body(self.head(x)))) + bicubic_upscale(x, self.scale)
