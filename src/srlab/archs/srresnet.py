"""SRResNet (Ledig et al., CVPR 2017): the generator of SRGAN, trained alone with MSE first."""

from __future__ import annotations

import math

from torch import Tensor, nn
from typing_extensions import override

from .base import SRNet

__all__ = ["SRResNet", "ResidualBlockBN"]


class ResidualBlockBN(nn.Module):
    """SRResNet residual block: Conv3x3-BN-PReLU-Conv3x3-BN + identity.

    Args:
        num_feat: channels in and out.

    Shape:
        ``(B, F, H, W) -> (B, F, H, W)``.
    """

    def __init__(self, num_feat: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(num_feat, num_feat, 3, padding=1),
            nn.BatchNorm2d(num_feat),
            nn.PReLU(),
            nn.Conv2d(num_feat, num_feat, 3, padding=1),
            nn.BatchNorm2d(num_feat),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SRResNet(SRNet):
    """SRResNet, the paper's generator G (not BasicSR's ``MSRResNet``).

    Structure: Conv9x9(C->64)+PReLU; ``num_block`` residual blocks
    (Conv3x3-BN-PReLU-Conv3x3-BN + identity); Conv3x3-BN plus a global skip from the first conv;
    ``log2(scale)`` x [Conv3x3(64->256), PixelShuffle(2), PReLU]; Conv9x9(64->C), linear (no tanh,
    as in the paper; many ports add one). LR input and HR target in [0, 1] (the paper's HR range
    [-1, 1] is UNVERIFIED; srlab keeps one range for every network), no mean shift. Batch norm
    makes the output depend on ``train()``/``eval()``: evaluate in eval mode (the framework
    does).

    Differences from common ports, on purpose: BasicSR's ``MSRResNet`` drops BN, uses 3x3
    head/tail convolutions, LeakyReLU 0.1 and a bilinear global skip; that is another network.

    Convolutions keep their bias (the paper does not say otherwise; a bias before BN is
    redundant but harmless). PReLU has one shared slope per layer (PyTorch's default).

    Parameter count (x4, RGB, 16 blocks, 64 features): 1,549,462 with biases, BN affine
    parameters and PReLU slopes (the paper gives no count; "about 1.5M" is the usual figure).

    Args:
        scale: 2, 4 (paper) or 8: ``log2(scale)`` x2 sub-pixel stages.
        in_channels: 3 (RGB, paper) or 1.
        num_feat: feature channels (64).
        num_block: residual blocks (16).

    Shape:
        ``(B, C, H, W) -> (B, C, sH, sW)``.
    """

    supported_scales = (2, 4, 8)

    def __init__(
        self, scale: int = 4, in_channels: int = 3, num_feat: int = 64, num_block: int = 16
    ) -> None:
        super().__init__(scale, in_channels)
        self.head = nn.Sequential(nn.Conv2d(in_channels, num_feat, 9, padding=4), nn.PReLU())
        self.body = nn.Sequential(*[ResidualBlockBN(num_feat) for _ in range(num_block)])
        self.body_tail = nn.Sequential(
            nn.Conv2d(num_feat, num_feat, 3, padding=1), nn.BatchNorm2d(num_feat)
        )
        up: list[nn.Module] = []
        for _ in range(int(math.log2(self.scale))):
            up += [nn.Conv2d(num_feat, 4 * num_feat, 3, padding=1), nn.PixelShuffle(2), nn.PReLU()]
        self.upsample = nn.Sequential(*up)
        self.tail = nn.Conv2d(num_feat, in_channels, 9, padding=4)

    @override
    def forward(self, x: Tensor) -> Tensor:
        feat = self.head(x)
        feat = feat + self.body_tail(self.body(feat))
        return self.tail(self.upsample(feat))
