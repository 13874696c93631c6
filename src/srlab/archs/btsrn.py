"""BTSRN (Fan et al., CVPRW 2017): balanced two-stage residual network."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .base import SRNet

__all__ = ["BTSRN", "PConvBlock"]


class PConvBlock(nn.Module):
    """Two-layer PConv residual block: ``x + Conv3x3(ReLU(Conv1x1(ReLU(x))))``, no batch norm.

    The 1x1 convolution projects the F channels to ``proj_feat`` and the 3x3 convolution maps
    them back to F, both pre-activated by ReLU.

    Shape:
        ``(B, F, H, W) -> (B, F, H, W)``.
    """

    def __init__(self, num_feat: int = 64, proj_feat: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(num_feat, proj_feat, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(proj_feat, num_feat, 3, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class BTSRN(SRNet):
    """BTSRN: Conv3x3(C->F), LR stage of 6 PConv blocks, upsampling by the sum of
    nearest-neighbour upsampling and a transposed convolution, HR stage of 4 PConv blocks,
    ReLU -> Conv1x1(F->C). No batch norm.

    Depth 22 (head, 2 x 10 block convolutions, tail) with F=64. The LR stage does the heavy
    work at low resolution; the HR stage refines after upsampling (the "balance" of the title).
    The nearest-neighbour path is the skip of the upsampling; the transposed conv
    (kernel = stride = scale) learns the rest.

    Internals UNVERIFIED: the authors' TensorFlow repository (``ychfan/sr_ntire2017``) is
    exploratory (128 channels with a 32-channel projection, 5 + 5 blocks, batch norm in some
    variants) and not clearly the final model. srlab takes F=64 from the paper's summaries, the
    4:1 projection ratio, the pre-activated blocks and the kernel=stride deconvolution from that
    code, and RGB in/out (NTIRE 2017 was RGB).

    Parameter count (RGB, F=64, projection 16, weights and biases): 1,792 + 10 x 10,320 + 195
    + deconv (4,096 s^2 + 64): x2 121,635; x3 142,115; x4 170,787. The paper's count is not
    known to us.

    Args:
        scale: upscaling factor (x2, x3, x4; one model per scale).
        in_channels: 3 (RGB) or 1.
        num_feat: F (64).
        proj_feat: width of the 1x1 projection in each block (16).
        num_lr_blocks: blocks of the LR stage (6).
        num_hr_blocks: blocks of the HR stage (4).

    Shape:
        ``(B, C, H, W) -> (B, C, sH, sW)``.
    """

    def __init__(
        self,
        scale: int = 4,
        in_channels: int = 3,
        num_feat: int = 64,
        proj_feat: int = 16,
        num_lr_blocks: int = 6,
        num_hr_blocks: int = 4,
    ) -> None:
        super().__init__(scale, in_channels)
        s = self.scale
        self.head = nn.Conv2d(in_channels, num_feat, 3, padding=1)
        self.lr_stage = nn.Sequential(*[PConvBlock(num_feat, proj_feat) for _ in range(num_lr_blocks)])
        self.deconv = nn.ConvTranspose2d(num_feat, num_feat, s, stride=s)
        self.hr_stage = nn.Sequential(*[PConvBlock(num_feat, proj_feat) for _ in range(num_hr_blocks)])
        self.tail = nn.Sequential(nn.ReLU(), nn.Conv2d(num_feat, in_channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        feat = self.lr_stage(self.head(x))
        feat = F.interpolate(feat, scale_factor=self.scale, mode="nearest") + self.deconv(feat)
        return self.tail(self.hr_stage(feat))
