"""The input rules: how srlab feeds a network and turns its output into an RGB image.

A network declares its contract (``in_channels``, ``pre_upsample``, ``border``, ``scale``,
``scales``: :mod:`srlab.archs.base`); :class:`InputRules` reads it once and applies it
everywhere a network meets images, so training (``SRModule``, ``GANModule``), evaluation,
inference, export and MAC counting feed it alike:

- **colour**: a Y network (``in_channels=1``) sees the Y channel of MATLAB's BT.601 YCbCr; it is
  trained on Y, and its RGB output is the predicted Y merged with the bicubic-upscaled Cb/Cr
  (as the papers describe). An RGB network sees RGB.
- **pre-upsampling**: a ``pre_upsample`` network gets the LR image upscaled to HR size by
  MATLAB's bicubic (:func:`~srlab.core.imresize.bicubic_upscale`) first.
- **border**: a network with unpadded convolutions loses ``border`` pixels per side; it is
  trained against the centre of the target and gets a reflect-padded input at inference.
- **scales**: a multi-scale network (``scales``) is called with ``scale=`` (the scale of the
  batch or the one asked for), a single-scale network without, and only at its scale.

Everything here is torch only and traceable (the export runs :meth:`InputRules.super_resolve`
under ``torch.jit.trace`` and ``torch.onnx.export`` with symbolic sizes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import SRLabError
from .color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from .contract import final_output, is_multi_scale, net_scales
from .imresize import bicubic_upscale

__all__ = ["InputRules"]

# BT.601 studio swing on [0, 1]: Y = (16 + 219 * luma) / 255, so the RGB grey whose Y is g is
# (255 g - 16) / 219 on each channel (the colour maps are exact inverses, unclamped)
_Y_OFFSET, _Y_RANGE = 16.0 / 255.0, 219.0 / 255.0


@dataclass(frozen=True)
class InputRules:
    """The input rules of one network (see the module notes); build them with :meth:`of`.

    Args:
        name: the network's class name, for error messages.
        scale: its default scale.
        scales: every scale it serves (``(scale,)`` for a single-scale network).
        multi_scale: it follows the multi-scale contract (``forward(x, scale=)``).
        y_channel: it sees the BT.601 Y channel (``in_channels=1``), not RGB.
        pre_upsample: it takes the bicubic-upscaled LR image at HR size.
        border: pixels it loses on each side (unpadded convolutions).

    Example:
        >>> net = nn.Conv2d(1, 1, 3)  # stands for SRCNN: Y, pre-upsampled, 1 pixel lost per side
        >>> net.scale, net.in_channels, net.pre_upsample, net.border = 3, 1, True, 1
        >>> rules = InputRules.of(net)
        >>> x, ycbcr = rules.net_input(torch.rand(1, 3, 4, 5), pad_border=False)
        >>> tuple(x.shape), tuple(ycbcr.shape), tuple(rules.target(torch.rand(1, 3, 12, 15)).shape)
        ((1, 1, 12, 15), (1, 3, 4, 5), (1, 1, 10, 13))
        >>> tuple(rules.super_resolve(net, torch.rand(1, 3, 4, 5)).shape)  # padded at inference
        (1, 3, 12, 15)
    """

    name: str
    scale: int
    scales: tuple[int, ...]
    multi_scale: bool
    y_channel: bool
    pre_upsample: bool
    border: int

    @classmethod
    def of(cls, net: nn.Module) -> InputRules:
        """The rules of ``net``, read from its declared contract.

        Raises:
            SRLabError: ``net`` declares no ``scale`` or an ``in_channels`` other than 1 or 3.
        """
        name = type(net).__name__
        scale, in_channels = getattr(net, "scale", None), getattr(net, "in_channels", None)
        if scale is None or in_channels not in (1, 3):
            raise SRLabError(
                f"{name} does not declare the network contract (scale, and in_channels 1 or 3; "
                "see srlab.archs.base)"
            )
        return cls(
            name=name,
            scale=int(scale),
            scales=net_scales(net),
            multi_scale=is_multi_scale(net),
            y_channel=in_channels == 1,
            pre_upsample=bool(getattr(net, "pre_upsample", False)),
            border=int(getattr(net, "border", 0) or 0),
        )

    # ------------------------------------------------------------------ scales
    def check_scale(self, scale: int | None) -> int:
        """``scale`` (default: the network's) if the network serves it.

        Raises:
            SRLabError: the network does not serve ``scale`` (the message lists its scales).
        """
        if scale is None:
            return self.scale
        scale = int(scale)
        if scale not in self.scales:
            served = ", ".join(f"x{s}" for s in self.scales)
            raise SRLabError(f"the network ({self.name}) upscales {served}, not x{scale}")
        return scale

    def _at(self, scale: int | None) -> int:
        return self.scale if scale is None else int(scale)

    def net_kwargs(self, scale: int | None) -> dict[str, int]:
        """The keyword arguments of a call at ``scale``.

        ``scale=`` for a multi-scale network only (single-scale networks keep ``forward(x)``).
        """
        return {"scale": self._at(scale)} if self.multi_scale else {}

    def run(self, net: Callable[..., Any], x: Tensor, scale: int | None = None) -> Any:
        """Call ``net`` (the network, or a callable that stands for it) on its input ``x``."""
        return net(x, **self.net_kwargs(scale))

    # ------------------------------------------------------------------ images
    def net_input(
        self,
        lr: Tensor,
        scale: int | None = None,
        pad_border: bool = True,
        keep_chroma: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """RGB LR batch -> what the network eats at ``scale`` (default: the network's).

        Args:
            lr: ``(B, 3, h, w)`` RGB in [0, 1].
            scale: the scale (pre-upsampling factor).
            pad_border: reflect-pad by ``border`` (inference; training crops the target).
            keep_chroma: also return the YCbCr of ``lr`` for a Y network (what
                :meth:`to_rgb` merges); training needs the Y channel only.

        Returns:
            ``(x, ycbcr)``; ``ycbcr`` is ``None`` for an RGB network or ``keep_chroma=False``.
        """
        ycbcr = None
        x = lr
        if self.y_channel:
            if keep_chroma:
                ycbcr = rgb_to_ycbcr(lr)
                x = ycbcr[:, :1]
            else:
                x = rgb_to_y(lr)
        if self.pre_upsample:
            x = bicubic_upscale(x, self._at(scale))
        b = self.border
        if pad_border and b:
            x = F.pad(x, (b, b, b, b), mode="reflect")
        return x, ycbcr

    def target(self, hr: Tensor) -> Tensor:
        """RGB HR batch -> what the network's output is trained against.

        Y for a Y network, its centre for a network with a border.
        """
        t = rgb_to_y(hr) if self.y_channel else hr
        b = self.border
        return t[..., b:-b, b:-b] if b else t

    def training_pair(
        self, lr: Tensor, hr: Tensor, scale: int | None = None
    ) -> tuple[Tensor, Tensor]:
        """``(network input, target)`` of a training batch at ``scale``."""
        x, _ = self.net_input(lr, scale, pad_border=False, keep_chroma=False)
        return x, self.target(hr)

    def to_rgb(self, pred: Tensor, ycbcr: Tensor | None, scale: int | None = None) -> Tensor:
        """The network's prediction -> RGB.

        A Y network's Y gets the bicubic-upscaled Cb/Cr of the LR image (``ycbcr`` from
        :meth:`net_input`) merged back.
        """
        if ycbcr is None:
            return pred
        cbcr = bicubic_upscale(ycbcr[:, 1:], self._at(scale))
        return ycbcr_to_rgb(torch.cat([pred, cbcr], dim=1))

    def super_resolve(
        self, net: Callable[..., Any], lr: Tensor, scale: int | None = None
    ) -> Tensor:
        """RGB LR ``(B, 3, h, w)`` in [0, 1] -> RGB SR ``(B, 3, s*h, s*w)``, not clamped.

        Args:
            net: the network, or a callable that stands for it (called as the network is).
            lr: the LR batch.
            scale: the scale (default: the network's); checked with :meth:`check_scale`.
        """
        s = self.check_scale(scale)
        x, ycbcr = self.net_input(lr, s)
        return self.to_rgb(final_output(self.run(net, x, s)), ycbcr, s)

    def bicubic(self, lr: Tensor, scale: int | None = None) -> Tensor:
        """The bicubic baseline of ``lr`` at HR size (MATLAB ``imresize``), not clamped."""
        return bicubic_upscale(lr, self._at(scale))

    def input_size(self, hr_height: int, hr_width: int, scale: int) -> tuple[float, float]:
        """Height and width of the network's input (at inference) for an HR output.

        For ``hr_height x hr_width`` at ``scale``; fractional when the HR size is not a
        multiple of the scale and the network takes the LR image.
        """
        div = 1 if self.pre_upsample else scale
        return hr_height / div + 2 * self.border, hr_width / div + 2 * self.border

    # ------------------------------------------------------------------ grey files
    def grey_super_resolve(
        self, sr: Callable[[Tensor, int], Tensor], lr: Tensor, scale: int
    ) -> Tensor:
        """SR of grey images under the protocol's grey-file rule, clamped to [0, 1].

        A Y network gets the grey values *as its Y channel* (what VDSR's, LapSRN's and IDN's
        MATLAB test scripts feed it), through ``sr``'s ordinary RGB path: it is fed the RGB
        whose BT.601 Y is the grey, and the Y of its output is read back as grey. An RGB
        network gets the grey image replicated to RGB (what EDSR/RCAN's loaders do), and the
        protocol scores its output's luma (:func:`srlab.core.protocol.grey8`).

        Args:
            sr: RGB LR -> RGB SR at a scale: the model, its x8 self-ensemble, a tiled run.
            lr: ``(B, 3, h, w)`` grey images replicated to RGB (three equal channels).
            scale: the scale.

        Returns:
            ``(B, 1, H, W)`` grey for a Y network, ``(B, 3, H, W)`` RGB for an RGB network.
        """
        if not self.y_channel:
            return sr(lr, scale).clamp(0, 1)
        out = sr((lr - _Y_OFFSET) / _Y_RANGE, scale)
        return (out[:, :1] * _Y_RANGE + _Y_OFFSET).clamp(0, 1)
