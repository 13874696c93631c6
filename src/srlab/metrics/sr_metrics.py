"""torchmetrics wrappers of :func:`~srlab.metrics.psnr` / :func:`~srlab.metrics.ssim`.

They accumulate the *sum* and *count* of per-image values, so :meth:`compute` returns the mean of
per-image scores, the convention of SR papers (not the PSNR of the mean MSE). Both states reduce
with ``sum`` across processes, so the DDP result equals the single-process one.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from ..core.protocol import Protocol
from .functional import _prepare, _psnr_per_image, _ssim_per_image

__all__ = ["PSNR", "SSIM"]


class _PerImageMean(Metric):
    """Mean over images of a per-image metric computed under the SR protocol."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    sum: Tensor
    count: Tensor

    def __init__(
        self, crop_border: int = 0, y_channel: bool = True, quantize: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(crop_border, bool) or not isinstance(crop_border, int):
            raise TypeError(f"crop_border must be an int, got {crop_border!r}")
        if crop_border < 0:
            raise ValueError(f"crop_border must be >= 0, got {crop_border}")
        self.crop_border = crop_border
        self.y_channel = bool(y_channel)
        self.quantize = bool(quantize)
        self.add_state("sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    @staticmethod
    def _per_image(sr: Tensor, hr: Tensor) -> Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def protocol(self) -> str:
        """The part of the protocol's name the metric knows, e.g. ``"y-bt601, crop 3 px, 8-bit"``.

        See :class:`srlab.core.protocol.Protocol`.
        """
        return Protocol.of_metric(self.crop_border, self.y_channel, self.quantize).name

    def update(self, sr: Tensor, hr: Tensor) -> None:
        """Add the per-image values of a batch.

        Args:
            sr: restored images in [0, 1], ``(B, 3|1, H, W)`` or ``(3|1, H, W)``.
            hr: ground truth, same shape.
        """
        values = self._per_image(
            *_prepare(sr, hr, self.crop_border, self.y_channel, self.quantize)
        ).detach()
        self.sum += values.sum().to(self.sum)
        self.count += values.numel()

    def compute(self) -> Tensor:
        """Mean of all per-image values seen so far (float64 scalar; ``nan`` before any update)."""
        return self.sum / self.count

    def extra_repr(self) -> str:
        return (
            f"crop_border={self.crop_border}, y_channel={self.y_channel}, quantize={self.quantize}"
        )


class PSNR(_PerImageMean):
    """Mean per-image PSNR (dB) under the SR protocol of :func:`srlab.metrics.psnr`.

    Args:
        crop_border: pixels removed from each side (usually the scale factor).
        y_channel: BT.601 Y (True) or RGB (False).
        quantize: round to 8 bits before the colour conversion.
        kwargs: forwarded to :class:`torchmetrics.Metric` (``sync_on_compute``, ...).

    An image identical to its reference has infinite PSNR, which makes the mean infinite too.

    Example:
        >>> import torch
        >>> metric = PSNR(crop_border=2)
        >>> metric.protocol
        'y-bt601, crop 2 px, 8-bit'
        >>> hr = torch.full((2, 3, 8, 8), 0.2)
        >>> metric.update(hr + 1 / 255, hr)
        >>> metric.update(hr + 2 / 255, hr)
        >>> metric.compute().round(decimals=4)  # mean of 49.4527, 49.4527, 43.4321, 43.4321
        tensor(46.4424, dtype=torch.float64)
    """

    plot_lower_bound = 0.0

    @staticmethod
    def _per_image(sr: Tensor, hr: Tensor) -> Tensor:
        return _psnr_per_image(sr, hr)


class SSIM(_PerImageMean):
    """Mean per-image SSIM under the SR protocol of :func:`srlab.metrics.ssim`.

    Args:
        crop_border: pixels removed from each side (usually the scale factor).
        y_channel: BT.601 Y (True) or RGB (False).
        quantize: round to 8 bits before the colour conversion.
        kwargs: forwarded to :class:`torchmetrics.Metric` (``sync_on_compute``, ...).

    Example:
        >>> import torch
        >>> metric = SSIM(y_channel=False)
        >>> metric.protocol
        'rgb, crop 0 px, 8-bit'
        >>> hr = torch.linspace(0, 1, 3 * 16 * 16).reshape(1, 3, 16, 16)
        >>> metric.update(hr, hr)
        >>> metric.compute()
        tensor(1., dtype=torch.float64)
    """

    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    @staticmethod
    def _per_image(sr: Tensor, hr: Tensor) -> Tensor:
        return _ssim_per_image(sr, hr)
