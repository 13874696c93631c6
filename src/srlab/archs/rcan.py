"""RCAN (Zhang et al., ECCV 2018): residual channel attention network (residual in residual)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn
from typing_extensions import override

from .blocks import MeanShiftedResNet, default_conv

__all__ = ["RCAN", "RCAB", "ChannelAttention", "ResidualGroup"]


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation channel attention: ``x * sigmoid(W2 relu(W1 avgpool(x)))``.

    Args:
        num_feat: channels C.
        reduction: C / channels of the bottleneck (16: 64 -> 4 -> 64).

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, num_feat: int = 64, reduction: int = 16) -> None:
        super().__init__()
        if num_feat % reduction:
            raise ValueError(
                f"ChannelAttention: num_feat={num_feat} is not divisible by reduction={reduction}"
            )
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(num_feat, num_feat // reduction, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(num_feat // reduction, num_feat, 1),
            nn.Sigmoid(),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        return x * self.attention(x)


class RCAB(nn.Module):
    """Residual channel attention block: ``x + CA(conv(relu(conv(x))))``, no batch norm.

    No residual scaling: EDSR-PyTorch's RCAB takes ``res_scale`` but never applies it.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, num_feat: int = 64, reduction: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            default_conv(num_feat, num_feat, 3),
            nn.ReLU(inplace=True),
            default_conv(num_feat, num_feat, 3),
            ChannelAttention(num_feat, reduction),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResidualGroup(nn.Module):
    """``num_block`` RCABs, then Conv3x3, with a short skip: ``x + conv(RCABs(x))``."""

    def __init__(self, num_feat: int = 64, num_block: int = 20, reduction: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *[RCAB(num_feat, reduction) for _ in range(num_block)],
            default_conv(num_feat, num_feat, 3),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class RCAN(MeanShiftedResNet):
    """RCAN: residual groups of channel-attention blocks in EDSR's skeleton.

    Mean shift, head Conv3x3(C->F), G residual groups of B RCABs (each group: RCABs + Conv3x3 +
    short skip), Conv3x3, long skip from the head, sub-pixel upsampler without activation
    (EDSR's: x2/x3 one stage, x4/x8 stages of x2), tail Conv3x3(F->C), mean added back. One
    model per scale.

    Paper defaults: G=10 groups of B=20 RCABs, F=64, channel-attention reduction 16 (64->4->64).
    (BasicSR's ``RCAN`` class defaults to 16 blocks per group; only its option file sets 20.)

    Images are in [0, 1] here and the DIV2K mean is subtracted on that scale; the reference code
    works on [0, 255] (``rgb_range``), which is the same function class with rescaled biases.

    Parameter count (RGB, weights and biases): x2 15,444,643; x3 15,629,283; x4 15,592,355
    (paper: "about 16M"; 15.59M is the usual figure for the x4 model). The mean is a buffer.

    Args:
        scale: 2, 3, 4 or 8.
        in_channels: 3 (RGB, the paper) or 1.
        num_feat: F (64).
        num_group: G (10).
        num_block: B, RCABs per group (20).
        reduction: channel-attention reduction (16).
        rgb_mean: per-channel mean subtracted at the input (``None``: DIV2K).

    Shape:
        ``(B, C, H, W) -> (B, C, scale*H, scale*W)``.
    """

    supported_scales = (2, 3, 4, 8)

    def __init__(
        self,
        scale: int = 4,
        in_channels: int = 3,
        num_feat: int = 64,
        num_group: int = 10,
        num_block: int = 20,
        reduction: int = 16,
        rgb_mean: Sequence[float] | None = None,
    ) -> None:
        super().__init__(scale, in_channels)
        self.build(
            num_feat,
            [ResidualGroup(num_feat, num_block, reduction) for _ in range(num_group)],
            rgb_mean,
        )
