"""LapSRN (Lai et al., CVPR 2017) and MS-LapSRN (Lai et al., TPAMI 2018).

Laplacian pyramid networks that predict the x2, x4, x8 images progressively, one pyramid level
per x2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from typing_extensions import override

from .base import SRNet

__all__ = ["LapSRN", "MSLapSRN", "bilinear_upsample_weight"]


def bilinear_upsample_weight(channels: int, kernel_size: int = 4) -> Tensor:
    """``(C, 1, k, k)`` bilinear weight of a grouped transposed convolution.

    The convolution upsamples by ``(k + 1) // 2`` with a bilinear kernel (the "bilinear"
    initialisation of FCN/LapSRN).

    Args:
        channels: C, the groups (one filter per channel).
        kernel_size: k (4: a x2 upsampler).

    Returns:
        the float32 weight, the same ``k x k`` filter for every channel.

    Example:
        >>> bilinear_upsample_weight(1, 4)[0, 0]
        tensor([[0.0625, 0.1875, 0.1875, 0.0625],
                [0.1875, 0.5625, 0.5625, 0.1875],
                [0.1875, 0.5625, 0.5625, 0.1875],
                [0.0625, 0.1875, 0.1875, 0.0625]])
    """
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = torch.arange(kernel_size, dtype=torch.float64)
    filt = 1 - (og - center).abs() / factor
    return (filt[:, None] * filt[None, :]).to(torch.float32).expand(channels, 1, -1, -1).clone()


def _pyramid_scales(name: str, scale: object) -> tuple[int, tuple[int, ...]]:
    """``(top scale, (2, 4, ..., top))`` for ``scale`` (one int, or a list: its maximum).

    ``scale`` is what a config gives (an int, a list, or anything a user wrote there), hence
    ``object``: it is checked here.
    """
    asked: list[Any] = (
        list(scale) if isinstance(scale, Sequence) and not isinstance(scale, str) else [scale]
    )
    if not asked:
        raise ValueError(f"{name}: empty list of scales")
    for s in asked:
        if isinstance(s, bool) or int(s) != s or int(s) not in (2, 4, 8):
            raise ValueError(
                f"{name} supports scales x2, x4, x8 (powers of two: one pyramid level per x2), "
                f"not {s!r}"
            )
    top = max(int(s) for s in asked)
    return top, tuple(2**k for k in range(1, int(math.log2(top)) + 1))


class _ImageUpsample(nn.ConvTranspose2d):
    """Image branch: a learnt x2 transposed conv, one bilinear-initialised filter per channel.

    A 4x4 stride-2 transposed conv, one filter per channel (groups = C), no bias, initialised
    bilinear and learnt (``(B, C, H, W) -> (B, C, 2H, 2W)``).
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, channels, 4, stride=2, padding=1, groups=channels, bias=False)
        with torch.no_grad():
            self.weight.copy_(bilinear_upsample_weight(channels, 4))


class _FeatureUpsample(nn.ConvTranspose2d):
    """Feature branch x2: a 3x3 stride-2 transposed conv cropped by [0, 1, 0, 1].

    As in the official MatConvNet model (the paper's text says 4x4):
    ``(B, F, H, W) -> (B, F, 2H, 2W)`` keeping the first 2H rows/cols of the full ``2H + 1``
    output.
    """

    def __init__(self, num_feat: int) -> None:
        super().__init__(num_feat, num_feat, 3, stride=2, padding=0)

    @override
    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]  # no output_size: the size is fixed
        return super().forward(x)[..., :-1, :-1]


class _PyramidNet(SRNet):
    """Shared contract of the two pyramids.

    ``scales`` = (2, 4, ..., built scale) and ``forward(x, scale)`` returns the list of levels
    up to ``scale``.
    """

    supported_scales = (2, 4, 8)

    def __init__(self, scale: int | Sequence[int], in_channels: int) -> None:
        top, pyramid = _pyramid_scales(type(self).__name__, scale)
        super().__init__(top, in_channels, scales=pyramid)
        self.num_levels = len(pyramid)

    def levels_for(self, scale: int | None) -> int:
        """How many pyramid levels produce ``scale`` (checked against ``scales``)."""
        return int(math.log2(self.resolve_scale(scale)))


class LapSRN(_PyramidNet):
    """LapSRN: feature-extraction and image-reconstruction branches, one level per x2.

    - Feature branch: Conv3x3(C->F)+LReLU(0.2); per level, d x [Conv3x3(F->F)+LReLU],
      a x2 transposed conv (F->F, 3x3 as in the official code) + LReLU, and a Conv3x3(F->C)
      that predicts the level's residual. The upsampled features feed the next level.
    - Image branch: per level, a 4x4 stride-2 transposed conv (bilinear init, learnt, no bias)
      of the previous level's image, plus the residual.

    Each level has its own weights (the CVPR model; :class:`MSLapSRN` shares them).
    ``forward(x, scale)`` returns ``[x2 image, x4 image, ...]`` up to ``scale`` (default: the
    built scale), so the last element is the x``scale`` output; one x8 model yields x2, x4, x8
    from one pass. Training supervises every level (``conf/loss/lapsrn.yaml``: Charbonnier on
    each level against the HR bicubic-downscaled to its size, equal weights). ``scales`` lists
    (2, 4, ...) up to the built scale (multi-scale contract of :mod:`srlab.archs.base`).

    Follows the authors' released MatConvNet model (``phoenix104104/LapSRN``,
    ``init_LapSRN_model.m`` and the layer lists stored in
    ``pretrained_models/LapSRN_x{2,4,8}.mat``), which agrees with the CVPR paper except for the
    3x3 (not 4x4) feature upsampler. Here the
    residual conv reads the LReLU'd upsampled features (``level{l}_residual`` reads
    ``level{l}_uprelu``), unlike :class:`MSLapSRN`. The released ``LapSRN_x8.mat`` has d = 5
    convolutions per level (x2/x4: d = 10): build it with ``num_layer=5``.

    Module <-> MatConvNet parameter (the release names its levels from the top down: srlab
    level ``i`` = 0, 1, ... is MatConvNet ``level{L-i}``, L = log2(scale)):
    ``conv_in.0`` = ``input_conv_f/b``; ``feature_levels.i.{2d-2}`` = ``level{L-i}_conv{d}_f/b``
    (d = 1..num_layer); ``feature_levels.i.{2 num_layer}`` = ``level{L-i}_upconv_f/b``;
    ``residual_levels.i`` = ``level{L-i}_residual_conv_f/b``; ``image_levels.i`` =
    ``level{L-i}_img_up_f``. MatConvNet conv filters are ``(kh, kw, in, out)``, transposed-conv
    filters ``(kh, kw, out, in)``: permute to PyTorch's ``(out, in, kh, kw)`` /
    ``(in, out, kh, kw)``; no spatial flip. Input: Y as MATLAB floats (``rgb2ycbcr`` of the
    double RGB image, values in [16, 235]/255).

    Parameter count (Y, F=64, d=10), weights only as the paper counts: 576 + 406,096 per level
    (10 x 36,864 + 36,864 + 576 + 16): x2 406,672, x4 812,768 (the paper's "812K"), x8
    1,218,864. With the biases (64 + 705 per level): x2 407,441, x4 814,242, x8 1,221,043
    (the released x2/x4 files hold 407,441 / 814,242; the released x8, d = 5, 667,123).

    Args:
        scale: 2, 4 or 8, the top level (a list: its maximum, e.g. ``data.scale: [2, 4, 8]``).
        in_channels: 1 (Y, the paper) or 3 (the image branch then upsamples each channel).
        num_feat: F (64).
        num_layer: d, convolutions per level (10).

    Shape:
        ``(B, C, H, W) -> [(B, C, 2H, 2W), (B, C, 4H, 4W), ...]``, ``log2(scale)`` tensors.
    """

    #: constructor arguments renamed since checkpoints were written (old name -> new name)
    renamed_args: ClassVar[dict[str, str]] = {"depth": "num_layer"}

    def __init__(
        self,
        scale: int | Sequence[int] = 4,
        in_channels: int = 1,
        num_feat: int = 64,
        num_layer: int = 10,
    ) -> None:
        super().__init__(scale, in_channels)
        if num_layer < 1:
            raise ValueError(f"LapSRN: num_layer must be >= 1, got {num_layer}")
        self.conv_in = nn.Sequential(
            nn.Conv2d(in_channels, num_feat, 3, padding=1), nn.LeakyReLU(0.2, inplace=True)
        )
        self.feature_levels = nn.ModuleList()
        self.residual_levels = nn.ModuleList()
        self.image_levels = nn.ModuleList()
        for _ in range(self.num_levels):
            layers: list[nn.Module] = []
            for _ in range(num_layer):
                layers += [
                    nn.Conv2d(num_feat, num_feat, 3, padding=1),
                    nn.LeakyReLU(0.2, inplace=True),
                ]
            layers += [_FeatureUpsample(num_feat), nn.LeakyReLU(0.2, inplace=True)]
            self.feature_levels.append(nn.Sequential(*layers))
            self.residual_levels.append(nn.Conv2d(num_feat, in_channels, 3, padding=1))
            self.image_levels.append(_ImageUpsample(in_channels))

    @override
    def forward(self, x: Tensor, scale: int | None = None) -> list[Tensor]:
        n = self.levels_for(scale)
        feat, img = self.conv_in(x), x
        outs = []
        for level in range(n):
            feat = self.feature_levels[level](feat)
            img = self.image_levels[level](img) + self.residual_levels[level](feat)
            outs.append(img)
        return outs


class MSLapSRN(_PyramidNet):
    """MS-LapSRN: LapSRN with one set of weights shared by all levels and recursive blocks.

    Follows the authors' released MatConvNet model first (``phoenix104104/LapSRN``,
    ``init_MSLapSRN_model.m`` and the DagNN layer list stored in
    ``pretrained_models/MSLapSRN_D5R8.mat``), then the TPAMI paper:

    - ``conv_in``: Conv3x3(C->F) on the LR image (``input_conv``), no activation after it.
    - Per level, the feature embedding: a recursive block of D pre-activated convolutions
      [LReLU(0.2) -> Conv3x3(F->F)] (``relu{d}``/``conv{d}``) applied R times with shared
      weights and a shared-source skip, ``h_r = h_0 + block(h_{r-1})`` (h_0 the level's input
      features; ``x{s}SR_level{l}_R{r}_output`` = ``conv5`` + the level input, ``opts.LRL = 'SS'``).
    - Feature upsampling: LReLU(0.2) -> x2 transposed conv 3x3 (``uprelu`` -> ``upconv``, crop
      [0 1 0 1]); its output (not activated) is the next level's input **and** the input of the
      residual conv: ``x{s}SR_level{l}_residual`` reads ``x{s}SR_level{l}_upconv`` directly,
      with no LReLU in between (unlike the CVPR :class:`LapSRN`, whose ``level{l}_residual``
      reads ``level{l}_uprelu``; the paper's figure does not show the difference).
    - Image branch: a 4x4 stride-2 bilinear-initialised transposed conv (``img_up``, crop 1,
      no bias), plus the residual.

    The embedding, both upsamplers and the residual conv are the same modules at every level
    (and the block the same at every recursion), so one model serves x2, x4 and x8; the paper
    trains it on the three scales with the multi-level Charbonnier loss. Interface as
    :class:`LapSRN` (``scales``, ``forward(x, scale)`` -> list of levels). The released models
    take Y as MATLAB floats (``rgb2ycbcr`` then ``single``/255, i.e. values in [16, 235]/255).

    Module <-> MatConvNet parameter (``MSLapSRN_D*R*.mat``, ``net.params``):
    ``conv_in`` = ``input_conv_f/b``; ``block.{2d-1}`` = ``conv{d}_f/b`` (d = 1..D; the even
    indices are the LReLUs); ``feature_upsample.1`` = ``upconv_f/b``; ``residual`` =
    ``residual_conv_f/b``; ``image_upsample`` = ``img_up_f`` (4x4). MatConvNet stores a conv
    filter as ``(kh, kw, in, out)`` and a transposed-conv filter as ``(kh, kw, out, in)``:
    permute to ``(out, in, kh, kw)`` and ``(in, out, kh, kw)`` respectively; no spatial flip.

    Parameter count (Y, F=64, D5R8), weights only as the paper counts:
    576 + 5 x 36,864 + 36,864 + 576 + 16 = 222,352 (paper: "222K"), whatever the scale;
    with the biases 222,801 (the released ``MSLapSRN_D5R8.mat`` holds exactly that many).

    Args:
        scale: 2, 4 or 8, the top level (a list: its maximum).
        in_channels: 1 (Y, the paper) or 3.
        num_feat: F (64).
        num_layer: D, convolutions in the recursive block (5).
        num_recursion: R, applications of the block (8).

    Shape:
        ``(B, C, H, W) -> [(B, C, 2H, 2W), ...]``, ``log2(scale)`` tensors.
    """

    #: constructor arguments renamed since checkpoints were written (old name -> new name)
    renamed_args: ClassVar[dict[str, str]] = {"depth": "num_layer", "recursions": "num_recursion"}

    def __init__(
        self,
        scale: int | Sequence[int] = 4,
        in_channels: int = 1,
        num_feat: int = 64,
        num_layer: int = 5,
        num_recursion: int = 8,
    ) -> None:
        super().__init__(scale, in_channels)
        if num_layer < 1 or num_recursion < 1:
            raise ValueError(
                "MSLapSRN: num_layer and num_recursion must be >= 1, "
                f"got D{num_layer}R{num_recursion}"
            )
        self.num_recursion = num_recursion
        self.conv_in = nn.Conv2d(in_channels, num_feat, 3, padding=1)
        layers: list[nn.Module] = []
        for _ in range(num_layer):
            layers += [nn.LeakyReLU(0.2), nn.Conv2d(num_feat, num_feat, 3, padding=1)]
        self.block = nn.Sequential(*layers)
        self.feature_upsample = nn.Sequential(nn.LeakyReLU(0.2), _FeatureUpsample(num_feat))
        # No activation before the residual conv: the release's ``residual`` reads ``upconv``.
        self.residual = nn.Conv2d(num_feat, in_channels, 3, padding=1)
        self.image_upsample = _ImageUpsample(in_channels)

    def embed(self, feat: Tensor) -> Tensor:
        """The recursive block applied R times with the shared-source skip."""
        h = feat
        for _ in range(self.num_recursion):
            h = feat + self.block(h)
        return h

    @override
    def forward(self, x: Tensor, scale: int | None = None) -> list[Tensor]:
        n = self.levels_for(scale)
        feat, img = self.conv_in(x), x
        outs = []
        for _ in range(n):
            feat = self.feature_upsample(self.embed(feat))
            img = self.image_upsample(img) + self.residual(feat)
            outs.append(img)
        return outs
