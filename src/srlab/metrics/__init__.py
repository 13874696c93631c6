"""Super-resolution metrics: PSNR and SSIM exactly as SR papers report them.

Functional forms return one float64 value per image; the ``Metric`` classes average them over a
dataset (the mean of per-image values), DDP-safe.
"""

from .functional import psnr, ssim
from .sr_metrics import PSNR, SSIM

__all__ = ["psnr", "ssim", "PSNR", "SSIM"]
