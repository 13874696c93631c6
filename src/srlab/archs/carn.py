"""CARN and CARN-M (Ahn, Kang, Sohn, ECCV 2018): cascading residual networks, multi-scale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn
from typing_extensions import override

from .base import SRNet
from .blocks import MeanShift, Upsampler

__all__ = ["CARN", "CARNM", "CascadingBlock", "ResidualUnit", "EfficientResidualUnit"]


def _fuse(in_ch: int, out_ch: int) -> nn.Sequential:
    """The 1x1 convolution + ReLU that fuses a cascade's concatenated features."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1), nn.ReLU(inplace=True))


class ResidualUnit(nn.Module):
    """CARN's residual block: ``relu(x + conv(relu(conv(x))))`` (ReLU after the addition)."""

    def __init__(self, num_feat: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(num_feat, num_feat, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(num_feat, num_feat, 3, padding=1),
        )
        self.relu = nn.ReLU(inplace=True)

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.relu(x + self.body(x))


class EfficientResidualUnit(nn.Module):
    """CARN-M's residual-E block: GConv3x3 - ReLU - GConv3x3 - ReLU - Conv1x1, + x, ReLU."""

    def __init__(self, num_feat: int, groups: int = 4) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(num_feat, num_feat, 3, padding=1, groups=groups),
            nn.ReLU(inplace=True),
            nn.Conv2d(num_feat, num_feat, 3, padding=1, groups=groups),
            nn.ReLU(inplace=True),
            nn.Conv2d(num_feat, num_feat, 1),
        )
        self.relu = nn.ReLU(inplace=True)

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.relu(x + self.body(x))


class CascadingBlock(nn.Module):
    """CARN's cascading block: residual units whose outputs are concatenated and fused.

    Local cascading: unit ``i`` runs on the previous fusion's output; the block input and every
    unit output so far are concatenated and fused by Conv1x1 + ReLU ((i+2)F -> F); the last
    fusion is the block output.

    With ``shared=True`` (CARN-M) one unit is applied ``num_unit`` times (recursive, weights
    shared); the 1x1 fusions stay distinct. :meth:`unit` returns the module used at step ``i``.
    """

    def __init__(
        self,
        num_feat: int,
        num_unit: int = 3,
        efficient: bool = False,
        groups: int = 1,
        shared: bool = False,
    ) -> None:
        super().__init__()

        def make() -> nn.Module:
            return EfficientResidualUnit(num_feat, groups) if efficient else ResidualUnit(num_feat)

        self.num_unit = num_unit
        self.shared = shared
        self.units = nn.ModuleList([make()] if shared else [make() for _ in range(num_unit)])
        self.fusions = nn.ModuleList([_fuse((i + 2) * num_feat, num_feat) for i in range(num_unit)])

    def unit(self, i: int) -> nn.Module:
        """The residual unit applied at step ``i`` (the same module at every step if shared)."""
        return self.units[0 if self.shared else i]

    @override
    def forward(self, x: Tensor) -> Tensor:
        cascade, out = [x], x
        for i in range(self.num_unit):
            cascade.append(self.unit(i)(out))
            out = self.fusions[i](torch.cat(cascade, dim=1))
        return out


class CARN(SRNet):
    """CARN: one network for x2, x3 and x4 (multi-scale contract of :mod:`srlab.archs.base`).

    Mean shift (DIV2K mean, images in [0, 1]), entry Conv3x3(C->F), ``num_block`` cascading
    blocks joined by global cascading (concatenate the entry features and every block output so
    far, fuse with Conv1x1 + ReLU), a per-scale sub-pixel upsampler **with a ReLU after each
    convolution** (unlike EDSR), exit Conv3x3(F->C), mean added back. No skip from input to
    output. The paper's model is multi-scale: a shared body with three upsamplers, one random
    scale per training batch (a single-scale build, ``scales=[s]``, is a different model).

    Parameter count (RGB, F=64, x2/x3/x4 upsamplers, weights and biases): 1,591,939, the
    paper's "1,592K" (the whole multi-scale model).

    Args:
        scale: default scale, or the list of scales (``data.scale``).
        in_channels: 3 (RGB, the paper) or 1.
        num_feat: F (64).
        num_block: cascading blocks (3).
        num_unit: residual units per cascading block (3).
        scales: scales with their own upsampler (2, 3, 4).
        rgb_mean: per-channel mean subtracted at the input (``None``: DIV2K).

    Shape:
        ``(B, C, H, W) -> (B, C, s*H, s*W)`` for ``forward(x, scale=s)``.
    """

    supported_scales = (2, 3, 4)
    #: constructor arguments renamed since checkpoints were written (old name -> new name)
    renamed_args: ClassVar[dict[str, str]] = {"num_blocks": "num_block", "num_units": "num_unit"}
    _efficient = False
    _shared = False

    def __init__(
        self,
        scale: int | Sequence[int] = 2,
        in_channels: int = 3,
        num_feat: int = 64,
        num_block: int = 3,
        num_unit: int = 3,
        scales: Sequence[int] = (2, 3, 4),
        rgb_mean: Sequence[float] | None = None,
        groups: int = 1,
    ) -> None:
        super().__init__(scale, in_channels, scales=scales)
        self.sub_mean = MeanShift(rgb_mean, sign=-1, channels=in_channels)
        self.add_mean = MeanShift(rgb_mean, sign=1, channels=in_channels)
        self.entry = nn.Conv2d(in_channels, num_feat, 3, padding=1)
        self.blocks = nn.ModuleList(
            [
                CascadingBlock(num_feat, num_unit, self._efficient, groups, self._shared)
                for _ in range(num_block)
            ]
        )
        self.fusions = nn.ModuleList(
            [_fuse((i + 2) * num_feat, num_feat) for i in range(num_block)]
        )
        self.upsample = nn.ModuleDict(
            {f"x{s}": Upsampler(s, num_feat, groups=groups, act=nn.ReLU) for s in self.scales}
        )
        self.exit = nn.Conv2d(num_feat, in_channels, 3, padding=1)

    @override
    def forward(self, x: Tensor, scale: int | None = None) -> Tensor:
        s = self.resolve_scale(scale)
        out = self.entry(self.sub_mean(x))
        cascade = [out]
        for block, fuse in zip(self.blocks, self.fusions):
            cascade.append(block(out))
            out = fuse(torch.cat(cascade, dim=1))
        return self.add_mean(self.exit(self.upsample[f"x{s}"](out)))


class CARNM(CARN):
    """CARN-M, the mobile CARN: one shared efficient residual unit per cascading block.

    Each cascading block applies **one** efficient residual unit (residual-E: group
    convolutions, ``groups=4``) three times with shared weights (recursive); the upsamplers use
    group convolutions too. Otherwise as :class:`CARN`.

    Parameter count (RGB, F=64, x2/x3/x4 upsamplers): 414,787 with biases. The paper's "412K"
    is the weights alone (412,032), a different convention from its CARN figure (1,592K counts
    the biases; without them CARN has 1,588,608). Shared units are counted once.

    Args:
        groups: groups of the residual-E and upsampler convolutions (4).
        Others as :class:`CARN`.
    """

    _efficient = True
    _shared = True

    def __init__(
        self,
        scale: int | Sequence[int] = 2,
        in_channels: int = 3,
        num_feat: int = 64,
        num_block: int = 3,
        num_unit: int = 3,
        scales: Sequence[int] = (2, 3, 4),
        rgb_mean: Sequence[float] | None = None,
        groups: int = 4,
    ) -> None:
        super().__init__(
            scale, in_channels, num_feat, num_block, num_unit, scales, rgb_mean, groups
        )
