"""DRRN (Tai, Yang, Liu, CVPR 2017): deep recursive residual network (pre-upsampling)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from torch import Tensor, nn
from typing_extensions import override

from .base import SRNet

__all__ = ["DRRN", "RecursiveBlock"]


def _preact(channels: int) -> nn.Sequential:
    """BN -> Scale -> ReLU of Caffe (``BatchNorm2d`` with affine parameters, then ReLU)."""
    return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))


class RecursiveBlock(nn.Module):
    """One recursive block of DRRN: an entry conv, then U residual units with shared weights.

    A pre-activated entry conv, then U residual units that share their two convolutions.

    ``h_0 = conv_in(preact(x))``; ``h_u = h_0 + conv2(preact2_u(conv1(preact1_u(h_{u-1}))))``.
    The convolutions ``conv1``/``conv2`` are the same tensors in every unit; the batch-norm
    (BN + Scale) layers are separate per unit, as in the official prototxt. The skip of every
    unit comes from ``h_0`` (multi-path local residual learning), not from the previous unit.

    Shape:
        ``(B, C_in, H, W) -> (B, F, H, W)``.
    """

    def __init__(self, in_channels: int, num_feat: int, num_unit: int) -> None:
        super().__init__()
        self.pre_in = _preact(in_channels)
        self.conv_in = nn.Conv2d(in_channels, num_feat, 3, padding=1)
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.pre1 = nn.ModuleList([_preact(num_feat) for _ in range(num_unit)])
        self.pre2 = nn.ModuleList([_preact(num_feat) for _ in range(num_unit)])

    @override
    def forward(self, x: Tensor) -> Tensor:
        h0 = self.conv_in(self.pre_in(x))
        h = h0
        for pre1, pre2 in zip(self.pre1, self.pre2):
            h = h0 + self.conv2(pre2(self.conv1(pre1(h))))
        return h


class DRRN(SRNet):
    """DRRN BxUy: B recursive blocks of U residual units with shared weights.

    The blocks are followed by BN-ReLU-Conv3x3(F->C) and a global residual on the
    bicubic-upsampled input.

    Every convolution is pre-activated (BN -> Scale -> ReLU -> Conv), including the first one,
    which sees the raw input through a 1-channel BN + ReLU as in the official prototxt. Depth
    (1 + 2U) B + 1: B1U25 (the headline model) has 52 layers, B1U9 20. One model serves x2, x3 and
    x4 (the paper trains it on the three scales mixed); it follows the multi-scale contract of
    :mod:`srlab.archs.base` like VDSR (``forward(x, scale)`` checks the scale, otherwise unused).

    Parameter count (Y, F=128, B1U25): conv weights 1,152 + 2 * 147,456 + 1,152 = 297,216, the
    paper's "297K" (weights only, shared weights counted once). srlab also has the conv biases
    (385) and the per-unit BN/Scale affine parameters (13,058): 310,659 in all.

    MSRA init as in the paper; the paper's 0.1x learning rate on biases is not reproduced.

    Args:
        scale: default scale, or the list of scales (``data.scale``).
        in_channels: 1 (Y, the paper) or 3.
        num_feat: F (128).
        num_block: B (1).
        num_unit: U, residual units per block (25).
        scales: scales the model serves (``None``: those of ``scale``).

    Shape:
        ``(B, C, sH, sW) -> (B, C, sH, sW)`` (input already upsampled).
    """

    pre_upsample = True
    scale_agnostic = True
    #: constructor arguments renamed since checkpoints were written (old name -> new name)
    renamed_args: ClassVar[dict[str, str]] = {"num_blocks": "num_block", "num_units": "num_unit"}

    def __init__(
        self,
        scale: int | Sequence[int] = 3,
        in_channels: int = 1,
        num_feat: int = 128,
        num_block: int = 1,
        num_unit: int = 25,
        scales: Sequence[int] | None = None,
    ) -> None:
        super().__init__(scale, in_channels, scales=scales)
        if num_block < 1 or num_unit < 1:
            raise ValueError(
                f"DRRN: num_block and num_unit must be >= 1, got B{num_block}U{num_unit}"
            )
        self.blocks = nn.Sequential(
            *[
                RecursiveBlock(in_channels if b == 0 else num_feat, num_feat, num_unit)
                for b in range(num_block)
            ]
        )
        self.tail = nn.Sequential(_preact(num_feat), nn.Conv2d(num_feat, in_channels, 3, padding=1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    @override
    def forward(self, x: Tensor, scale: int | None = None) -> Tensor:
        self.resolve_scale(scale)
        return x + self.tail(self.blocks(x))
