"""VDSR (Kim, Lee, Lee, CVPR 2016): very deep residual network on the bicubic-upsampled input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from torch import Tensor, nn
from typing_extensions import override

from .base import SRNet

__all__ = ["VDSR"]


class VDSR(SRNet):
    """VDSR: ``x + body(x)``, ``body`` a plain stack of D 3x3 convolutions.

    The convolutions are C->F, (D-2) x F->F, F->C, with a ReLU after all but the last and zero
    padding; ``x`` is the bicubic-upsampled Y image (``pre_upsample = True``).

    The network itself is scale-agnostic: one model serves x2, x3 and x4 (the paper trains it on
    all three). It follows the multi-scale contract of :mod:`srlab.archs.base`: ``scales`` lists
    the scales it serves (the ones it is trained on; default: ``scale`` itself, or the list
    ``data.scale`` gives), and ``forward(x, scale)`` accepts a scale (checked, otherwise unused:
    the framework has already upsampled the input by it).

    Parameter count (Y, D=20, F=64): weights 576 + 18 * 36,864 + 576 = 664,704, the paper's
    "665K" (its table counts weights only); with the biases, which srlab keeps as in the
    original Caffe model, 665,921. (``twtygqyy/pytorch-vdsr`` drops every bias.)

    Training needs the paper's adjustable gradient clipping (each gradient element clipped to
    ``[-theta/lr, theta/lr]``); see ``conf/experiment/vdsr_x234.yaml``.

    Args:
        scale: default scale, or the list of scales (``data.scale``).
        in_channels: 1 (Y, the paper) or 3.
        num_feat: F, channels of the hidden layers (64).
        num_layer: D, convolution layers in all (20).
        scales: scales the model serves (``None``: those of ``scale``).

    Shape:
        ``(B, C, sH, sW) -> (B, C, sH, sW)`` (input already upsampled).
    """

    pre_upsample = True
    scale_agnostic = True
    #: constructor arguments renamed since checkpoints were written (old name -> new name)
    renamed_args: ClassVar[dict[str, str]] = {"num_layers": "num_layer"}

    def __init__(
        self,
        scale: int | Sequence[int] = 3,
        in_channels: int = 1,
        num_feat: int = 64,
        num_layer: int = 20,
        scales: Sequence[int] | None = None,
    ) -> None:
        super().__init__(scale, in_channels, scales=scales)
        if num_layer < 2:
            raise ValueError(f"VDSR: num_layer must be >= 2, got {num_layer}")
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, num_feat, 3, padding=1),
            nn.ReLU(inplace=True),
        ]
        for _ in range(num_layer - 2):
            layers += [nn.Conv2d(num_feat, num_feat, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(num_feat, in_channels, 3, padding=1))
        self.body = nn.Sequential(*layers)
        # He initialisation, as in the paper
        for m in self.body:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    @override
    def forward(self, x: Tensor, scale: int | None = None) -> Tensor:
        self.resolve_scale(scale)
        return x + self.body(x)
