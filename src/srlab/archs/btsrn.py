"""BTSRN (Fan et al., CVPRW 2017): balanced two-stage residual network."""

from __future__ import annotations

import math
from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor, nn
from typing_extensions import override

from ..core.imresize import bicubic_upscale
from .base import SRNet

__all__ = ["BTSRN", "PConvBlock"]


class PConvBlock(nn.Module):
    """Two-layer PConv residual block, pre-activated, no batch norm.

    Computes ``x + Conv3x3(LReLU(Conv1x1(LReLU(x))))``, the 1x1 projecting F ->
    ``num_proj_ch`` and the 3x3 mapping back to F (the authors' ``conv()`` in
    ``model_resnet_up.py``: ``{name}_proj`` then ``{name}_filt``, ``util.lrelu`` with leak 0.2
    before each).

    Module <-> TF variable: ``body.1`` = ``{name}_proj``, ``body.3`` = ``{name}_filt``.

    Shape:
        ``(B, F, H, W) -> (B, F, H, W)``.
    """

    def __init__(
        self, num_feat: int = 128, num_proj_ch: int = 64, negative_slope: float = 0.2
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.LeakyReLU(negative_slope),
            nn.Conv2d(num_feat, num_proj_ch, 1),
            nn.LeakyReLU(negative_slope, inplace=True),
            nn.Conv2d(num_proj_ch, num_feat, 3, padding=1),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class _NNDeconvUp(nn.Module):
    """Upsampling by ``factor``: nearest-neighbour upsampling plus a learned transposed conv.

    The nearest-neighbour upsampled features plus a ``factor x factor`` stride-``factor``
    transposed conv of their LReLU (the authors'
    ``resize_nearest_neighbor(x) + conv2d_transpose(lrelu(x), F, scale, strides=scale)``).
    """

    def __init__(self, num_feat: int, factor: int, negative_slope: float) -> None:
        super().__init__()
        self.factor = factor
        self.act = nn.LeakyReLU(negative_slope)
        self.deconv = nn.ConvTranspose2d(num_feat, num_feat, factor, stride=factor)

    @override
    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=self.factor, mode="nearest") + self.deconv(self.act(x))


class BTSRN(SRNet):
    """BTSRN, following the authors' released TensorFlow code, then the paper.

    The code is ``ychfan/sr_ntire2017``: ``model_resnet_up.py``, the default ``model_name`` of
    its ``train.py``; data pipeline ``data_residual.py`` + ``predict.py``.

    - Input centred (``x - 0.5``, as ``predict.py`` feeds it), Conv1x1(C->F) (``in``).
    - LR stage: 6 :class:`PConvBlock` (``lr_conv0..5``).
    - Upsampling: nearest-neighbour + transposed conv (kernel = stride = factor) of the
      LReLU'd features (``up``). x4 is two x2 steps with one PConv block between them
      (``up1``, ``up_conv``, ``up2``); x2 and x3 one step. Other powers of two chain x2 steps
      the same way.
    - HR stage: 4 PConv blocks (``hr_conv0..3``), then LReLU -> Conv1x1(F->C) (``out``).
    - Output = that residual + the bicubic upscale of the LR image (``data_residual``:
      ``residual = True``, ``hr_image += resize_func(lr_image)``); here MATLAB bicubic
      (:func:`srlab.core.imresize.bicubic_upscale`), the authors used
      ``scipy.misc.imresize(..., 'bicubic')`` on uint8.
    - LeakyReLU slope 0.2 (``util.lrelu``), no batch norm, F = 128, projection 64.

    Where srlab differs from the code: the authors' 3x3 convolutions are unpadded ("valid",
    the shortcut cropped by one pixel) and ``predict.py`` pads the LR image by 15 px
    (symmetric) and crops the output; here they are zero-padded ("same"), so the output keeps
    the ``scale * H`` contract without a border.

    Parameter count (RGB, weights and biases, F=128, projection 64): 512 (``in``) +
    82,112 per block + deconvs + 387 (``out``): x2 887,683 (10 blocks, one 2x2 deconv
    65,664); x3 969,603 (3x3 deconv 147,584); x4 1,035,459 (11 blocks, two 2x2 deconvs).
    The "410K" that survey tables list for BTSRN is not reproduced by the released code's
    widths (nor by any width pair of this structure with a natural value: F=64 with a 64-wide
    projection gives 427,779 at x2; the ten blocks alone are 410,880 at 64/64 and 411,200 at
    128/32); the paper text was not available to check where it comes from. Build the narrow
    variant with ``num_feat=64, num_proj_ch=64``.

    Module <-> TF variable: ``head`` = ``in``; ``lr_stage.i`` = ``lr_conv{i}``;
    ``upsamplers.j.deconv`` = ``up`` (x2/x3) or ``up1``/``up2`` (x4); ``mid_blocks.0`` =
    ``up_conv`` (x4); ``hr_stage.i`` = ``hr_conv{i}``; ``tail.1`` = ``out``. TF kernels are
    ``(kh, kw, in, out)`` (conv) and ``(kh, kw, out, in)`` (transposed conv).

    Args:
        scale: upscaling factor (x2, x3, x4; one model per scale).
        in_channels: 3 (RGB, NTIRE 2017) or 1.
        num_feat: F (128).
        num_proj_ch: width of the 1x1 projection in each block (64).
        num_lr_block: blocks of the LR stage (6).
        num_hr_block: blocks of the HR stage (4).
        negative_slope: of the LeakyReLUs (0.2).

    Shape:
        ``(B, C, H, W) -> (B, C, sH, sW)``.
    """

    #: constructor arguments renamed since checkpoints were written (old name -> new name)
    renamed_args: ClassVar[dict[str, str]] = {
        "proj_feat": "num_proj_ch",
        "num_lr_blocks": "num_lr_block",
        "num_hr_blocks": "num_hr_block",
    }

    def __init__(
        self,
        scale: int = 4,
        in_channels: int = 3,
        num_feat: int = 128,
        num_proj_ch: int = 64,
        num_lr_block: int = 6,
        num_hr_block: int = 4,
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__(scale, in_channels)
        s = self.scale
        factors = [2] * int(math.log2(s)) if s > 2 and s & (s - 1) == 0 else [s]
        self.head = nn.Conv2d(in_channels, num_feat, 1)

        def block() -> PConvBlock:
            return PConvBlock(num_feat, num_proj_ch, negative_slope)

        self.lr_stage = nn.Sequential(*[block() for _ in range(num_lr_block)])
        self.upsamplers = nn.ModuleList([_NNDeconvUp(num_feat, f, negative_slope) for f in factors])
        self.mid_blocks = nn.ModuleList([block() for _ in factors[1:]])
        self.hr_stage = nn.Sequential(*[block() for _ in range(num_hr_block)])
        self.tail = nn.Sequential(nn.LeakyReLU(negative_slope), nn.Conv2d(num_feat, in_channels, 1))

    @override
    def forward(self, x: Tensor) -> Tensor:
        feat = self.lr_stage(self.head(x - 0.5))
        for i, up in enumerate(self.upsamplers):
            if i:
                feat = self.mid_blocks[i - 1](feat)
            feat = up(feat)
        return self.tail(self.hr_stage(feat)) + bicubic_upscale(x, self.scale)
