"""IDN (Hui, Wang, Gao, CVPR 2018): information distillation network."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from typing_extensions import override

from ..core.imresize import bicubic_upscale
from .base import SRNet

__all__ = ["IDN", "DBlock", "CaffeDeconv"]


class DBlock(nn.Module):
    """Information distillation block: an enhancement unit, then a 1x1 compression unit.

    Enhancement unit (F=64, d=16 (``num_distill_ch``), slice s=4, LReLU after every conv):

    1. Conv3x3(F->F-d) -> Conv3x3(F-d->F-2d, groups 4) -> Conv3x3(F-2d->F): 64->48->32->64.
    2. Slice the F channels: the first F/s (16) are concatenated after the block input
       (``cat([input, first 16])``, F + F/s = 80 channels), the other F - F/s (48) go on.
    3. Conv3x3(48->F) -> Conv3x3(F->F-d, groups 4) -> Conv3x3(F-d->F+d): 48->64->48->80.
    4. Add the result to the concatenation.

    Compression unit: Conv1x1(F+d -> F) **followed by LReLU**, as in the authors' release
    (Caffe ``IDN_x*_deploy.prototxt``: ``down1`` is followed by ``relu_down1`` with
    ``negative_slope: 0.05``; TensorFlow ``model.py``: ``distill/i/conv7`` has
    ``activation=lrelu``). The paper's text does not mention that activation.
    Only the 2nd and 5th convs are grouped.

    Module <-> Caffe layer (block ``k`` = 0..3 is prototxt group ``k + 3``):
    ``upper.0/2/4`` = ``conv{k+3}_1/2/3``, ``lower.0/2/4`` = ``conv{k+3}_4/5/6``,
    ``compress.0`` = ``down{k+1}``.

    Shape:
        ``(B, F, H, W) -> (B, F, H, W)``.
    """

    def __init__(
        self,
        num_feat: int = 64,
        num_distill_ch: int = 16,
        slice_ratio: int = 4,
        groups: int = 4,
        negative_slope: float = 0.05,
    ) -> None:
        super().__init__()
        f, d = num_feat, num_distill_ch
        if (
            f % slice_ratio
            or f - f // slice_ratio != f - d
            or (f - 2 * d) % groups
            or (f - d) % groups
        ):
            raise ValueError(
                f"DBlock: inconsistent widths num_feat={f}, num_distill_ch={d}, "
                f"slice_ratio={slice_ratio}, groups={groups} (need num_feat / slice_ratio == "
                "num_distill_ch and the grouped widths divisible by groups)"
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
        self.compress = nn.Sequential(nn.Conv2d(f + d, f, 1), act())

    @override
    def forward(self, x: Tensor) -> Tensor:
        y = self.upper(x)
        kept, rest = y[:, : self.distilled], y[:, self.distilled :]
        y = torch.cat([x, kept], dim=1) + self.lower(rest)
        return self.compress(y)


class CaffeDeconv(nn.ConvTranspose2d):
    """A ``k x k`` stride-``s`` transposed convolution placed on the HR grid as IDN's release.

    ``k`` is odd, Caffe's ``pad = (k - 1) / 2``; the placement is the one of the IDN authors'
    MATLAB test script.

    Caffe's ``Deconvolution`` (kernel 17, stride s, pad 8) returns ``(H - 1) s + 1`` px whose
    pixel ``o`` is centred on LR pixel ``o / s``; ``test_IDN.m`` adds it to
    ``mycrop(im_b, s)`` = the bicubic image without its first ``s - 1`` rows/cols, so output
    pixel ``o`` sits at HR pixel ``o + s - 1``. Here the full transposed convolution
    (``(H - 1) s + k`` px, pixel ``o`` at ``o - (k - 1) / 2`` of Caffe's) is cropped by
    ``(k - 1) / 2 - (s - 1)`` rows/cols at the top/left and keeps ``sH`` rows, so HR pixel ``p``
    is Caffe's output pixel ``p - (s - 1)``: the same values at the same places, plus the first
    ``s - 1`` rows/cols that Caffe's blob does not cover (computed from the same kernel; the
    evaluation shave removes them). Weight and bias are Caffe's blobs unchanged
    (``(C_in, C_out, k, k)``, the same layout as ``nn.ConvTranspose2d``).

    Shape:
        ``(B, C_in, H, W) -> (B, C_out, sH, sW)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int) -> None:
        if kernel_size % 2 != 1:
            raise ValueError(f"CaffeDeconv: kernel_size must be odd, got {kernel_size}")
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0)
        self.lead = (kernel_size - 1) // 2 - (stride - 1)

    @override
    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]  # no output_size: the size is fixed
        h, w = x.shape[-2] * self.stride[0], x.shape[-1] * self.stride[1]
        y = super().forward(x)
        lead = self.lead
        if lead < 0:  # stride > (k + 1) / 2: the first rows/cols lie before the full output
            y = F.pad(y, (-lead, 0, -lead, 0))
            lead = 0
        y = y[..., lead : lead + h, lead : lead + w]
        if y.shape[-2] < h or y.shape[-1] < w:  # stride > k: pad the uncovered last rows/cols
            y = F.pad(y, (0, w - y.shape[-1], 0, h - y.shape[-2]))
        return y


class IDN(SRNet):
    """IDN, as the authors' released Caffe model computes it.

    Follows, in order of authority: the authors' Caffe release (``Zheng222/IDN-Caffe``,
    ``test/IDN_x{2,3,4}_deploy.prototxt`` and ``test/test_IDN.m``), then their TensorFlow
    re-implementation (``Zheng222/IDN-tensorflow``, ``model.py``), then the paper.

    - FBlock: Conv3x3(C->F)+LReLU, Conv3x3(F->F)+LReLU (``conv1``, ``conv2``).
    - 4 :class:`DBlock` (``conv3_*``..``conv6_*``, ``down1``..``down4``), each ending in a 1x1
      compression conv **+ LReLU(0.05)** (prototxt ``relu_down*``; also ``activation=lrelu``
      on ``conv7`` in the TF code; the paper does not mention it).
    - RBlock: a 17x17 transposed conv F->C, stride = scale (``upsample``: Caffe kernel 17,
      pad 8), placed as :class:`CaffeDeconv` documents: its pixel for LR pixel ``i`` is centred
      on HR pixel ``s i + s - 1``, exactly where the authors' ``test_IDN.m`` adds it
      (``im_result' + mycrop(im_b, up_scale)``, ``mycrop`` dropping the first ``s - 1``
      rows/cols of the bicubic image).
    - Plus the MATLAB-bicubic upscale of the LR input
      (:func:`srlab.core.imresize.bicubic_upscale`, torch only; ``imresize(im_l, s,
      'bicubic')`` in ``test_IDN.m``). The deploy prototxt has no global skip: the MATLAB
      script adds it. With the learned branch zeroed the output is exactly that bicubic image.

    The TF code differs from the Caffe release (RGB, and a conv + pixel-shuffle upsampler
    instead of the 17x17 deconvolution); the Caffe one is what the paper's numbers come from
    and what is followed here. LeakyReLU slope 0.05 everywhere. Input: Y in [0, 1]
    (``single(im)/255``).

    Module <-> Caffe layer: ``fblock.0`` = ``conv1``, ``fblock.2`` = ``conv2``,
    ``dblocks.k`` = block ``k`` (see :class:`DBlock`), ``rblock`` = ``upsample``.

    Parameter count (Y, F=64, any scale, the deconv does not depend on it): weights
    576 + 36,864 + 4 x 123,776 + 18,496 = 551,040; with the biases 552,769 ("553K").

    Args:
        scale: upscaling factor (x2, x3, x4 in the paper; one model per scale).
        in_channels: 1 (Y, the paper) or 3.
        num_feat: F (64).
        num_block: DBlocks (4).
        num_distill_ch: d, the channels each enhancement unit distils
            (``num_feat / slice_ratio``), also its width step (16).
        slice_ratio: s, the 1/s of the channels distilled to the concatenation (4).
        groups: groups of the 2nd and 5th convs (4).
        negative_slope: of the LeakyReLUs (0.05).

    Shape:
        ``(B, C, H, W) -> (B, C, sH, sW)``.
    """

    #: constructor arguments renamed since checkpoints were written (old name -> new name)
    renamed_args: ClassVar[dict[str, str]] = {"num_blocks": "num_block", "d": "num_distill_ch"}

    def __init__(
        self,
        scale: int = 3,
        in_channels: int = 1,
        num_feat: int = 64,
        num_block: int = 4,
        num_distill_ch: int = 16,
        slice_ratio: int = 4,
        groups: int = 4,
        negative_slope: float = 0.05,
    ) -> None:
        super().__init__(scale, in_channels)
        if self.scale > 16:
            raise ValueError(f"IDN: the 17x17 RBlock supports scales up to x16, not x{self.scale}")
        self.fblock = nn.Sequential(
            nn.Conv2d(in_channels, num_feat, 3, padding=1),
            nn.LeakyReLU(negative_slope, inplace=True),
            nn.Conv2d(num_feat, num_feat, 3, padding=1),
            nn.LeakyReLU(negative_slope, inplace=True),
        )
        self.dblocks = nn.Sequential(
            *[
                DBlock(num_feat, num_distill_ch, slice_ratio, groups, negative_slope)
                for _ in range(num_block)
            ]
        )
        self.rblock = CaffeDeconv(num_feat, in_channels, 17, self.scale)

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.rblock(self.dblocks(self.fblock(x))) + bicubic_upscale(x, self.scale)
