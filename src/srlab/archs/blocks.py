"""Building blocks shared by several architectures (torch only).

- :class:`MeanShift`: subtract / add back a per-channel RGB mean (EDSR, MDSR, CARN, RCAN, ...),
  kept as a registered buffer so it moves with the module and is saved in the ``state_dict``.
- :class:`Upsampler`: sub-pixel upsampler (conv to ``r^2`` times the channels + ``PixelShuffle``);
  x4 and other powers of two are built as repeated x2 stages, x3 as one x3 stage (EDSR).
- :class:`ResidualBlockNoBN`: conv-ReLU-conv without batch norm, residual scaled by ``res_scale``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from typing_extensions import override

from .base import SRNet

__all__ = [
    "DIV2K_RGB_MEAN",
    "MeanShift",
    "Upsampler",
    "ResidualBlockNoBN",
    "default_conv",
    "MeanShiftedResNet",
]

#: Mean of the DIV2K training images per RGB channel, on a [0, 1] scale (EDSR's value).
DIV2K_RGB_MEAN: tuple[float, float, float] = (0.4488, 0.4371, 0.4040)


def default_conv(in_ch: int, out_ch: int, kernel_size: int, bias: bool = True) -> nn.Conv2d:
    """A 'same'-padded convolution (odd ``kernel_size``)."""
    return nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=bias)


class MeanShift(nn.Module):
    """Subtract (``sign=-1``) or add back (``sign=+1``) a per-channel mean.

    Unlike EDSR's reference code (a frozen 1x1 conv whose weights sit among the parameters), the
    mean is a registered buffer: it is not a parameter (so it is not counted nor optimised) but it
    is saved and follows ``.to(device)``. For one-channel (Y) input the mean of the RGB values is
    used unless ``mean`` is given.

    Args:
        mean: per-channel mean on the [0, 1] scale (default: DIV2K RGB mean).
        sign: -1 to subtract, +1 to add.
        channels: 3 (RGB) or 1 (Y).

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``.
    """

    mean: Tensor

    def __init__(
        self, mean: Sequence[float] | None = None, sign: int = -1, channels: int = 3
    ) -> None:
        super().__init__()
        if sign not in (-1, 1):
            raise ValueError(f"MeanShift: sign must be -1 or +1, got {sign!r}")
        if mean is None:
            mean = DIV2K_RGB_MEAN if channels == 3 else (sum(DIV2K_RGB_MEAN) / 3,) * channels
        if len(mean) != channels:
            raise ValueError(
                f"MeanShift: {channels} channels need {channels} means, got {len(mean)}"
            )
        self.sign = sign
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))

    @override
    def forward(self, x: Tensor) -> Tensor:
        return x + self.sign * self.mean.to(x.dtype)

    @override
    def extra_repr(self) -> str:
        return f"sign={self.sign:+d}, mean={[round(v, 4) for v in self.mean.flatten().tolist()]}"


class Upsampler(nn.Sequential):
    """Sub-pixel upsampler: ``[Conv(n -> r^2 n) + PixelShuffle(r)]`` stages.

    Scales that are powers of two use ``log2(scale)`` x2 stages (x4 = two x2, as in EDSR/ESPCN
    practice); x3 uses one x3 stage. Other scales are refused.

    Args:
        scale: 2, 3 or a power of two.
        num_feat: channels in and out.
        kernel_size: kernel of the convolution before each shuffle (3).
        bias: convolution bias.
        groups: groups of the convolution (CARN-M uses grouped upsampling convs).
        act: optional activation module factory applied after each shuffle (``None``: linear).

    Shape:
        ``(B, n, H, W) -> (B, n, scale*H, scale*W)``.
    """

    def __init__(
        self,
        scale: int,
        num_feat: int,
        kernel_size: int = 3,
        bias: bool = True,
        groups: int = 1,
        act: type[nn.Module] | None = None,
    ) -> None:
        layers: list[nn.Module] = []
        if scale >= 2 and (scale & (scale - 1)) == 0:
            stages = [2] * int(math.log2(scale))
        elif scale == 3:
            stages = [3]
        else:
            raise ValueError(f"Upsampler supports x3 and powers of two, not x{scale}")
        for r in stages:
            layers.append(
                nn.Conv2d(
                    num_feat,
                    r * r * num_feat,
                    kernel_size,
                    padding=kernel_size // 2,
                    bias=bias,
                    groups=groups,
                )
            )
            layers.append(nn.PixelShuffle(r))
            if act is not None:
                layers.append(act())
        super().__init__(*layers)
        self.scale = scale


class ResidualBlockNoBN(nn.Module):
    """EDSR residual block: ``x + res_scale * conv(relu(conv(x)))``, no batch norm.

    Args:
        num_feat: channels.
        kernel_size: convolution kernel (3; MDSR's scale-specific heads use 5).
        res_scale: multiplier of the residual branch (EDSR: 0.1, baseline: 1).
        bias: convolution bias.

    Shape:
        ``(B, n, H, W) -> (B, n, H, W)``.
    """

    def __init__(
        self, num_feat: int = 64, kernel_size: int = 3, res_scale: float = 1.0, bias: bool = True
    ) -> None:
        super().__init__()
        self.conv1 = default_conv(num_feat, num_feat, kernel_size, bias)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = default_conv(num_feat, num_feat, kernel_size, bias)
        self.res_scale = res_scale

    @override
    def forward(self, x: Tensor) -> Tensor:
        res = self.conv2(self.relu(self.conv1(x)))
        if self.res_scale != 1:
            res = res * self.res_scale
        return x + res

    @override
    def extra_repr(self) -> str:
        return f"res_scale={self.res_scale}"


class MeanShiftedResNet(SRNet):
    """EDSR's skeleton, shared by EDSR and RCAN.

    Subtract the RGB mean, head conv, a body of blocks closed by a conv with a long skip around
    it, sub-pixel upsampler, tail conv, add the mean back. Subclasses call :meth:`build` with
    their blocks; the module names (``sub_mean``, ``head``, ``body``, ``upsample``, ``tail``,
    ``add_mean``) are those of the reference code's state dicts.
    """

    def build(
        self, num_feat: int, blocks: Sequence[nn.Module], rgb_mean: Sequence[float] | None
    ) -> None:
        """Create the modules of the skeleton (called once, from the subclass's constructor).

        Args:
            num_feat: feature channels F of the head, body and upsampler.
            blocks: the body's blocks, in order (the closing conv is appended here).
            rgb_mean: per-channel mean subtracted at the input (``None``: DIV2K).
        """
        c = self.in_channels
        self.sub_mean = MeanShift(rgb_mean, sign=-1, channels=c)
        self.add_mean = MeanShift(rgb_mean, sign=1, channels=c)
        self.head = default_conv(c, num_feat, 3)
        self.body = nn.Sequential(*blocks, default_conv(num_feat, num_feat, 3))
        self.upsample = Upsampler(self.scale, num_feat)
        self.tail = default_conv(num_feat, c, 3)

    @override
    def forward(self, x: Tensor) -> Tensor:
        feat = self.head(self.sub_mean(x))
        feat = feat + self.body(feat)
        return self.add_mean(self.tail(self.upsample(feat)))
