"""Super-resolution metrics: PSNR, SSIM, NIQE, LPIPS, DISTS and Spearman's rho against MOS.

PSNR and SSIM are computed exactly as SR papers report them, NIQE as MATLAB's ``niqe``; LPIPS and
DISTS are in :mod:`.perceptual` and :mod:`.quality`.

Functional forms return one float64 value per image; the ``Metric`` classes average them over a
dataset (the mean of per-image values), DDP-safe.
"""

from .functional import psnr, ssim
from .niqe import NIQE, niqe
from .rank_correlation import spearman
from .sr_metrics import PSNR, SSIM

__all__ = ["psnr", "ssim", "PSNR", "SSIM", "niqe", "NIQE", "spearman"]
