"""FSRCNN and FSRCNN-s (Dong, Loy, Tang, ECCV 2016): fast post-upsampling with a learned deconvolution."""

from __future__ import annotations

from torch import Tensor, nn

from .base import SRNet

__all__ = ["FSRCNN", "deconv_padding"]


def deconv_padding(kernel_size: int, scale: int) -> tuple[int, int]:
    """``(padding, output_padding)`` of a stride-``scale`` transposed convolution whose output is
    exactly ``scale`` times its input and whose kernel centre for LR pixel ``i`` lands on the
    centre of that pixel's ``scale x scale`` HR cell (``i*scale + (scale-1)/2``).

    For even scales the cell centre falls between two HR pixels; the kernel centre then sits on
    the pixel just before it (half a pixel off, which the learned kernel absorbs). The common
    port ``padding=4, output_padding=scale-1`` instead puts it on the cell's first pixel, up to
    1.5 px off at x4.
    """
    padding = (kernel_size - 1) // 2 - (scale - 1) // 2
    output_padding = 2 * padding - kernel_size + scale
    if padding < 0 or not 0 <= output_padding < scale:
        raise ValueError(f"a {kernel_size}x{kernel_size} deconvolution cannot upscale x{scale}")
    return padding, output_padding


class FSRCNN(SRNet):
    """FSRCNN(d, s, m): feature extraction Conv5x5(C->d), shrinking Conv1x1(d->s), m mapping
    Conv3x3(s->s), expanding Conv1x1(s->d), all followed by PReLU (one slope per channel), then a
    learned 9x9 deconvolution ConvTranspose(d->C, stride = scale). LR Y input, no skip, no
    batch norm. FSRCNN is d=56, s=12, m=4; FSRCNN-s is d=32, s=5, m=1 (``conf/model/net/fsrcnn_s``).

    In the paper the convolutions are shared across scales and only the deconvolution is per
    scale (train x3, then fine-tune for x2/x4). srlab builds one model per scale; since the
    deconvolution's weight shape does not depend on its stride, ``init_from=<x3 checkpoint>``
    starts an x2/x4 run from every x3 tensor, as the paper's fine-tuning does.

    Parameter count (Y): the paper counts weights only: FSRCNN 25d + sd + 9ms^2 + sd + 81d =
    12,464 and FSRCNN-s 3,937. With biases (d + s + ms + d + 1) and the PReLU slopes
    (d + s + ms + d) srlab's modules hold 12,809 (FSRCNN) and 4,086 (FSRCNN-s) parameters; the
    count is the same at every scale.

    Deconvolution alignment: see :func:`deconv_padding` (output exactly ``scale * H``, centred).
    Initialisation as in the paper: He (PReLU) for the convolutions, N(0, 0.001) for the
    deconvolution.

    Args:
        scale: upscaling factor (2, 3, 4 in the paper; any up to 9 works).
        in_channels: 1 (Y, the paper) or 3.
        d: LR feature dimension (56).
        s: shrunk dimension (12).
        m: mapping layers (4).
        deconv_kernel: deconvolution kernel size (9).

    Shape:
        ``(B, C, H, W) -> (B, C, scale*H, scale*W)``.
    """

    def __init__(
        self,
        scale: int = 3,
        in_channels: int = 1,
        d: int = 56,
        s: int = 12,
        m: int = 4,
        deconv_kernel: int = 9,
    ) -> None:
        super().__init__(scale, in_channels)
        padding, output_padding = deconv_padding(deconv_kernel, self.scale)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, d, 5, padding=2), nn.PReLU(d)]
        layers += [nn.Conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            layers += [nn.Conv2d(s, s, 3, padding=1), nn.PReLU(s)]
        layers += [nn.Conv2d(s, d, 1), nn.PReLU(d)]
        self.body = nn.Sequential(*layers)
        self.deconv = nn.ConvTranspose2d(
            d, in_channels, deconv_kernel, stride=self.scale, padding=padding,
            output_padding=output_padding,
        )
        for mod in self.body:
            if isinstance(mod, nn.Conv2d):
                # He initialisation for PReLU with its initial slope 0.25
                nn.init.kaiming_normal_(mod.weight, a=0.25, nonlinearity="leaky_relu")
                nn.init.zeros_(mod.bias)
        nn.init.normal_(self.deconv.weight, std=1e-3)
        nn.init.zeros_(self.deconv.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.deconv(self.body(x))
