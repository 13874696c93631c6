"""EnhanceNet (Sajjadi, Schölkopf, Hirsch, ICCV 2017).

A residual generator that adds its output to the bicubic-upscaled input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from typing_extensions import override

from ..core.imresize import bicubic_upscale
from .base import SRNet

__all__ = ["EnhanceNet"]

#: The RGB means EnhanceNet's released code subtracts, on a [0, 1] scale.
ENHANCENET_RGB_MEAN: tuple[float, float, float] = (0.47614917, 0.45001204, 0.40904046)


class EnhanceNet(SRNet):
    """EnhanceNet generator, as in the released code.

    Structure (all convolutions 3x3 with bias, no BN): the input minus the RGB means
    (0.476, 0.450, 0.409); Conv(C->64)+ReLU; ``num_block`` residual blocks (Conv-ReLU-Conv +
    identity, no global skip); ``log2(scale)`` x [nearest x2, Conv, ReLU]; Conv+ReLU; Conv(64->C);
    plus the bicubic-upscaled input. The network takes the LR image (``pre_upsample = False``)
    and computes the bicubic image itself with :func:`srlab.core.imresize.bicubic_upscale`
    (MATLAB-exact bicubic, so the residual is relative to the same baseline the framework
    reports).

    The loss decides the variant: ENet-E (MSE), -P (perceptual), -A (adversarial), -T (texture);
    ENet-PAT combines the last three.

    Parameter count (x4, RGB, 10 blocks, 64 features): 852,867 with biases (the paper gives none).

    Args:
        scale: 2, 4 (paper) or 8: ``log2(scale)`` nearest-neighbour x2 stages.
        in_channels: 3 (RGB, paper) or 1 (Y; the mean of the three RGB means is used).
        num_feat: feature channels (64).
        num_block: residual blocks (10).
        rgb_mean: means subtracted from the input (the released code's).

    Shape:
        ``(B, C, H, W) -> (B, C, sH, sW)``.
    """

    supported_scales = (2, 4, 8)
    mean: Tensor

    def __init__(
        self,
        scale: int = 4,
        in_channels: int = 3,
        num_feat: int = 64,
        num_block: int = 10,
        rgb_mean: Sequence[float] = ENHANCENET_RGB_MEAN,
    ) -> None:
        super().__init__(scale, in_channels)
        mean = list(rgb_mean) if in_channels == 3 else [sum(rgb_mean) / len(rgb_mean)]
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))

        def conv(cin: int, cout: int) -> nn.Conv2d:
            return nn.Conv2d(cin, cout, 3, padding=1)

        self.head = nn.Sequential(conv(in_channels, num_feat), nn.ReLU(inplace=True))
        self.body = nn.ModuleList(
            nn.Sequential(conv(num_feat, num_feat), nn.ReLU(inplace=True), conv(num_feat, num_feat))
            for _ in range(num_block)
        )
        up: list[nn.Module] = []
        for _ in range(int(math.log2(self.scale))):
            up += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                conv(num_feat, num_feat),
                nn.ReLU(inplace=True),
            ]
        self.upsample = nn.Sequential(*up)
        self.tail = nn.Sequential(
            conv(num_feat, num_feat), nn.ReLU(inplace=True), conv(num_feat, in_channels)
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        feat = self.head(x - self.mean.to(x.dtype))
        for block in self.body:
            feat = feat + block(feat)
        # bicubic(x - mean) + mean == bicubic(x): the weights sum to one
        return self.tail(self.upsample(feat)) + bicubic_upscale(x, self.scale)
