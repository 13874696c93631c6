"""Benchmark srlab's torch ``imresize`` against the NumPy reference on a DIV2K-sized image.

Usage::

    python bench/bench_imresize.py

Makes a random 3 x 1356 x 2040 float32 image, downscales it by 1/2, 1/3 and 1/4 with both
implementations (warm-up call, then the best of several repeats, ``time.perf_counter``),
and prints both times, the speed-up and the max abs difference of the two results. Exits
with status 1 if any speed-up is below 10x or any difference is >= 1e-5.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

try:
    from srlab.core.imresize import imresize
    from srlab.data.imresize_reference import imresize_numpy
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from srlab.core.imresize import imresize
    from srlab.data.imresize_reference import imresize_numpy

MIN_SPEEDUP = 10.0
MAX_DIFF = 1e-5


def best_time(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """(first-call seconds, best of ``repeats`` later calls, last result)."""
    start = time.perf_counter()
    result = fn()  # warm-up (also fills imresize's weight cache)
    first = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return first, best, result


def main() -> int:
    torch.manual_seed(0)
    image = torch.rand(3, 1356, 2040, dtype=torch.float32)
    image_hwc = image.permute(1, 2, 0).numpy().copy()  # the reference's (H, W, C) layout

    print(
        f"imresize benchmark: 3x1356x2040 float32, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, numpy {np.__version__}"
    )
    header = (
        f"{'scale':>6} {'output':>10} {'torch 1st':>10} {'torch':>9} {'numpy':>9} "
        f"{'speed-up':>9} {'max |diff|':>11}"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for denom in (2, 3, 4):
        scale = 1.0 / denom
        first, t_torch, out = best_time(lambda s=scale: imresize(image, s), repeats=15)
        _, t_numpy, ref = best_time(lambda s=scale: imresize_numpy(image_hwc, s), repeats=3)
        ref_chw = torch.from_numpy(np.ascontiguousarray(ref.transpose(2, 0, 1)))
        assert out.shape == ref_chw.shape, (out.shape, ref_chw.shape)
        diff = (out.double() - ref_chw).abs().max().item()
        ratio = t_numpy / t_torch
        ok &= ratio >= MIN_SPEEDUP and diff < MAX_DIFF
        size = f"{out.shape[-2]}x{out.shape[-1]}"
        print(
            f"{'1/' + str(denom):>6} {size:>10} {first * 1e3:>8.1f}ms {t_torch * 1e3:>7.1f}ms "
            f"{t_numpy * 1e3:>7.1f}ms {ratio:>8.1f}x {diff:>11.2e}"
        )
    print("OK" if ok else f"FAIL: need speed-up >= {MIN_SPEEDUP:g}x and max |diff| < {MAX_DIFF:g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
