"""Benchmark tiled against untiled upscaling: peak memory, max difference, time.

Usage::

    python bench/bench_tiling.py                      # 2000x2000, EDSR-baseline x2, CPU
    python bench/bench_tiling.py --size 600 --tile 160
    python bench/bench_tiling.py --device cuda

EDSR-baseline x2 (16 blocks, 64 channels) with **random weights** (seeded; the weights do not
change the memory or time, and random weights have a wider receptive field than trained ones,
which is the hard case for tiling) upscales a seeded random photo-like RGB image of
``--size`` x ``--size`` pixels, once untiled and once tiled (``--tile``, ``--overlap``,
``--context``, or ``--max-memory``), each in **its own subprocess** so that the peak memory of
one run cannot hide the other's:

- CPU: peak memory is ``ru_maxrss`` of the child, minus its ``ru_maxrss`` just before the
  upscale (Python, torch, the model and the input are loaded by then): the memory the upscale
  itself added. (``tracemalloc`` does not see torch's CPU allocations.)
- CUDA: ``torch.cuda.max_memory_allocated`` during the upscale, minus what was allocated before.

Time: one untimed warm-up on a small image, then the wall-clock time of the upscale. The
outputs (float32, not clamped to 8 bits) are compared: max absolute difference on [0, 1].
Prints the ratios and exits 1 unless tiled peak <= 1/4 of untiled, max diff <= 1/255 and
tiled time <= 1.25x untiled (the goals of the serving issue).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

try:
    import srlab  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

MAX_MEM_RATIO = 0.25
MAX_DIFF = 1 / 255
MAX_TIME_RATIO = 1.25


def _photo(size: int, seed: int = 0) -> torch.Tensor:
    """A smooth random colour image with edges and noise, float (1, 3, size, size) in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.stack(
        [
            0.5 + 0.4 * np.sin(40 * xx + 3) * np.cos(25 * yy),
            0.5 + 0.4 * np.cos(33 * yy + 1),
            0.5 + 0.3 * np.sin(50 * (xx + yy)),
        ],
        axis=0,
    )
    for _ in range(20):
        y, x, s = rng.integers(0, size, 3)
        img[:, y : y + s // 4, x : x + s // 4] = rng.uniform(0, 1, (3, 1, 1))
    img += rng.normal(0, 0.02, img.shape)
    return torch.from_numpy(np.clip(img, 0, 1).astype(np.float32))[None]


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def child(args: argparse.Namespace) -> None:
    from srlab.archs import EDSR
    from srlab.inference import sr_forward
    from srlab.models.sr_module import SRModule

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = (
        SRModule(EDSR(scale=2, in_channels=3, num_feat=64, num_block=16, res_scale=1.0))
        .to(device)
        .eval()
    )
    x = _photo(args.size).to(device)
    tiled = args.mode == "tiled"
    kw = (
        dict(tile=args.tile, overlap=args.overlap, context=args.context, max_memory=args.max_memory)
        if tiled
        else {}
    )
    with torch.inference_mode():
        sr_forward(model, _photo(48, seed=1).to(device), 2, **kw)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        else:
            base = _maxrss_bytes()
        start = time.perf_counter()
        out = sr_forward(model, x, 2, out_device=device, **kw)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        peak = (
            torch.cuda.max_memory_allocated() if device.type == "cuda" else _maxrss_bytes()
        ) - base
    np.save(args.out, out[0].float().cpu().numpy())
    print(json.dumps({"seconds": seconds, "peak_bytes": int(peak), "base_bytes": int(base)}))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=2000, help="input side in pixels (2000)")
    p.add_argument(
        "--tile",
        type=int,
        default=None,
        help="largest tile side in LR pixels (default: 0.36 x the size, 3 tiles per axis)",
    )
    p.add_argument("--overlap", type=int, default=16)
    p.add_argument("--context", type=int, default=16)
    p.add_argument(
        "--max-memory", type=float, default=None, help="MB: pick the tile from this budget instead"
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--mode", choices=["tiled", "untiled"], default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.mode:
        child(args)
        return 0
    if args.tile is None and args.max_memory is None:
        args.tile = max(64, round(args.size * 0.36))  # 3 tiles per axis: activations ~1/7
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("untiled", "tiled"):
            out = Path(tmp) / f"{mode}.npy"
            cmd = [
                sys.executable,
                __file__,
                "--mode",
                mode,
                "--out",
                str(out),
                "--size",
                str(args.size),
                "--overlap",
                str(args.overlap),
                "--context",
                str(args.context),
                "--device",
                args.device,
                "--threads",
                str(args.threads),
            ]
            if args.tile is not None:
                cmd += ["--tile", str(args.tile)]
            if args.max_memory is not None:
                cmd += ["--max-memory", str(args.max_memory)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                print(res.stderr[-3000:], file=sys.stderr)
                return 2
            results[mode] = json.loads(res.stdout.strip().splitlines()[-1])
            r = results[mode]
            print(f"{mode:8s}: {r['seconds']:8.2f} s   peak +{r['peak_bytes'] / 2**20:9.1f} MiB")
        diff = float(
            np.abs(np.load(Path(tmp) / "tiled.npy") - np.load(Path(tmp) / "untiled.npy")).max()
        )
    u, t = results["untiled"], results["tiled"]
    mem_ratio = t["peak_bytes"] / max(u["peak_bytes"], 1)
    time_ratio = t["seconds"] / u["seconds"]
    tiling = (
        f"tile {args.tile}" if args.tile is not None else f"--max-memory {args.max_memory:g} MB"
    )
    print(
        f"EDSR-baseline x2 (random weights), {args.size}x{args.size} input, {args.device}, "
        f"{args.threads} thread(s), {tiling}, overlap {args.overlap}, context {args.context}\n"
        f"peak memory tiled/untiled: {mem_ratio:.3f} (goal <= {MAX_MEM_RATIO})\n"
        f"max abs diff: {diff:.2e} = {diff * 255:.3f}/255 (goal <= 1/255)\n"
        f"time tiled/untiled: {time_ratio:.3f} (goal <= {MAX_TIME_RATIO})"
    )
    ok = mem_ratio <= MAX_MEM_RATIO and diff <= MAX_DIFF and time_ratio <= MAX_TIME_RATIO
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
