"""FSRCNN and FSRCNN-s (Dong, Loy, Tang, ECCV 2016).

Fast post-upsampling with a learned deconvolution.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch.nn.functional as F
from torch import Tensor, nn
from typing_extensions import override

from .base import SRNet

__all__ = ["FSRCNN", "deconv_padding"]


def deconv_padding(kernel_size: int, scale: int, shift: int = 0) -> tuple[int, int]:
    """``(padding, output_padding)`` of FSRCNN's stride-``scale`` transposed convolution.

    The convolution is placed as the FSRCNN authors' MATLAB test code places it: output exactly
    ``scale`` times the input, the kernel centre for LR pixel ``i`` on HR pixel ``i * scale``
    (the first pixel of that LR pixel's ``scale x scale`` cell).

    The authors' ``deconv.m`` (called by their ``FSRCNN.m``) accumulates ``x(i) * filter`` at
    rows ``1 + (i-1) * stride ... + fsize - 1`` of a padded canvas and crops it from
    ``(fsize + 1) / 2 + stride * border`` (``border = 1`` replicated LR pixel on each side): in
    0-based terms HR pixel ``i * s + k - (fsize - 1) / 2`` gets ``x(i) * filter(k)``, i.e.
    ``padding = (k - 1) / 2``, ``output_padding = s - 1`` (also what the yjn870/FSRCNN-pytorch
    port uses).

    ``shift`` moves the kernel centre to HR pixel ``i * scale + shift`` (0 <= shift <=
    (scale - 1) / 2), still with an output of exactly ``scale * H``: the authors' released
    x3 weights are centred one pixel further (see :class:`FSRCNN`).

    Raises:
        ValueError: an even ``kernel_size``, one smaller than ``scale``, or ``shift`` outside
            ``[0, (scale - 1) / 2]``.
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"FSRCNN: the deconvolution kernel must be odd, got {kernel_size}")
    if kernel_size < scale:  # the kernels of neighbouring LR pixels would leave HR pixels unset
        raise ValueError(f"a {kernel_size}x{kernel_size} deconvolution cannot upscale x{scale}")
    if not 0 <= 2 * shift <= scale - 1:
        raise ValueError(
            f"FSRCNN: deconv_shift must lie in [0, (scale - 1) / 2] = [0, {(scale - 1) // 2}] "
            f"at x{scale}, got {shift}"
        )
    return (kernel_size - 1) // 2 - shift, scale - 1 - 2 * shift


class FSRCNN(SRNet):
    """FSRCNN(d, s, m): LR-size convolutions with PReLU, then a learned deconvolution.

    Feature extraction Conv5x5(C->d), shrinking Conv1x1(d->s), m mapping Conv3x3(s->s),
    expanding Conv1x1(s->d), all followed by PReLU (one slope per channel), then a learned 9x9
    deconvolution ConvTranspose(d->C, stride = scale). LR Y input, no skip, no batch norm.
    FSRCNN is d=56, s=12, m=4; FSRCNN-s is d=32, s=5, m=1 (``conf/model/net/fsrcnn_s``).
    The paper's d, s, m are the arguments ``num_feat``, ``num_shrink_ch`` and ``num_map_layer``.

    Sources, in order: the authors' released MATLAB test code (``FSRCNN.m`` and ``deconv.m`` of
    the project page's test package), the ECCV paper, the yjn870/FSRCNN-pytorch port.

    - Deconvolution placement (:func:`deconv_padding`): as the authors' ``deconv.m`` crops its
      output, the kernel centre for LR pixel ``i`` lands on HR pixel ``i * scale`` and the output
      is exactly ``scale * H``: ``padding = 4, output_padding = scale - 1`` for the 9x9 kernel,
      which is also the yjn870 port's. (srlab before issue 14 centred it on the middle of the
      ``scale x scale`` cell, ``i * scale + (scale - 1) // 2``: the same at x2, one pixel off the
      authors' code at x3 and x4.)
    - Measured with the authors' released weights (``x{2,3,4}.mat`` of the MATLAB test package,
      as redistributed in ``yaBorn/Super-resolution``, ``Model/FSRCNN/FSRCNN/``; Set5, Y,
      MATLAB bicubic LR, ``padding_mode="replicate"``): x2 37.00 dB and x4 30.70 dB with this
      placement (paper: 37.00 / 30.71; the old cell-centred placement gave 26.24 at x4). The x3
      file, however, reproduces the paper only with its kernel centred one pixel further,
      ``i * 3 + 1`` (33.16 dB, paper 33.16; 26.31 dB at ``i * 3``): build it with
      ``deconv_shift=1``. Its weights evidently carry a training alignment that ``deconv.m``
      does not undo; the default (``deconv_shift=0``) stays the authors' code. FSRCNN-s
      (``Model/FSRCNN/FSRCNN-s/``) behaves the same: 36.57 / 32.60 (x3 with ``deconv_shift=1``)
      / 30.11 dB (paper: 36.58 / 32.61 / 30.11).
    - Borders: ``padding_mode="replicate"`` computes what the authors' MATLAB test code
      computes: ``imfilter(..., 'same', 'replicate')`` for the convolutions and ``deconv.m``'s
      one replicated LR pixel around the input of the deconvolution (whose contributions reach
      the outermost HR pixels). ``padding_mode="zeros"`` (default, as srlab before issue 14 and
      the yjn870 port, whose weights it runs exactly) zero-pads instead. Inside the image both
      are the same function, but with the authors' released weights zeros cost 0.3-0.6 dB on
      Set5 (x2 36.41, x4 30.42 dB): run those with ``padding_mode="replicate"``.
    - The paper shares the convolutions across scales and has one deconvolution per scale
      (train x3, then fine-tune for x2/x4). srlab builds one model per scale; since the
      deconvolution's weight shape does not depend on its stride, ``init_from=<x3 checkpoint>``
      starts an x2/x4 run from every x3 tensor, as the paper's fine-tuning does.

    The released models have one PReLU slope per layer (``prelu_conv{l}`` is a scalar); srlab's
    PReLUs have one per channel: fill every channel with it.

    Module <-> the authors' MATLAB model (``weights_conv{l}``, ``biases_conv{l}``,
    ``prelu_conv{l}``, l = 1..m+4): ``body.{2(l-1)}`` is conv ``l`` and ``body.{2(l-1)+1}`` its
    PReLU (l = 1..m+3); ``deconv`` is ``weights_conv{m+4}``. Their filters are stored as
    ``(in, k*k, out)`` rows that ``FSRCNN.m`` turns into ``k x k`` with MATLAB's column-major
    ``reshape``, i.e. each row is the filter read column by column; the deconvolution's
    ``deconv.m`` adds ``x * filter`` unflipped (PyTorch's ``conv_transpose2d``).

    Parameter count (Y): the paper counts weights only: FSRCNN 25d + sd + 9ms^2 + sd + 81d =
    12,464 and FSRCNN-s 3,937. With biases (d + s + ms + d + 1) and the PReLU slopes
    (d + s + ms + d) srlab's modules hold 12,809 (FSRCNN) and 4,086 (FSRCNN-s) parameters; the
    count is the same at every scale.

    Initialisation as in the paper: He (PReLU) for the convolutions, N(0, 0.001) for the
    deconvolution.

    Args:
        scale: upscaling factor (2, 3, 4 in the paper; any up to ``deconv_kernel`` works).
        in_channels: 1 (Y, the paper) or 3.
        num_feat: d, the LR feature dimension (56).
        num_shrink_ch: s, the shrunk dimension (12).
        num_map_layer: m, the mapping layers (4).
        deconv_kernel: deconvolution kernel size (9, odd).
        padding_mode: ``"zeros"`` or ``"replicate"`` (the authors' MATLAB test code), see above.
        deconv_shift: HR pixels between ``i * scale`` and the kernel centre (0, the authors'
            code; 1 to run the released x3 weights, see above).

    Shape:
        ``(B, C, H, W) -> (B, C, scale*H, scale*W)``.
    """

    #: constructor arguments renamed since checkpoints were written (old name -> new name)
    renamed_args: ClassVar[dict[str, str]] = {
        "d": "num_feat",
        "s": "num_shrink_ch",
        "m": "num_map_layer",
    }

    def __init__(
        self,
        scale: int = 3,
        in_channels: int = 1,
        num_feat: int = 56,
        num_shrink_ch: int = 12,
        num_map_layer: int = 4,
        deconv_kernel: int = 9,
        padding_mode: Literal["zeros", "replicate"] = "zeros",
        deconv_shift: int = 0,
    ) -> None:
        super().__init__(scale, in_channels)
        if padding_mode not in ("zeros", "replicate"):
            raise ValueError(
                f"FSRCNN: padding_mode must be 'zeros' or 'replicate', got {padding_mode!r}"
            )
        self.padding_mode = padding_mode
        padding, output_padding = deconv_padding(deconv_kernel, self.scale, deconv_shift)
        d, s = num_feat, num_shrink_ch
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, d, 5, padding=2, padding_mode=padding_mode),
            nn.PReLU(d),
        ]
        layers += [nn.Conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(num_map_layer):
            layers += [nn.Conv2d(s, s, 3, padding=1, padding_mode=padding_mode), nn.PReLU(s)]
        layers += [nn.Conv2d(s, d, 1), nn.PReLU(d)]
        self.body = nn.Sequential(*layers)
        # replicate: deconv.m's one replicated LR pixel on each side (padded in forward), the
        # same placement, so the padding grows by one stride
        extra = self.scale if padding_mode == "replicate" else 0
        self.deconv = nn.ConvTranspose2d(
            d,
            in_channels,
            deconv_kernel,
            stride=self.scale,
            padding=padding + extra,
            output_padding=output_padding,
        )
        for mod in self.body:
            if isinstance(mod, nn.Conv2d):
                # He initialisation for PReLU with its initial slope 0.25
                nn.init.kaiming_normal_(mod.weight, a=0.25, nonlinearity="leaky_relu")
                if mod.bias is not None:
                    nn.init.zeros_(mod.bias)
        nn.init.normal_(self.deconv.weight, std=1e-3)
        if self.deconv.bias is not None:
            nn.init.zeros_(self.deconv.bias)

    @override
    def forward(self, x: Tensor) -> Tensor:
        feat = self.body(x)
        if self.padding_mode == "replicate":
            feat = F.pad(feat, (1, 1, 1, 1), mode="replicate")
        return self.deconv(feat)
