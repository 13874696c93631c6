"""ESRGAN's generator RRDBNet (Wang et al., ECCVW 2018): residual-in-residual dense blocks."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from typing_extensions import override

from .base import SRNet

__all__ = ["RRDBNet", "RRDB", "ResidualDenseBlock"]


class ResidualDenseBlock(nn.Module):
    """ESRGAN's residual dense block: five densely connected Conv3x3 and a scaled residual.

    The convolutions grow the features by ``num_grow_ch``, LeakyReLU(0.2) after conv1-4,
    output ``x + res_scale * conv5(...)``.

    The convolutions are initialised with He (Kaiming normal, fan-in) init scaled by ``init_scale``
    (0.1) and zero bias, as ESRGAN does to keep the deep residual stack stable at the start.

    Args:
        num_feat: channels in and out (64).
        num_grow_ch: channels added by each of conv1-4 (32).
        res_scale: residual scaling (0.2).
        init_scale: factor on the He initialisation (0.1).

    Shape:
        ``(B, F, H, W) -> (B, F, H, W)``.
    """

    def __init__(
        self,
        num_feat: int = 64,
        num_grow_ch: int = 32,
        res_scale: float = 0.2,
        init_scale: float = 0.1,
    ) -> None:
        super().__init__()
        self.res_scale = res_scale
        convs = [
            nn.Conv2d(num_feat + i * num_grow_ch, num_grow_ch if i < 4 else num_feat, 3, padding=1)
            for i in range(5)
        ]
        self.convs = nn.ModuleList(convs)
        self.act = nn.LeakyReLU(0.2, inplace=True)
        for conv in convs:
            nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in")
            with torch.no_grad():
                conv.weight.mul_(init_scale)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)

    @override
    def forward(self, x: Tensor) -> Tensor:
        feats = [x]
        for conv in self.convs[:4]:
            feats.append(self.act(conv(torch.cat(feats, 1))))
        return x + self.res_scale * self.convs[4](torch.cat(feats, 1))


class RRDB(nn.Module):
    """Residual-in-residual dense block: ``x + res_scale * RDB3(RDB2(RDB1(x)))``.

    Shape:
        ``(B, F, H, W) -> (B, F, H, W)``.
    """

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32, res_scale: float = 0.2) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.rdbs = nn.Sequential(
            *[ResidualDenseBlock(num_feat, num_grow_ch, res_scale) for _ in range(3)]
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        return x + self.res_scale * self.rdbs(x)


class RRDBNet(SRNet):
    """RRDBNet: ESRGAN's generator (the PSNR model RRDB_PSNR and the GAN model share it).

    Structure: Conv3x3(C->64); ``num_block`` RRDBs; Conv3x3; global skip from the first conv;
    ``log2(scale)`` x [nearest x2, Conv3x3, LeakyReLU(0.2)]; Conv3x3 + LeakyReLU(0.2);
    Conv3x3(64->C). No batch norm, no mean shift, RGB in [0, 1].

    x2/x8 are built with one/three nearest-neighbour stages. BasicSR's RRDBNet instead does x2
    (and x1) by pixel-unshuffling the input to x4 size, which the paper does not have.

    Parameter count (x4, RGB, 23 RRDB, 64 features, growth 32): 16,697,987 with biases
    (the paper: 16.7M).

    Args:
        scale: 2, 4 (paper) or 8.
        in_channels: 3 (RGB, paper) or 1.
        num_feat: feature channels (64).
        num_block: RRDBs (23).
        num_grow_ch: dense growth channels (32).
        res_scale: residual scaling inside the RDBs and RRDBs (0.2).

    Shape:
        ``(B, C, H, W) -> (B, C, sH, sW)``.
    """

    supported_scales = (2, 4, 8)

    def __init__(
        self,
        scale: int = 4,
        in_channels: int = 3,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
        res_scale: float = 0.2,
    ) -> None:
        super().__init__(scale, in_channels)
        self.conv_first = nn.Conv2d(in_channels, num_feat, 3, padding=1)
        self.body = nn.Sequential(
            *[RRDB(num_feat, num_grow_ch, res_scale) for _ in range(num_block)]
        )
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        up: list[nn.Module] = []
        for _ in range(int(math.log2(self.scale))):
            up += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(num_feat, num_feat, 3, padding=1),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        self.upsample = nn.Sequential(*up)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_last = nn.Conv2d(num_feat, in_channels, 3, padding=1)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    @override
    def forward(self, x: Tensor) -> Tensor:
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        return self.conv_last(self.act(self.conv_hr(self.upsample(feat))))
