"""IDN (Hui, Wang, Gao, CVPR 2018): information distillation network."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import SRNet
from .enhancenet import bicubic_upsample

__all__ = ["IDN", "DBlock"]


class DBlock(nn.Module):
    """Information distillation block: an enhancement unit, then a 1x1 compression unit.

    Enhancement unit (F=64, d=16, slice s=4, LReLU after every conv):

    1. Conv3x3(F->F-d) -> Conv3x3(F-d->F-2d, groups 4) -> Conv3x3(F-2d->F): 64->48->32->64.
    2. Slice the F channels: the first F/s (16) are concatenated with the block input
       (F + F/s = 80 channels), the other F - F/s (48) go on.
    3. Conv3x3(48->F) -> Conv3x3(F->F-d, groups 4) -> Conv3x3(F-d->F+d): 48->64->48->80.
    4. Add the result to the concatenation.

    Compression unit: Conv1x1(F+d -> F), linear. Only the 2nd and 5th convs are grouped.

    Shape:
        ``(B, F, H, W) -> (B, F, H, W)``.
    """

    def __init__(self, num_feat: int = 64, d: int = 16, slice_ratio: int = 4, groups: int = 4, negative_slope: float = 0.05) -> None:
        super().__init__()
        f = num_feat
        if f % slice_ratio or f - f // slice_ratio != f - d or (f - 2 * d) % groups or (f - d) % groups:
            raise ValueError(
                f"DBlock: inconsistent widths num_feat={f}, d={d}, slice_ratio={slice_ratio}, groups={groups} "
                "(need num_feat / slice_ratio == d and the grouped widths divisible by groups)"
            )
        self.distilled = f // slice_ratio

        def act() -> nn.Module:
            return nn.LeakyReLU(negative_slope, inplace=True)

        self.upper = nn.Sequential(
            nn.Conv2d(f, f - d, 3, padding=1), act(),
            nn.Conv2d(f - d, f - 2 * d, 3, padding=1, groups=groups), act(),
            nn.Conv2d(f - 2 * d, f, 3, padding=1), act(),
        )  # fmt: skip
        self.lower = nn.Sequential(
            nn.Conv2d(f - self.distilled, f, 3, padding=1), act(),
            nn.Conv2d(f, f - d, 3, padding=1, groups=groups), act(),
            nn.Conv2d(f - d, f + d, 3, padding=1), act(),
        )  # fmt: skip
        self.compress = nn.Conv2d(f + d, f, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.upper(x)
        kept, rest = y[:, : self.distilled], y[:, self.distilled :]
        y = torch.cat([x, kept], dim=1) + self.lower(rest)
        return self.compress(y)


class IDN(SRNet):
    """IDN: FBlock (Conv3x3(C->F)+LReLU, Conv3x3(F->F)+LReLU), 4 DBlocks, RBlock (a 17x17
    transposed conv F->C with stride = scale), plus the bicubic-upsampled input.

    LeakyReLU slope 0.05 everywhere. The network takes the LR image (``pre_upsample = False``)
    and adds the MATLAB-bicubic upsampled LR itself (:func:`srlab.archs.enhancenet.bicubic_upsample`,
    torch only): the reference deploy prototxt has no global skip, its MATLAB test script adds
    it. The Caffe deconvolution gives ``(H - 1) s + 1`` px and the script drops the first
    ``s - 1`` rows/cols of the bicubic image to align them; here ``padding=8,
    output_padding=s-1`` gives exactly ``sH`` px aligned with the bicubic image (for training
    from scratch; ported Caffe weights would need the Caffe alignment).

    Parameter count (Y, F=64, any scale, the deconv does not depend on it): weights
    576 + 36,864 + 4 x 123,776 + 18,496 = 551,040; with the biases 552,769, which is the "553K"
    later papers list for IDN (weights and biases).

    Args:
        scale: upscaling factor (x2, x3, x4 in the paper; one model per scale).
        in_channels: 1 (Y, the paper) or 3.
        num_feat: F (64).
        num_blocks: DBlocks (4).
        d: width step of the enhancement unit (16).
        slice_ratio: s, the 1/s of the channels distilled to the concatenation (4).
        groups: groups of the 2nd and 5th convs (4).
        negative_slope: of the LeakyReLUs (0.05).

    Shape:
        ``(B, C, H, W) -> (B, C, sH, sW)``.
    """

    def __init__(
        self,
        scale: int = 3,
        in_channels: int = 1,
        num_feat: int = 64,
        num_blocks: int = 4,
        d: int = 16,
        slice_ratio: int = 4,
        groups: int = 4,
        negative_slope: float = 0.05,
    ) -> None:
        super().__init__(scale, in_channels)
        if self.scale > 16:
            raise ValueError(f"IDN: the 17x17 RBlock supports scales up to x16, not x{self.scale}")
        self.fblock = nn.Sequential(
            nn.Conv2d(in_channels, num_feat, 3, padding=1), nn.LeakyReLU(negative_slope, inplace=True),
            nn.Conv2d(num_feat, num_feat, 3, padding=1), nn.LeakyReLU(negative_slope, inplace=True),
        )  # fmt: skip
        self.dblocks = nn.Sequential(
            *[DBlock(num_feat, d, slice_ratio, groups, negative_slope) for _ in range(num_blocks)]
        )
        s = self.scale
        self.rblock = nn.ConvTranspose2d(num_feat, in_channels, 17, stride=s, padding=8, output_padding=s - 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.rblock(self.dblocks(self.fblock(x))) + bicubic_upsample(x, self.scale)
