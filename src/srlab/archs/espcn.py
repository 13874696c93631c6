"""ESPCN (Shi et al., CVPR 2016): efficient sub-pixel convolutional network (post-upsampling)."""

from __future__ import annotations

from torch import Tensor, nn
from typing_extensions import override

from .base import SRNet

__all__ = ["ESPCN"]


class ESPCN(SRNet):
    """ESPCN: Conv5x5(C->64)+tanh, Conv3x3(64->32)+tanh, Conv3x3(32->C*r^2), PixelShuffle(r).

    The last layer is linear as in the paper (the article's Keras code puts a sigmoid there; that
    is not the paper's model). Convolutions use 'same' padding; no skip connection, no mean shift.

    Parameter count for Y input: 64*(25+1) + 32*(64*9+1) + r^2*(32*9+1) = 20,128 + 289 r^2
    (x3: 22,729; x4: 24,752), counting weights and biases.

    Args:
        scale: upscaling factor r.
        in_channels: 1 (Y, the paper) or 3 (RGB).
        num_feat: channels of the first layer (64); the second has ``num_feat // 2``.
        activation: ``"tanh"`` (paper) or ``"relu"``.

    Shape:
        ``(B, C, H, W) -> (B, C, rH, rW)``.
    """

    def __init__(
        self, scale: int = 3, in_channels: int = 1, num_feat: int = 64, activation: str = "tanh"
    ) -> None:
        super().__init__(scale, in_channels)
        act: type[nn.Module] = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, num_feat, 5, padding=2),
            act(),
            nn.Conv2d(num_feat, num_feat // 2, 3, padding=1),
            act(),
            nn.Conv2d(num_feat // 2, in_channels * self.scale**2, 3, padding=1),
            nn.PixelShuffle(self.scale),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)
