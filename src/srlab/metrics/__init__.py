"""Super-resolution metrics: PSNR and SSIM exactly as SR papers report them; NIQE (MATLAB's), LPIPS
and DISTS (:mod:`.perceptual`, :mod:`.quality`), and Spearman's rho against MOS.

Functional forms return one float64 value per image; the ``Metric`` classes average them over a
dataset (the mean of per-image values), DDP-safe.
"""

from .functional import psnr, ssim
from .niqe import NIQE, niqe
from .rank_correlation import spearman
from .sr_metrics import PSNR, SSIM

__all__ = ["psnr", "ssim", "PSNR", "SSIM", "niqe", "NIQE", "spearman"]
