"""Where images come from: folders of HR images (optionally with paired LR folders) and the
photos that scikit-image ships. A source returns :class:`ImageRecord`s; degradation and
patching are the datasets' job."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import SRLabError
from .degradation import bicubic_downscale, mod_crop
from .imresize import imresize
from .io import list_images, read_image

__all__ = ["ImageRecord", "ImageFolder", "SampleImages", "Rescaled", "SAMPLE_TRAIN", "SAMPLE_VAL", "SAMPLE_TEST"]

#: scikit-image's bundled colour photos used by ``data=sample``: trained on, validated on, and
#: kept unseen for testing. The test list is never used for training.
SAMPLE_TRAIN = ("astronaut", "chelsea", "rocket", "immunohistochemistry")
SAMPLE_VAL = ("coffee",)
SAMPLE_TEST = (
    "motorcycle",
    "hubble_deep_field",
    "retina",
    "camera",
    "moon",
    "coins",
    "clock",
    "cell",
    "brick",
    "grass",
    "gravel",
    "page",
    "text",
)


@dataclass
class ImageRecord:
    """One HR image and, when the data set provides it, its LR counterpart (uint8 (3,H,W))."""

    name: str
    hr: Tensor
    lr: Tensor | None = None
    path: str = ""


def prepare_pair(rec: ImageRecord, scale: int) -> ImageRecord:
    """Mod-crop the HR image to the scale and make (or check) its LR image."""
    hr = mod_crop(rec.hr, scale)
    if hr.shape[-1] == 0 or hr.shape[-2] == 0:
        raise SRLabError(f"image {rec.path or rec.name} ({tuple(rec.hr.shape[-2:])}) is smaller than the scale x{scale}")
    if rec.lr is None:
        lr = bicubic_downscale(hr, scale)
    else:
        lr = rec.lr
        want = (hr.shape[-2] // scale, hr.shape[-1] // scale)
        if tuple(lr.shape[-2:]) != want:
            raise SRLabError(
                f"LR image for {rec.path or rec.name} is {lr.shape[-1]}x{lr.shape[-2]}, "
                f"expected {want[1]}x{want[0]} for x{scale} of its {hr.shape[-1]}x{hr.shape[-2]} HR image"
            )
    return ImageRecord(rec.name, hr, lr, rec.path)


def _lr_key(stem: str, scale: int) -> str:
    # DIV2K / benchmark naming: 0001x2.png is the x2 LR image of 0001.png
    return re.sub(rf"[xX]{scale}$", "", stem)


class ImageFolder:
    """HR images from a folder (png/jpg/bmp/tif/webp, recursive), optionally paired with a folder
    of pre-made LR images of the same scale (paired by file name; DIV2K's ``0001x2.png``
    naming included).

    Args:
        hr_dir: folder of HR images.
        lr_dir: folder of LR images for this scale, e.g. ``DIV2K_train_LR_bicubic/X2``; when
            ``None`` the LR images are made with MATLAB-exact bicubic downscaling.
        recursive: look into subfolders.
        limit: use only the first ``limit`` images (sorted by name).
    """

    def __init__(
        self,
        hr_dir: str | os.PathLike,
        lr_dir: str | os.PathLike | None = None,
        recursive: bool = True,
        limit: int | None = None,
    ) -> None:
        self.hr_dir = Path(hr_dir)
        self.lr_dir = Path(lr_dir) if lr_dir else None
        self.recursive = recursive
        self.limit = limit

    def __repr__(self) -> str:
        return f"ImageFolder({str(self.hr_dir)!r}, lr_dir={str(self.lr_dir) if self.lr_dir else None!r})"

    def load(self, scale: int) -> list[ImageRecord]:
        hr_files = list_images(self.hr_dir, self.recursive)[: self.limit]
        lr_by_key: dict[str, Path] = {}
        if self.lr_dir is not None:
            for p in list_images(self.lr_dir, self.recursive):
                rel = p.relative_to(self.lr_dir).with_suffix("")
                lr_by_key[str(rel.parent / _lr_key(rel.name, scale))] = p
        records = []
        for p in hr_files:
            rel = p.relative_to(self.hr_dir).with_suffix("")
            lr = None
            if self.lr_dir is not None:
                lr_path = lr_by_key.get(str(rel))
                if lr_path is None:
                    raise SRLabError(
                        f"no LR image for {p} in {self.lr_dir} (expected {rel.name}.png or {rel.name}x{scale}.png)"
                    )
                lr = read_image(lr_path)
            records.append(ImageRecord(str(rel), read_image(p), lr, str(p)))
        return records


def _sample_photo(name: str) -> np.ndarray:
    import skimage.data

    if name == "motorcycle":
        img = skimage.data.stereo_motorcycle()[0]
    else:
        loader = getattr(skimage.data, name, None)
        if loader is None:
            raise SRLabError(f"scikit-image ships no photo called {name!r}")
        img = loader()
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = (np.clip(img.astype(np.float64) / (img.max() or 1), 0, 1) * 255).round().astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


class SampleImages:
    """Photos bundled with scikit-image (no download), as an embedded default data set.

    Args:
        names: ``skimage.data`` function names (``"motorcycle"`` is the left stereo view).
    """

    def __init__(self, names: list[str] | tuple[str, ...] = SAMPLE_TRAIN) -> None:
        self.names = tuple(names)

    def __repr__(self) -> str:
        return f"SampleImages({list(self.names)})"

    def load(self, scale: int) -> list[ImageRecord]:
        return [
            ImageRecord(n, torch.from_numpy(_sample_photo(n)).permute(2, 0, 1).contiguous(), None, f"skimage.data.{n}")
            for n in self.names
        ]


class Rescaled:
    """Scale augmentation of a training source: each HR image also at smaller sizes.

    FSRCNN (Dong et al. 2016) and VDSR enlarge small training sets this way: every HR image is
    downscaled by each factor (MATLAB-exact bicubic, antialiased) and the result is used as an
    extra HR image, so the network sees the same content at several sharpnesses. Pre-made LR
    images of the wrapped source are dropped (they only match factor 1).

    Args:
        source: any source with ``load(scale) -> list[ImageRecord]`` (e.g. :class:`SampleImages`).
        factors: HR size factors in (0, 1], e.g. ``[1.0, 0.9, 0.8, 0.7, 0.6]`` (FSRCNN).
    """

    def __init__(self, source: Any, factors: list[float] | tuple[float, ...] = (1.0, 0.9, 0.8, 0.7, 0.6)) -> None:
        bad = [f for f in factors if not 0 < float(f) <= 1]
        if bad or not factors:
            raise SRLabError(f"Rescaled factors must lie in (0, 1], got {list(factors)}")
        self.source = source
        self.factors = tuple(float(f) for f in factors)

    def __repr__(self) -> str:
        return f"Rescaled({self.source!r}, factors={list(self.factors)})"

    def load(self, scale: int) -> list[ImageRecord]:
        out = []
        for rec in self.source.load(scale):
            for f in self.factors:
                if f == 1.0:
                    out.append(ImageRecord(rec.name, rec.hr, None, rec.path))
                    continue
                hr = imresize(rec.hr.float().div(255.0), f, antialias=True)  # MATLAB imresize(I, f)
                hr = hr.clamp(0, 1).mul(255.0).round().to(torch.uint8)
                out.append(ImageRecord(f"{rec.name}@{f:g}", hr, None, rec.path))
        return out
