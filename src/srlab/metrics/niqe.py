"""NIQE (Natural Image Quality Evaluator), MATLAB-compatible, on tensors.

Mittal, Soundararajan & Bovik, "Making a 'Completely Blind' Image Quality Analyzer", IEEE SPL 2013.
A no-reference score: the distance between a multivariate Gaussian fitted to natural-scene
statistics of the image's 96x96 blocks and the one fitted to a corpus of pristine photos.
**Lower is better** (more natural-looking); it ignores the HR reference altogether, so it rewards
plausible texture that PSNR/SSIM punish (the perception-distortion trade-off, Blau & Michaeli 2018).

The protocol is that of MATLAB's ``niqe`` with its default model and of BasicSR's
``calculate_niqe`` (validated against MATLAB R2021a: 5.7295734 vs 5.7295763 on BasicSR's
``baboon.png``; srlab gives 5.7295739, and is within 0.06 % of BasicSR on scikit-image's photos,
see ``tests/metrics/test_niqe.py``):

1. clamp to [0, 1] and round to 8 bits (``quantize``), as a saved PNG is;
2. BT.601 Y channel (MATLAB ``rgb2ycbcr``, Y in [16, 235]) on the 0..255 scale, **rounded** to
   integers as MATLAB's ``uint8`` Y is (one-channel input is taken as grey/Y as is);
3. remove ``crop_border`` pixels from each side (SR papers and the PIRM challenge: the scale);
4. keep the top-left ``(H // 96) * 96 x (W // 96) * 96`` pixels (MATLAB's non-overlapping 96x96
   blocks, ``BlockSize = [96 96]``);
5. at two scales (the image, then its MATLAB-bicubic half with antialiasing): local mean
   subtraction and contrast normalisation with the 7x7 Gaussian window (replicate padding; the
   window is separable and is applied as two 1-D passes in float64, as MATLAB's ``imfilter``
   does: on exactly flat areas the result follows rounding noise, and this order matches),
   ``(I - mu) / (sigma + 1)``; per block the 18 BRISQUE features (an asymmetric generalised
   Gaussian fitted to the coefficients and to their products with the four neighbours, by the
   same grid search over the shape 0.2:0.001:10);
6. NIQE = ``sqrt((mu_p - mu_d)^T pinv((S_p + S_d) / 2) (mu_p - mu_d))`` with the pristine model
   ``(mu_p, S_p)`` and the image's block features ``(mu_d, S_d)`` (NaN-free blocks for ``S_d``).

The pristine model (``niqe_pris_params.npz``, 12 kB, next to this file) is the one BasicSR ships as
``basicsr/metrics/niqe_pris_params.npz`` (XPixelGroup/BasicSR @ 8d56e3a0, Apache-2.0 licence),
converted from ``modelparameters.mat`` of the authors' MATLAB release
(http://live.ece.utexas.edu/research/quality/niqe_release.zip), i.e. MATLAB's default ``niqe``
model: ``mu_pris_param`` (1, 36), ``cov_pris_param`` (36, 36) and the 7x7 ``gaussian_window``.
See ``niqe_pris_params.NOTICE``.

An image needs at least two 96x96 blocks after the crop (one block has no covariance): smaller
ones raise a ``ValueError``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric
from typing_extensions import override

from ..core.color import rgb_to_y
from ..core.imresize import imresize

__all__ = ["niqe", "NIQE", "NIQE_PARAMS_PATH", "NIQE_BLOCK"]

NIQE_PARAMS_PATH = Path(__file__).with_name("niqe_pris_params.npz")
NIQE_BLOCK = 96
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # neighbour products: horizontal, vertical, 2 diagonals


@functools.lru_cache(maxsize=1)
def _pristine() -> tuple[Tensor, Tensor, Tensor]:
    """``(mu (36,), cov (36, 36), window (7, 7))`` of the pristine model, float64 on the CPU."""
    import numpy as np

    with np.load(NIQE_PARAMS_PATH, allow_pickle=False) as d:
        mu = torch.from_numpy(d["mu_pris_param"].astype(np.float64)).reshape(-1)
        cov = torch.from_numpy(d["cov_pris_param"].astype(np.float64))
        win = torch.from_numpy(d["gaussian_window"].astype(np.float64))
    return mu, cov, win


def _gamma(x: Tensor) -> Tensor:
    return torch.exp(torch.lgamma(x))  # arguments here are all positive


@functools.lru_cache(maxsize=4)
def _gam_grid(device: torch.device) -> tuple[Tensor, Tensor]:
    """The shape grid 0.2:0.001:10 and ``Gamma(2/g)^2 / (Gamma(1/g) Gamma(3/g))`` on it."""
    gam = torch.arange(0.2, 10.001, 0.001, dtype=torch.float64, device=device)  # 9801 values
    r = gam.reciprocal()
    r_gam = torch.exp(2 * torch.lgamma(2 * r) - torch.lgamma(r) - torch.lgamma(3 * r))
    return gam, r_gam


def _aggd(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Asymmetric generalised Gaussian fit of each row of ``x`` (N, P).

    Returns ``(alpha, beta_l, beta_r)``, each (N,). Empty sides give NaN, as the reference's
    ``np.mean`` of an empty array does.
    """
    gam, r_gam = _gam_grid(x.device)
    neg, pos = x < 0, x > 0
    sq = x * x
    left_std = torch.sqrt((sq * neg).sum(1) / neg.sum(1))
    right_std = torch.sqrt((sq * pos).sum(1) / pos.sum(1))
    gammahat = left_std / right_std
    rhat = x.abs().mean(1) ** 2 / sq.mean(1)
    rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    # argmin_g (r_gam[g] - rhatnorm)^2 on the grid; r_gam increases with g, so the nearest value
    # is one of the two neighbours of the insertion point (the lower one on a tie, as argmin)
    v = rhatnorm.double()
    hi = torch.searchsorted(r_gam, v.nan_to_num(0.0)).clamp(1, r_gam.numel() - 1)
    lo = hi - 1
    idx = torch.where((r_gam[lo] - v) ** 2 <= (r_gam[hi] - v) ** 2, lo, hi)
    idx = torch.where(torch.isnan(v), torch.zeros_like(idx), idx)  # numpy: argmin(all nan) = 0
    alpha = gam[idx]
    k = torch.sqrt(_gamma(1 / alpha) / _gamma(3 / alpha))
    return alpha, left_std.double() * k, right_std.double() * k


def _block_features(blocks: Tensor) -> Tensor:
    """The 18 features of each normalised block ``(N, h, w)`` -> ``(N, 18)``."""
    flat = blocks.flatten(1)
    alpha, bl, br = _aggd(flat)
    feats = [alpha, (bl + br) / 2]
    for shift in _SHIFTS:
        prod = (blocks * torch.roll(blocks, shift, dims=(1, 2))).flatten(
            1
        )  # circular, like np.roll
        alpha, bl, br = _aggd(prod)
        mean = (br - bl) * _gamma(2 / alpha) / _gamma(1 / alpha)
        feats += [alpha, mean, bl, br]
    return torch.stack(feats, dim=1)


@functools.lru_cache(maxsize=1)
def _separable_window() -> Tensor:
    """The 1-D kernel whose outer product with itself is the 7x7 Gaussian window (to 1e-17).

    Two 1-D passes give the same filter in float64 at a third of the cost of the 2-D one.
    """
    _, _, window = _pristine()
    u, s, _ = torch.linalg.svd(window)
    g = (u[:, 0] * s[0].sqrt()).abs()
    assert torch.allclose(torch.outer(g, g), window, atol=1e-12)
    return g


def _mscn(img: Tensor) -> Tensor:
    """Mean-subtracted contrast-normalised coefficients of ``(B, 1, H, W)``.

    ``(I - mu) / (sigma + 1)`` with the Gaussian window and replicate padding (MATLAB
    ``imfilter(..., 'replicate')``).
    """
    g = _separable_window().to(img)
    p = g.numel() // 2
    both = torch.cat([img, img * img], dim=1)  # filter I and I^2 in one pass
    both = F.conv2d(
        F.pad(both, (p, p, p, p), mode="replicate"),
        g.view(1, 1, -1, 1).expand(2, 1, -1, 1),
        groups=2,
    )
    both = F.conv2d(both, g.view(1, 1, 1, -1).expand(2, 1, 1, -1), groups=2)
    mu, mu2 = both[:, :1], both[:, 1:]
    sigma = torch.sqrt((mu2 - mu * mu).abs())
    return (img - mu) / (sigma + 1)


def _blocks(x: Tensor, size: int) -> Tensor:
    """Non-overlapping ``size x size`` blocks of ``(B, 1, H, W)`` -> ``(B, N, size, size)``."""
    b = x.shape[0]
    t = F.unfold(x, kernel_size=size, stride=size)  # (B, size*size, N)
    return t.transpose(1, 2).reshape(b, -1, size, size)


def _nancov(feats: Tensor) -> Tensor:
    """Covariance (ddof 1) of the rows of ``feats`` (N, D) without NaN."""
    ok = feats[~torch.isnan(feats).any(dim=1)]
    return torch.cov(ok.T)


def _niqe_y(y: Tensor, block: int = NIQE_BLOCK, dtype: torch.dtype = torch.float64) -> Tensor:
    """NIQE of prepared images: ``(B, 1, H, W)`` float64 integer-valued Y on the 0..255 scale."""
    mu_p, cov_p, _ = (t.to(y.device) for t in _pristine())
    nh, nw = y.shape[-2] // block, y.shape[-1] // block
    if nh * nw < 2:
        raise ValueError(
            f"NIQE needs at least two {block}x{block} blocks, "
            f"got a {y.shape[-2]}x{y.shape[-1]} image (after the border crop)"
        )
    img = y[..., : nh * block, : nw * block].to(dtype)
    per_scale = []
    for scale in (1, 2):
        size = block // scale
        per_scale.append(_block_features(_blocks(_mscn(img), size).flatten(0, 1)))
        if scale == 1:
            img = imresize(img / 255.0, 0.5, antialias=True) * 255.0
    feats = torch.cat(per_scale, dim=1).double().reshape(y.shape[0], nh * nw, -1)  # (B, N, 36)
    out = []
    for f in feats:
        mu_d = torch.nanmean(f, dim=0)
        cov = (cov_p + _nancov(f)) / 2
        d = (mu_p - mu_d)[None]
        q = d @ torch.linalg.pinv(cov, rtol=1e-15) @ d.T  # numpy's pinv cut-off
        out.append(torch.sqrt(q.reshape(())))
    return torch.stack(out)


def _prepare_y(img: Tensor, crop_border: int, quantize: bool) -> Tensor:
    """Validate, then steps 1-3: ``(B, 1, H', W')`` float64 integer Y on the 0..255 scale."""
    if not isinstance(img, Tensor):
        raise TypeError(f"img must be a tensor, got {type(img).__name__}")
    if img.dim() not in (3, 4) or img.shape[-3] not in (1, 3):
        raise ValueError(
            f"NIQE expects (B, 3|1, H, W) or (3|1, H, W) images, got {tuple(img.shape)}"
        )
    if not img.is_floating_point():
        raise TypeError(
            f"NIQE expects floating-point images in [0, 1], got {img.dtype} (divide by 255)"
        )
    if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
        raise ValueError(f"crop_border must be an int >= 0, got {crop_border!r}")
    x = img.unsqueeze(0) if img.dim() == 3 else img
    x = x.detach().to(torch.float64).clamp(0, 1) * 255.0
    if quantize:
        x = torch.round(x)
    if x.shape[-3] == 3:
        x = rgb_to_y(x / 255.0) * 255.0
    x = torch.round(
        x
    )  # MATLAB's niqe works on the uint8 Y (BasicSR: "round ... consistent with MATLAB")
    if crop_border:
        c = crop_border
        x = x[..., c:-c, c:-c]
    return x


def niqe(img: Tensor, crop_border: int = 0, quantize: bool = True) -> Tensor:
    """NIQE of each image (lower is better), MATLAB ``niqe`` with its default model.

    Args:
        img: image(s) in [0, 1], RGB ``(B, 3, H, W)`` (scored on the BT.601 Y channel) or
            grey/Y ``(B, 1, H, W)``; ``(C, H, W)`` is one image.
        crop_border: pixels removed from each side first (SR papers: the scale).
        quantize: round to 8 bits first, as a saved PNG is.

    Returns:
        float64 ``(B,)``.

    Raises:
        ValueError: bad shape, or fewer than two 96x96 blocks left after the crop.

    Example:
        >>> import skimage.data
        >>> img = torch.from_numpy(skimage.data.camera()).float().div(255)[None]
        >>> niqe(img).round(decimals=3)  # BasicSR's calculate_niqe: 3.096377
        tensor([3.0960], dtype=torch.float64)
    """
    return _niqe_y(_prepare_y(img, crop_border, quantize))


class NIQE(Metric):
    """Mean per-image NIQE (lower is better) of restored images; see :func:`niqe`.

    No reference is needed: ``update(sr)`` or ``update(sr, hr)`` (``hr`` is ignored, so that
    NIQE fits loops that feed every metric ``(sr, hr)``).

    Args:
        crop_border: pixels removed from each side (usually the scale).
        quantize: round to 8 bits first.
        skip_small: leave out images with fewer than two 96x96 blocks after the crop instead of
            raising (validation on small crops); ``skipped`` counts them.
        kwargs: forwarded to :class:`torchmetrics.Metric`.

    Example:
        >>> import skimage.data
        >>> m = NIQE()
        >>> m.update(torch.from_numpy(skimage.data.camera()).float().div(255)[None, None])
        >>> m.compute().round(decimals=3)
        tensor(3.0960, dtype=torch.float64)
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False
    plot_lower_bound = 0.0

    sum: Tensor
    count: Tensor
    skipped: Tensor

    def __init__(
        self, crop_border: int = 0, quantize: bool = True, skip_small: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.skip_small = bool(skip_small)
        if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
            raise ValueError(f"crop_border must be an int >= 0, got {crop_border!r}")
        self.crop_border = crop_border
        self.quantize = bool(quantize)
        self.add_state("sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("skipped", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    @property
    def protocol(self) -> str:
        """The evaluation protocol, for reports (colour space, crop, blocks, model)."""
        return f"y-bt601 (uint8), crop={self.crop_border}, 96x96 blocks, MATLAB default model"

    @override
    def update(self, sr: Tensor, hr: Tensor | None = None) -> None:
        h, w = (n - 2 * self.crop_border for n in sr.shape[-2:])
        if self.skip_small and (h // NIQE_BLOCK) * (w // NIQE_BLOCK) < 2:
            self.skipped += 1 if sr.dim() == 3 else sr.shape[0]
            return
        values = niqe(sr, self.crop_border, self.quantize)
        self.sum += values.sum().to(self.sum)
        self.count += values.numel()

    @override
    def compute(self) -> Tensor:
        return self.sum / self.count

    @override
    def extra_repr(self) -> str:
        return f"crop_border={self.crop_border}, quantize={self.quantize}"
