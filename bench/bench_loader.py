"""Benchmark the training loader on 2K PNGs: prepared sub-images vs plain PNG decoding vs EDSR.

Prepared: memory-mapped sub-images; plain: a loader that decodes the PNGs with Pillow for every
patch; EDSR: the patches per second EDSR-baseline x2 consumes.

Usage::

    python bench/bench_loader.py [--images 8] [--seconds 5] [--device cpu|cuda] [--workers 0]

Makes ``--images`` synthetic 2040x1356 photos-like PNGs (with their x2 LR PNGs, DIV2K naming)
in a temporary folder and measures, in the same run and on the same cores:

- plain: per patch, Pillow decodes the HR PNG and its LR PNG, a random aligned 48x48 LR /
  96x96 HR patch is cut (the naive paired loader);
- prepared: ``srlab-prepare`` (480 px sub-images every 240 px, one-time cost reported) then
  :class:`srlab.data.PreparedPatches` through a DataLoader (batch 16, flips/rotations);
- in-memory: the default SRDataModule path (decode once, patches from RAM), for reference;
- EDSR-baseline x2 (64 feats, 16 blocks) training steps (forward, L1, backward, Adam) on
  batches of 16 LR patches 48x48: patches/s consumed = steps/s x 16.

Prints patches/s and the ratios; exits 1 if prepared < 5x plain or < 4x EDSR's consumption.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

try:
    import srlab  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from torch.utils.data import DataLoader

from srlab.archs import EDSR
from srlab.data import (
    ImageFolder,
    PatchDataset,
    PreparedPatches,
    bicubic_downscale,
    prepare_subimages,
)
from srlab.data.sources import prepare_pair

P, S, B = 48, 2, 16  # LR patch, scale, batch


def make_images(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:1356, 0:2040] / 2040.0
    for i in range(n):
        base = np.stack([np.sin((7 + i) * xx + c) * np.cos((5 + c) * yy) for c in range(3)], -1)
        img = (0.5 + 0.35 * base + rng.normal(0, 0.04, base.shape)).clip(0, 1)
        hr = (img * 255).round().astype(np.uint8)
        (root / "HR").mkdir(parents=True, exist_ok=True)
        (root / "LR" / "X2").mkdir(parents=True, exist_ok=True)
        Image.fromarray(hr).save(root / "HR" / f"{i + 1:04d}.png")
        lr = bicubic_downscale(torch.from_numpy(hr).permute(2, 0, 1), S).permute(1, 2, 0).numpy()
        Image.fromarray(lr).save(root / "LR" / "X2" / f"{i + 1:04d}x2.png")


class PlainPNG(torch.utils.data.Dataset):
    """Decodes the HR and LR PNG with Pillow for every patch (the baseline)."""

    def __init__(self, root: Path, length: int) -> None:
        self.hr = sorted((root / "HR").glob("*.png"))
        self.root, self.length = root, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict:
        p = self.hr[i % len(self.hr)]
        hr = np.asarray(Image.open(p).convert("RGB"))
        lr = np.asarray(Image.open(self.root / "LR" / "X2" / f"{p.stem}x2.png").convert("RGB"))
        rng = np.random.default_rng()  # fresh entropy: forked workers do not repeat patches
        y = int(rng.integers(0, lr.shape[0] - P + 1))
        x = int(rng.integers(0, lr.shape[1] - P + 1))
        lrp = torch.from_numpy(lr[y : y + P, x : x + P].copy()).permute(2, 0, 1).float() / 255
        hrp = (
            torch.from_numpy(hr[y * S : (y + P) * S, x * S : (x + P) * S].copy())
            .permute(2, 0, 1)
            .float()
            / 255
        )
        return {"lr": lrp, "hr": hrp}


def rate(ds, seconds: float, workers: int) -> float:
    """Patches per second drawn through a DataLoader (batch 16) for about ``seconds``."""
    loader = DataLoader(
        ds,
        batch_size=B,
        shuffle=True,
        num_workers=workers,
        drop_last=True,
        persistent_workers=workers > 0,
    )
    n, t0 = 0, None
    while True:
        for k, batch in enumerate(loader):
            if t0 is None and k == 1:  # skip the first batch (worker start, page cache)
                t0 = time.perf_counter()
            elif t0 is not None:
                n += batch["lr"].shape[0]
            if t0 is not None and time.perf_counter() - t0 > seconds:
                return n / (time.perf_counter() - t0)


def edsr_rate(seconds: float, device: str) -> float:
    torch.manual_seed(0)
    net = EDSR(scale=S).to(device)
    opt = torch.optim.Adam(net.parameters(), 1e-4)
    lr = torch.rand(B, 3, P, P, device=device)
    hr = torch.rand(B, 3, P * S, P * S, device=device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.l1_loss(net(lr), hr).backward()
        opt.step()

    for _ in range(2):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 2:
        step()
        n += 1
    if device == "cuda":
        torch.cuda.synchronize()
    return n * B / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args()
    print(
        f"torch threads: {torch.get_num_threads()}, loader workers: {args.workers}, "
        f"EDSR on {args.device}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        make_images(root, args.images)
        print(f"made {args.images} 2040x1356 PNGs (+x2 LR) in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        idx = prepare_subimages(
            ImageFolder(root / "HR", root / "LR" / "X{scale}"),
            root / "sub",
            [S],
            480,
            240,
            progress=False,
        )
        prep_s = time.perf_counter() - t
        print(f"srlab-prepare (one-time): {idx['subimages']} sub-images in {prep_s:.1f} s")
        plain = rate(PlainPNG(root, 10**6), args.seconds, args.workers)
        prepared = rate(
            PreparedPatches(root / "sub", S, P, length=10**6), args.seconds, args.workers
        )
        recs = [prepare_pair(r, S) for r in ImageFolder(root / "HR", root / "LR" / "X2").load(S)]
        inmem = rate(PatchDataset(recs, S, P, length=10**6), args.seconds, args.workers)
    edsr = edsr_rate(args.seconds, args.device)
    print(f"plain Pillow decode per patch : {plain:10.1f} patches/s")
    print(f"prepared (memory-mapped)      : {prepared:10.1f} patches/s")
    print(f"in-memory (decode once)       : {inmem:10.1f} patches/s")
    print(f"EDSR-baseline x2 consumes     : {edsr:10.1f} patches/s ({edsr / B:.2f} steps/s x {B})")
    r1, r2 = prepared / plain, prepared / edsr
    print(
        f"prepared / plain = {r1:.1f}x (goal >= 5x); "
        f"prepared / EDSR consumption = {r2:.1f}x (goal >= 4x)"
    )
    return 0 if r1 >= 5 and r2 >= 4 else 1


if __name__ == "__main__":
    sys.exit(main())
