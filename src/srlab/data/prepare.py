"""One-time preparation of a training set for fast loading, and the dataset that reads it.

:func:`prepare_subimages` crops every HR image into overlapping sub-images (the usual sub-image
extraction of SR training code: e.g. 480x480 every 240 pixels) and stores them, with their LR
counterparts for each scale, as uint8 ``.npy`` arrays that :class:`PreparedPatches` memory-maps:
drawing a patch then reads a few kilobytes from the page cache instead of decoding a 2K PNG.

Layout of a prepared folder::

    index.json                 crop, step, scales, per image: name, file, sub-images, shape
    hr/<file>.npy              (n, crop_h, crop_w, 3) uint8 HR sub-images
    lr_x2/<file>.npy           (n, crop_h/2, crop_w/2, 3) uint8 LR sub-images (x3, x4 alike)
    done/<file>.json           per-image marker, written last

Every array is written atomically (temporary name, then rename) and the marker after the
arrays, so an interrupted run (Ctrl-C, killed job) loses at most the image in progress;
running :func:`prepare_subimages` again resumes where it stopped. An unreadable image is reported
(file and reason), listed under ``skipped`` in ``index.json`` and left out; the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import SRLabError
from .datasets import augment_pair
from .degradation import Degradation, bicubic_downscale, mod_crop
from .io import atomic_path, read_image, to_float
from .sampling import sample_generator

__all__ = ["prepare_subimages", "subimage_positions", "PreparedPatches"]

INDEX = "index.json"


def subimage_positions(size: int, crop: int, step: int, align: int = 1) -> list[int]:
    """Top (or left) offsets of overlapping crops along one axis.

    One crop every ``step`` pixels, plus a last crop flush with the end so no border is lost;
    offsets are multiples of ``align``.
    """
    if size <= crop:
        return [0]
    last = (size - crop) // align * align
    pos = list(range(0, last + 1, max(align, step // align * align)))
    if pos[-1] != last:
        pos.append(last)
    return pos


def _safe(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-80:]
    return f"{stem}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, arr)


def _prepare_one(
    name: str,
    hr_path: Path,
    lr_paths: dict[int, Path | None],
    out: Path,
    file: str,
    crop: int,
    step: int,
    scales: Sequence[int],
) -> dict[str, Any]:
    full = read_image(hr_path)
    align = math.lcm(*scales)
    hr = mod_crop(full, align)
    H, W = hr.shape[-2:]
    if H == 0 or W == 0:
        raise SRLabError(
            f"image {hr_path} ({tuple(full.shape[-2:])}) is smaller than the scale x{align}"
        )
    ch, cw = min(crop, H) // align * align, min(crop, W) // align * align
    tops, lefts = subimage_positions(H, ch, step, align), subimage_positions(W, cw, step, align)
    hr_np = hr.permute(1, 2, 0).numpy()
    hr_subs = np.stack([hr_np[t : t + ch, x : x + cw] for t in tops for x in lefts])
    for s in scales:
        lp = lr_paths.get(s)
        if lp is not None:
            lr = read_image(lp)
            fh, fw = full.shape[-2] // s, full.shape[-1] // s
            # provided LR of the un-cropped HR: crop it the same way; refuse a wrong size
            if tuple(lr.shape[-2:]) != (fh, fw):
                raise SRLabError(
                    f"LR image {lp} is {lr.shape[-1]}x{lr.shape[-2]}, "
                    f"expected {fw}x{fh} for x{s} of {hr_path}"
                )
            lr = lr[:, : H // s, : W // s]
        else:
            lr = bicubic_downscale(mod_crop(hr, s), s)
        lr_np = lr.permute(1, 2, 0).numpy()
        lr_subs = np.stack(
            [lr_np[t // s : (t + ch) // s, x // s : (x + cw) // s] for t in tops for x in lefts]
        )
        _save_npy(out / f"lr_x{s}" / f"{file}.npy", np.ascontiguousarray(lr_subs))
    _save_npy(out / "hr" / f"{file}.npy", np.ascontiguousarray(hr_subs))
    return {"name": name, "file": file, "path": str(hr_path), "n": len(hr_subs), "crop": [ch, cw]}


def prepare_subimages(
    source: Any,
    out_dir: str | os.PathLike[str],
    scales: int | Sequence[int] = (2,),
    crop: int = 480,
    step: int = 240,
    progress: bool = True,
) -> dict[str, Any]:
    """Crop the images of ``source`` into sub-images and store them in ``out_dir``.

    Args:
        source: an image source with ``files(scale)`` (:class:`~srlab.data.ImageFolder`,
            :class:`~srlab.data.DIV2K`, :class:`~srlab.data.DF2K`, ...); provided LR images are
            used when the source has them, else the LR is made by MATLAB bicubic on the whole
            image (so sub-image borders carry no padding artefacts).
        out_dir: the prepared folder (created; an existing one is resumed).
        scales: scales to store LR sub-images for.
        crop: sub-image side in HR pixels (a multiple of every scale).
        step: stride between sub-images in HR pixels (a multiple of every scale).
        progress: show a rich progress bar.

    Returns:
        The index (also written to ``out_dir/index.json``).
    """
    scales = [int(scales)] if isinstance(scales, int) else [int(s) for s in scales]
    align = math.lcm(*scales)
    if crop % align or step % align:
        raise SRLabError(f"crop={crop} and step={step} must be multiples of every scale {scales}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    old = out / INDEX
    if old.exists():
        prev = json.loads(old.read_text())
        if (
            prev.get("crop_size") != crop
            or prev.get("step") != step
            or prev.get("scales") != scales
        ):
            raise SRLabError(
                f"{out} was prepared with crop={prev.get('crop_size')} step={prev.get('step')} "
                f"scales={prev.get('scales')}; "
                f"use another folder for crop={crop} step={step} scales={scales}"
            )
    per_scale = {s: source.files(s) for s in scales}
    items = per_scale[scales[0]]
    lr_of = {s: {n: lr for n, _, lr in per_scale[s]} for s in scales}
    (out / "done").mkdir(exist_ok=True)
    entries, skipped = [], []

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    cols = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*cols, disable=not progress, transient=False) as bar:
        task = bar.add_task("preparing sub-images", total=len(items))
        for name, hr_path, _ in items:
            file = _safe(name)
            marker = out / "done" / f"{file}.json"
            if marker.exists():
                entries.append(json.loads(marker.read_text()))
            else:
                try:
                    e = _prepare_one(
                        name,
                        Path(hr_path),
                        {s: lr_of[s].get(name) for s in scales},
                        out,
                        file,
                        crop,
                        step,
                        scales,
                    )
                except SRLabError as err:
                    skipped.append({"path": str(hr_path), "reason": str(err)})
                    bar.console.print(f"[yellow]skipped[/] {hr_path}: {err}")
                    bar.advance(task)
                    continue
                with atomic_path(marker) as tmp:
                    tmp.write_text(json.dumps(e))
                entries.append(e)
            bar.advance(task)
    if not entries:
        raise SRLabError(f"no image could be prepared ({len(skipped)} skipped)")
    index = {
        "crop_size": crop,
        "step": step,
        "scales": scales,
        "images": entries,
        "skipped": skipped,
        "subimages": sum(e["n"] for e in entries),
    }
    with atomic_path(old) as tmp:
        tmp.write_text(json.dumps(index, indent=1))
    return index


class PreparedPatches(Dataset[dict[str, Any]]):
    """Random aligned LR/HR training patches read from a prepared folder (memory-mapped).

    Yields the same dicts as :class:`~srlab.data.datasets.PatchDataset`. The arrays are
    opened lazily in each worker (``np.load(mmap_mode="r")``), so workers share the page cache.

    Args:
        root: a folder written by :func:`prepare_subimages` / ``srlab-prepare``.
        scale: one of the prepared scales (LR read from ``lr_x{scale}``), unless ``degradation``
            is given: then only the HR sub-images are read and the LR patch is made on the fly.
        patch_size: LR patch side (HR side ``patch_size * scale``).
        augment, length: as :class:`PatchDataset`.
        degradation: optional :class:`~srlab.data.degradation.Degradation`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        scale: int,
        patch_size: int,
        augment: bool = True,
        length: int = 1000,
        degradation: Degradation | None = None,
    ) -> None:
        self.root = Path(root)
        idx = self.root / INDEX
        if not idx.exists():
            raise SRLabError(
                f"{self.root} is not a prepared folder (no {INDEX}): run srlab-prepare first"
            )
        self.index = json.loads(idx.read_text())
        if degradation is None and scale not in self.index["scales"]:
            raise SRLabError(f"{self.root} holds scales {self.index['scales']}, not x{scale}")
        self.scale, self.patch_size, self.augment, self.length = scale, patch_size, augment, length
        self.degradation = degradation
        self.seed: int | None = None  # set by the datamodule: seeded, resumable sampling
        self.images: list[dict[str, Any]] = []
        for e in self.index["images"]:
            ch, cw = e["crop"]
            if ch < patch_size * scale or cw < patch_size * scale:
                warnings.warn(
                    f"{e['path']} ({cw}x{ch} sub-images) is smaller than the HR patch "
                    f"{patch_size * scale}: left out",
                    stacklevel=2,
                )
                continue
            self.images.append(e)
        if not self.images:
            raise SRLabError(
                f"no prepared image in {self.root} is large enough "
                f"for the LR patch {patch_size} at x{scale}"
            )
        self.counts = np.cumsum([e["n"] for e in self.images])
        self._maps: dict[tuple[str, str], np.ndarray] = {}

    def __len__(self) -> int:
        return self.length

    def _arr(self, kind: str, file: str) -> np.ndarray:
        key = (kind, file)
        if key not in self._maps:
            self._maps[key] = np.load(self.root / kind / f"{file}.npy", mmap_mode="r")
        return self._maps[key]

    def __getstate__(self) -> dict[str, Any]:  # memmaps are reopened in each worker
        d = self.__dict__.copy()
        d["_maps"] = {}
        return d

    def __getitem__(self, index: int) -> dict[str, Any]:
        g = None if self.seed is None else sample_generator(self.seed, index)
        k = int(torch.randint(0, int(self.counts[-1]), (), generator=g))
        im = int(np.searchsorted(self.counts, k, side="right"))
        e = self.images[im]
        sub = k - (int(self.counts[im - 1]) if im else 0)
        p, s = self.patch_size, self.scale
        ch, cw = e["crop"][0] // s, e["crop"][1] // s
        i = int(torch.randint(0, ch - p + 1, (), generator=g))
        j = int(torch.randint(0, cw - p + 1, (), generator=g))
        hr_sub = self._arr("hr", e["file"])[sub]
        hr = torch.from_numpy(
            np.ascontiguousarray(hr_sub[i * s : (i + p) * s, j * s : (j + p) * s])
        ).permute(2, 0, 1)
        if self.degradation is None:
            lr_sub = self._arr(f"lr_x{s}", e["file"])[sub]
            lr = torch.from_numpy(np.ascontiguousarray(lr_sub[i : i + p, j : j + p])).permute(
                2, 0, 1
            )
        else:
            m = max(4, -(-self.degradation.hr_support // s) + 2)
            t, left, b, r = max(0, i - m), max(0, j - m), min(ch, i + p + m), min(cw, j + p + m)
            region = torch.from_numpy(
                np.ascontiguousarray(hr_sub[t * s : b * s, left * s : r * s])
            ).permute(2, 0, 1)
            lr, _ = self.degradation(region, s, seed=int(torch.randint(0, 2**62, (), generator=g)))
            lr = lr[:, i - t : i - t + p, j - left : j - left + p]
        if self.augment:
            lr, hr = augment_pair(lr, hr, generator=g)
        return {
            "lr": to_float(lr.contiguous()),
            "hr": to_float(hr.contiguous()),
            "name": e["name"],
            "scale": s,
        }
