"""EDSR-baseline, EDSR and MDSR (Lim et al., CVPRW 2017): residual networks without batch norm."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn
from typing_extensions import override

from .base import SRNet
from .blocks import MeanShift, MeanShiftedResNet, ResidualBlockNoBN, Upsampler, default_conv

__all__ = ["EDSR", "MDSR"]


class EDSR(MeanShiftedResNet):
    """EDSR: residual blocks without batch norm, a global skip and a sub-pixel upsampler.

    Mean shift, head Conv3x3(C->F), B residual blocks (Conv-ReLU-Conv, no BN, branch scaled by
    ``res_scale``) + Conv3x3 with a global skip from the head, sub-pixel upsampler without
    activation (x2: Conv(F->4F)+PS2, x3: Conv(F->9F)+PS3, x4: two x2 stages), tail
    Conv3x3(F->C), mean added back. One model per scale.

    EDSR-baseline: B=16, F=64, res_scale=1. EDSR: B=32, F=256, res_scale=0.1.

    Images are in [0, 1] here and the DIV2K mean is subtracted on that scale (EDSR-PyTorch works
    on [0, 255] with the mean x255); the mean is a buffer, not a parameter.

    Parameter count (RGB, weights and biases, the convention of the paper's "1.5M / 43M"):
    baseline x2 1,369,859, x3 1,554,499, x4 1,517,571; EDSR x2 40,729,603, x3 43,680,003,
    x4 43,089,923 (paper: 43M for the x4 model; 40.7M is the x2 one).

    Args:
        scale: 2, 3 or 4.
        in_channels: 3 (RGB, the paper) or 1.
        num_feat: F (64 baseline, 256 EDSR).
        num_block: B (16 baseline, 32 EDSR).
        res_scale: residual scaling (1 baseline, 0.1 EDSR).
        rgb_mean: per-channel mean subtracted at the input (``None``: DIV2K).

    Shape:
        ``(B, C, H, W) -> (B, C, scale*H, scale*W)``.
    """

    supported_scales = (2, 3, 4)

    def __init__(
        self,
        scale: int = 2,
        in_channels: int = 3,
        num_feat: int = 64,
        num_block: int = 16,
        res_scale: float = 1.0,
        rgb_mean: Sequence[float] | None = None,
    ) -> None:
        super().__init__(scale, in_channels)
        self.build(
            num_feat,
            [ResidualBlockNoBN(num_feat, 3, res_scale) for _ in range(num_block)],
            rgb_mean,
        )


class MDSR(SRNet):
    """MDSR: one network for x2, x3 and x4 (multi-scale contract of :mod:`srlab.archs.base`).

    Shared head Conv3x3(C->F); per-scale pre-processing of two 5x5 residual blocks; shared body
    of B residual blocks + Conv3x3 with a global skip; per-scale sub-pixel upsampler; shared tail
    Conv3x3(F->C); DIV2K mean shift; no BN, ``res_scale`` 1. Only the requested scale's branches
    run, so a training batch of one scale updates the shared modules and that scale's branches.

    MDSR: B=80, F=64. MDSR-baseline: B=16.

    Parameter count (RGB, x2/x3/x4 branches, weights and biases): 7,953,987, the paper's "8.0M"
    (it counts the whole multi-scale model, every branch included); MDSR-baseline (B=16) 3,227,203.

    Args:
        scale: default scale, or the list of scales (``data.scale``).
        in_channels: 3 (RGB, the paper) or 1.
        num_feat: F (64).
        num_block: B (80; 16 for MDSR-baseline).
        res_scale: residual scaling of the body blocks (1).
        scales: the scales with their own branches (2, 3, 4).
        rgb_mean: per-channel mean subtracted at the input (``None``: DIV2K).

    Shape:
        ``(B, C, H, W) -> (B, C, s*H, s*W)`` for ``forward(x, scale=s)``.
    """

    supported_scales = (2, 3, 4)

    def __init__(
        self,
        scale: int | Sequence[int] = 2,
        in_channels: int = 3,
        num_feat: int = 64,
        num_block: int = 80,
        res_scale: float = 1.0,
        scales: Sequence[int] = (2, 3, 4),
        rgb_mean: Sequence[float] | None = None,
    ) -> None:
        super().__init__(scale, in_channels, scales=scales)
        self.sub_mean = MeanShift(rgb_mean, sign=-1, channels=in_channels)
        self.add_mean = MeanShift(rgb_mean, sign=1, channels=in_channels)
        self.head = default_conv(in_channels, num_feat, 3)
        self.pre_process = nn.ModuleDict(
            {
                f"x{s}": nn.Sequential(
                    ResidualBlockNoBN(num_feat, 5), ResidualBlockNoBN(num_feat, 5)
                )
                for s in self.scales
            }
        )
        self.body = nn.Sequential(
            *[ResidualBlockNoBN(num_feat, 3, res_scale) for _ in range(num_block)],
            default_conv(num_feat, num_feat, 3),
        )
        self.upsample = nn.ModuleDict({f"x{s}": Upsampler(s, num_feat) for s in self.scales})
        self.tail = default_conv(num_feat, in_channels, 3)

    @override
    def forward(self, x: Tensor, scale: int | None = None) -> Tensor:
        s = self.resolve_scale(scale)
        x = self.head(self.sub_mean(x))
        x = self.pre_process[f"x{s}"](x)
        x = x + self.body(x)
        return self.add_mean(self.tail(self.upsample[f"x{s}"](x)))
