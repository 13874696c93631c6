"""Spearman's rank correlation between per-image MOS and a metric, with a confidence interval.

Used to ask the perception question of the article: does a metric order images the way raters
do? PSNR/SSIM (higher = better) agree with MOS when rho > 0; NIQE/LPIPS/DISTS (lower = better)
when rho < 0 (:data:`srlab.metrics.quality.HIGHER_IS_BETTER` gives the direction).

Two intervals:

- ``"bootstrap"`` (default): percentile interval of rho over ``n_boot`` resamples of the
  (MOS, metric) pairs, seeded, so it is reproducible; valid for any n >= 4 and skewed rho.
- ``"fisher"``: ``tanh(atanh(rho) +- z * 1.06 / sqrt(n - 3))`` (Fieller, Hartley & Pearson 1957's
  variance for Spearman's rho); needs n >= 4, and rho of +-1 gives a zero-width interval.

numpy only (no scipy): ties get average ranks, as ``scipy.stats.spearmanr`` does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = ["SpearmanResult", "spearman", "join_by_key", "correlate_metrics"]


@dataclass(frozen=True)
class SpearmanResult:
    """rho with its ``level`` confidence interval ``[low, high]`` over ``n`` pairs."""

    rho: float
    low: float
    high: float
    n: int
    level: float
    method: str

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"rho = {self.rho:+.3f} [{self.low:+.3f}, {self.high:+.3f}] "
            f"({self.level:.0%} {self.method}, n = {self.n})"
        )


def _rank(a: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) along the last axis; ties share the mean of their ranks."""
    order = np.argsort(a, axis=-1, kind="mergesort")
    s = np.take_along_axis(a, order, axis=-1)
    ranks = np.empty_like(a, dtype=np.float64)
    flat_s, flat_o, flat_r = (
        s.reshape(-1, a.shape[-1]),
        order.reshape(-1, a.shape[-1]),
        ranks.reshape(-1, a.shape[-1]),
    )
    for row_s, row_o, row_r in zip(flat_s, flat_o, flat_r):
        new = np.r_[True, row_s[1:] != row_s[:-1]]
        starts = np.flatnonzero(new)
        ends = np.r_[starts[1:], len(row_s)]
        avg = (starts + ends - 1) / 2 + 1  # mean of 1-based ranks starts+1 .. ends
        row_r[row_o] = np.repeat(avg, ends - starts)
    return flat_r.reshape(a.shape)


def _rho(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of matching rows (Pearson of the average ranks); NaN for a constant row."""
    rx, ry = _rank(x), _rank(y)
    rx = rx - rx.mean(-1, keepdims=True)
    ry = ry - ry.mean(-1, keepdims=True)
    den = np.sqrt((rx * rx).sum(-1) * (ry * ry).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(-1) / np.where(den > 0, den, 1), np.nan)


def spearman(
    mos: Sequence[float] | np.ndarray,
    metric: Sequence[float] | np.ndarray,
    ci: str = "bootstrap",
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> SpearmanResult:
    """Spearman's rho between per-image MOS and a metric, with a confidence interval.

    Args:
        mos: mean opinion score per image.
        metric: the metric's value for the same images, in the same order.
        ci: ``"bootstrap"`` (percentile, paired resampling) or ``"fisher"`` (z-transform).
        level: confidence level of the interval.
        n_boot: bootstrap resamples.
        seed: bootstrap seed.

    Returns:
        :class:`SpearmanResult`; ``rho`` is NaN when either side is constant.

    Raises:
        ValueError: lengths differ, fewer than 4 pairs, non-finite values, or an unknown ``ci``.

    Example:
        >>> r = spearman([1, 2, 3, 4, 5], [0.9, 0.7, 0.8, 0.2, 0.1], ci="fisher")
        >>> round(r.rho, 3), r.n
        (-0.9, 5)
    """
    x = np.asarray(mos, dtype=np.float64).ravel()
    y = np.asarray(metric, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(
            f"mos and metric must have one value per image each, got {x.size} and {y.size}"
        )
    if x.size < 4:
        raise ValueError(f"Spearman's rho with an interval needs at least 4 images, got {x.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("mos and metric must be finite (drop the images without a value first)")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rho = float(_rho(x, y))
    n = int(x.size)
    if ci == "fisher":
        if math.isnan(rho):
            low = high = math.nan
        else:
            z = NormalDist().inv_cdf(0.5 + level / 2)
            zr = (
                math.atanh(max(min(rho, 1.0), -1.0))
                if abs(rho) < 1
                else math.copysign(math.inf, rho)
            )
            half = z * 1.06 / math.sqrt(n - 3)
            low, high = math.tanh(zr - half), math.tanh(zr + half)
    elif ci == "bootstrap":
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, n, size=(int(n_boot), n))
        boot = _rho(x[idx], y[idx])
        boot = boot[~np.isnan(boot)]
        if boot.size == 0:
            low = high = math.nan
        else:
            a = (1 - level) / 2
            low, high = (float(v) for v in np.quantile(boot, [a, 1 - a]))
    else:
        raise ValueError(f"ci must be 'bootstrap' or 'fisher', got {ci!r}")
    return SpearmanResult(rho, float(low), float(high), n, float(level), ci)


def join_by_key(
    mos: Mapping[Any, float], metric: Mapping[Any, float | None]
) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """The images rated and scored, as ``(keys, mos values, metric values)`` in sorted key order.

    An image counts when its key is in both mappings and its metric value is not None/NaN.
    """

    def scored(k: Any) -> bool:
        v = metric.get(k)
        return v is not None and math.isfinite(float(v))

    keys = sorted((k for k in mos if scored(k)), key=str)
    return keys, np.array([mos[k] for k in keys], float), np.array([metric[k] for k in keys], float)


def correlate_metrics(
    mos: Mapping[Any, float], metrics: Mapping[str, Mapping[Any, float | None]], **kwargs: Any
) -> dict[str, SpearmanResult | None]:
    """``{metric name: spearman(MOS, metric)}`` over the images each metric shares with ``mos``.

    ``None`` where fewer than 4 images are shared. ``kwargs`` go to :func:`spearman`.
    """
    out: dict[str, SpearmanResult | None] = {}
    for name, values in metrics.items():
        _, x, y = join_by_key(mos, values)
        out[name] = spearman(x, y, **kwargs) if x.size >= 4 else None
    return out
