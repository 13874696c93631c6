"""Spearman's rho between MOS and a metric, with bootstrap / Fisher-z intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from srlab.metrics.rank_correlation import correlate_metrics, join_by_key, spearman


def test_rho_equals_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for _ in range(5):
        mos = rng.integers(1, 6, 30).astype(float)  # 5-point ratings: many ties
        metric = mos + rng.normal(0, 1.5, 30)
        metric[:4] = metric[0]
        assert spearman(mos, metric, ci="fisher").rho == pytest.approx(
            stats.spearmanr(mos, metric).statistic, abs=1e-12
        )


def test_fisher_interval_by_hand():
    mos = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    niqe = [9.0, 8.5, 7.0, 7.5, 6.0, 4.0, 5.0, 3.0, 2.5, 1.0]  # lower is better: rho < 0 agrees
    r = spearman(mos, niqe, ci="fisher", level=0.95)
    assert r.rho == pytest.approx(-(1 - 6 * 4 / (10 * 99)))  # two swapped pairs: sum d^2 = 4
    half = 1.959963984540054 * 1.06 / math.sqrt(10 - 3)
    assert (r.low, r.high) == pytest.approx(
        (math.tanh(math.atanh(r.rho) - half), math.tanh(math.atanh(r.rho) + half))
    )
    assert r.low < r.rho < r.high and r.n == 10 and "fisher" in str(r)


def test_bootstrap_interval_is_seeded_and_covers_rho():
    rng = np.random.default_rng(1)
    mos = rng.normal(size=40)
    metric = mos + rng.normal(scale=1.0, size=40)
    a = spearman(mos, metric, n_boot=500, seed=3)
    b = spearman(mos, metric, n_boot=500, seed=3)
    assert a == b and a.low < a.rho < a.high <= 1 and a.method == "bootstrap"
    wide = spearman(mos[:8], metric[:8], n_boot=500)
    assert wide.high - wide.low > a.high - a.low  # fewer images, wider interval


def test_bad_input_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="one value per image"):
        spearman([1, 2, 3, 4], [1, 2, 3])
    with pytest.raises(ValueError, match="at least 4"):
        spearman([1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="finite"):
        spearman([1, 2, 3, float("nan")], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="bootstrap' or 'fisher"):
        spearman([1, 2, 3, 4], [1, 2, 3, 4], ci="kendall")
    assert math.isnan(spearman([1, 1, 1, 1], [1, 2, 3, 4], ci="fisher").rho)  # constant MOS


def test_join_by_image_and_correlate_each_metric():
    mos = {"a": 4.5, "b": 3.0, "c": 2.0, "d": 1.0, "e": 3.5}
    metrics = {
        "psnr": {"a": 30.0, "b": 28.0, "c": 27.0, "d": 25.0, "e": 29.0, "unrated": 40.0},
        "niqe": {"a": 3.0, "b": 5.0, "c": 6.0, "d": 7.0, "e": None},  # e: not scored
        "lpips": {"a": 0.1, "b": 0.2},
    }
    keys, _x, y = join_by_key(mos, metrics["niqe"])
    assert keys == ["a", "b", "c", "d"] and list(y) == [3.0, 5.0, 6.0, 7.0]
    out = correlate_metrics(mos, metrics, ci="fisher")
    assert out["psnr"].rho == pytest.approx(1.0) and out["psnr"].n == 5
    assert out["niqe"].rho == pytest.approx(-1.0) and out["lpips"] is None
