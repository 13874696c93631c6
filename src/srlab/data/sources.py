"""Where images come from: folders of HR images, optionally with LR folders, and skimage's photos.

A source returns :class:`ImageRecord`s; degradation and patching are the datasets' job.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from typing_extensions import override

from ..core.imresize import imresize
from ..errors import SRLabError
from .degradation import bicubic_downscale, mod_crop
from .io import list_images, read_image

__all__ = [
    "ImageRecord",
    "ImageFolder",
    "SampleImages",
    "Rescaled",
    "Concat",
    "DIV2K",
    "Flickr2K",
    "DF2K",
    "Waterloo",
    "Benchmark",
    "BENCHMARK_SETS",
    "SAMPLE_TRAIN",
    "SAMPLE_VAL",
    "SAMPLE_TEST",
]

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
        raise SRLabError(
            f"image {rec.path or rec.name} ({tuple(rec.hr.shape[-2:])}) "
            f"is smaller than the scale x{scale}"
        )
    if rec.lr is None:
        lr = bicubic_downscale(hr, scale)
    else:
        lr = rec.lr
        want = (hr.shape[-2] // scale, hr.shape[-1] // scale)
        if tuple(lr.shape[-2:]) != want:
            raise SRLabError(
                f"LR image for {rec.path or rec.name} is {lr.shape[-1]}x{lr.shape[-2]}, "
                f"expected {want[1]}x{want[0]} for x{scale} "
                f"of its {hr.shape[-1]}x{hr.shape[-2]} HR image"
            )
    return ImageRecord(rec.name, hr, lr, rec.path)


def _lr_key(stem: str, scale: int) -> str:
    # DIV2K / benchmark naming: 0001x2.png is the x2 LR image of 0001.png
    return re.sub(rf"[xX]{scale}$", "", stem)


class ImageFolder:
    """HR images from a folder (png/jpg/bmp/tif/webp, recursive), optionally with pre-made LR ones.

    The LR images of the same scale are in another folder, paired by file name (DIV2K's
    ``0001x2.png`` naming included).

    Args:
        hr_dir: folder of HR images.
        lr_dir: folder of LR images for this scale, e.g. ``DIV2K_train_LR_bicubic/X2``; when
            ``None`` the LR images are made with MATLAB-exact bicubic downscaling.
            A ``{scale}`` in the path is replaced by the scale (``.../X{scale}``).
        recursive: look into subfolders.
        limit: use only the first ``limit`` images (sorted by name).
        skip_bad: a file that cannot be decoded (corrupt, truncated) is skipped with one
            warning naming it and the reason, and counted in ``skipped``, instead of stopping
            the run (use it for training sets; test sets should refuse, so the default is off).
    """

    def __init__(
        self,
        hr_dir: str | os.PathLike[str],
        lr_dir: str | os.PathLike[str] | None = None,
        recursive: bool = True,
        limit: int | None = None,
        skip_bad: bool = False,
    ) -> None:
        self.hr_dir = Path(hr_dir)
        self.lr_dir = Path(lr_dir) if lr_dir else None
        self.recursive = recursive
        self.limit = limit
        self.skip_bad = skip_bad
        self.skipped: list[tuple[str, str]] = []

    def __repr__(self) -> str:
        lr_dir = str(self.lr_dir) if self.lr_dir else None
        return f"ImageFolder({str(self.hr_dir)!r}, lr_dir={lr_dir!r})"

    def lr_dir_for(self, scale: int) -> Path | None:
        """The LR folder for ``scale`` (``{scale}`` filled in), or ``None``."""
        if self.lr_dir is None:
            return None
        return Path(str(self.lr_dir).replace("{scale}", str(scale)))

    def files(self, scale: int) -> list[tuple[str, Path, Path | None]]:
        """``(name, hr_path, lr_path or None)`` per image, without decoding anything.

        Raises:
            SRLabError: an HR image has no LR partner in the LR folder (naming both).
        """
        hr_files = list_images(self.hr_dir, self.recursive)[: self.limit]
        lr_dir = self.lr_dir_for(scale)
        lr_by_key: dict[str, Path] = {}
        if lr_dir is not None:
            for p in list_images(lr_dir, self.recursive):
                rel = p.relative_to(lr_dir).with_suffix("")
                lr_by_key[str(rel.parent / _lr_key(rel.name, scale))] = p
        out = []
        for p in hr_files:
            rel = p.relative_to(self.hr_dir).with_suffix("")
            lr_path = None
            if lr_dir is not None:
                lr_path = lr_by_key.get(str(rel))
                if lr_path is None:
                    raise SRLabError(
                        f"no LR image for {p} in {lr_dir} "
                        f"(expected {rel.name}.png or {rel.name}x{scale}.png)"
                    )
            out.append((str(rel), p, lr_path))
        return out

    def load(self, scale: int) -> list[ImageRecord]:
        """Decode the images (and their LR images, if any) for ``scale``.

        With ``skip_bad``, undecodable files are left out and listed in ``skipped``.
        """
        records = []
        self.skipped = []
        for name, p, lr_path in self.files(scale):
            try:
                lr = read_image(lr_path) if lr_path is not None else None
                records.append(ImageRecord(name, read_image(p), lr, str(p)))
            except SRLabError as e:
                if not self.skip_bad:
                    raise
                self.skipped.append((str(p), str(e)))
                warnings.warn(f"skipping a bad training image: {e}", stacklevel=2)
        if self.skipped:
            total = len(self.skipped) + len(records)
            warnings.warn(
                f"{len(self.skipped)} of {total} images skipped in {self.hr_dir}", stacklevel=2
            )
        if not records:
            raise SRLabError(f"no readable image in {self.hr_dir}")
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
        img = (
            (np.clip(img.astype(np.float64) / (img.max() or 1), 0, 1) * 255)
            .round()
            .astype(np.uint8)
        )
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
        """The photos as HR-only records (``scale`` is not needed: the LR is made later)."""
        return [
            ImageRecord(
                n,
                torch.from_numpy(_sample_photo(n)).permute(2, 0, 1).contiguous(),
                None,
                f"skimage.data.{n}",
            )
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

    def __init__(
        self, source: Any, factors: list[float] | tuple[float, ...] = (1.0, 0.9, 0.8, 0.7, 0.6)
    ) -> None:
        bad = [f for f in factors if not 0 < float(f) <= 1]
        if bad or not factors:
            raise SRLabError(f"Rescaled factors must lie in (0, 1], got {list(factors)}")
        self.source = source
        self.factors = tuple(float(f) for f in factors)

    def __repr__(self) -> str:
        return f"Rescaled({self.source!r}, factors={list(self.factors)})"

    def load(self, scale: int) -> list[ImageRecord]:
        """The wrapped source's HR images at every factor, named ``<name>@<factor>`` below 1."""
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


class Concat:
    """Several sources as one (DF2K = DIV2K + Flickr2K).

    Names get the source's ``prefix`` (``"div2k/0001"``) so that equal file names of different
    sets stay apart.

    Args:
        sources: list of sources, or ``{prefix: source}``.
    """

    def __init__(self, sources: Any) -> None:
        if isinstance(sources, dict):
            self.sources = dict(sources)
        else:
            self.sources = {str(i): s for i, s in enumerate(sources)}
        if not self.sources:
            raise SRLabError("Concat needs at least one source")

    def __repr__(self) -> str:
        return f"Concat({self.sources!r})"

    def load(self, scale: int) -> list[ImageRecord]:
        """The records of every source, names prefixed."""
        out = []
        for prefix, src in self.sources.items():
            out += [ImageRecord(f"{prefix}/{r.name}", r.hr, r.lr, r.path) for r in src.load(scale)]
        return out

    def files(self, scale: int) -> list[tuple[str, Path, Path | None]]:
        """``(name, hr_path, lr_path or None)`` of every source's images, names prefixed."""
        return [
            (f"{k}/{n}", h, lr) for k, src in self.sources.items() for n, h, lr in src.files(scale)
        ]


def _track_folder(root: Path, prefix: str, lr: str | None, what: str) -> str | None:
    """LR folder pattern ``<root>/<prefix>_LR_<track>/X{scale}``.

    ``lr="auto"``: the bicubic track when that folder exists (checked per scale at load time),
    else on-the-fly degradation.
    """
    if lr in (None, "none", "on_the_fly"):
        return None
    if lr == "auto":
        return "auto"
    if lr not in ("bicubic", "unknown"):
        raise SRLabError(f"{what}: lr must be 'bicubic', 'unknown', 'auto' or null, got {lr!r}")
    return str(root / f"{prefix}_LR_{lr}" / "X{scale}")


class _TrackFolder(ImageFolder):
    """ImageFolder whose LR track may be ``"auto"`` (the bicubic track where present)."""

    def __init__(self, hr_dir: Path, lr_dir: str | None, auto_dir: str, **kw: Any) -> None:
        super().__init__(hr_dir, None if lr_dir == "auto" else lr_dir, **kw)
        self.auto_dir = auto_dir if lr_dir == "auto" else None

    def lr_dir_for(self, scale: int) -> Path | None:
        if self.auto_dir is not None:
            p = Path(self.auto_dir.replace("{scale}", str(scale)))
            return p if p.is_dir() else None
        return super().lr_dir_for(scale)


class DIV2K(_TrackFolder):
    """DIV2K (Agustsson & Timofte 2017): 800 training and 100 validation 2K images.

    Layout under ``root``::

        DIV2K_train_HR/0001.png ... 0800.png      DIV2K_valid_HR/0801.png ... 0900.png
        DIV2K_train_LR_bicubic/X2/0001x2.png      DIV2K_valid_LR_bicubic/X2/0801x2.png
        DIV2K_train_LR_unknown/X4/0001x4.png      (X3, X4 alike)

    Args:
        root: the folder holding the ``DIV2K_*`` folders.
        split: ``"train"`` (800) or ``"valid"`` (100).
        lr: ``"bicubic"`` or ``"unknown"`` (the provided LR track), ``"auto"`` (the bicubic
            track when its ``X{scale}`` folder exists, else made on the fly), ``None`` (always
            made on the fly: MATLAB bicubic or ``data.degradation``).
        limit, skip_bad: as :class:`ImageFolder`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        lr: str | None = "auto",
        limit: int | None = None,
        skip_bad: bool = False,
    ) -> None:
        if split not in ("train", "valid"):
            raise SRLabError(f"DIV2K split must be 'train' or 'valid', got {split!r}")
        root = Path(root)
        pre = f"DIV2K_{split}"
        super().__init__(
            root / f"{pre}_HR",
            _track_folder(root, pre, lr, "DIV2K"),
            str(root / f"{pre}_LR_bicubic" / "X{scale}"),
            limit=limit,
            skip_bad=skip_bad,
        )
        self.split = split


class Flickr2K(_TrackFolder):
    """Flickr2K (Lim et al. 2017, EDSR): 2650 2K images, DIV2K's LR naming.

    Layout under ``root`` (the ``Flickr2K`` folder)::

        Flickr2K_HR/000001.png ... 002650.png
        Flickr2K_LR_bicubic/X2/000001x2.png       (X3, X4; Flickr2K_LR_unknown alike)

    Args: as :class:`DIV2K` without ``split``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        lr: str | None = "auto",
        limit: int | None = None,
        skip_bad: bool = False,
    ) -> None:
        root = Path(root)
        super().__init__(
            root / "Flickr2K_HR",
            _track_folder(root, "Flickr2K", lr, "Flickr2K"),
            str(root / "Flickr2K_LR_bicubic" / "X{scale}"),
            limit=limit,
            skip_bad=skip_bad,
        )


class DF2K(Concat):
    """DF2K = the 800 DIV2K training images + the 2650 Flickr2K images (3450).

    Args:
        div2k_root: folder holding ``DIV2K_train_HR`` (see :class:`DIV2K`).
        flickr2k_root: the ``Flickr2K`` folder (see :class:`Flickr2K`).
        lr, skip_bad: as :class:`DIV2K`, for both.
    """

    def __init__(
        self,
        div2k_root: str | os.PathLike[str],
        flickr2k_root: str | os.PathLike[str],
        lr: str | None = "auto",
        skip_bad: bool = False,
    ) -> None:
        super().__init__(
            {
                "div2k": DIV2K(div2k_root, "train", lr, skip_bad=skip_bad),
                "flickr2k": Flickr2K(flickr2k_root, lr, skip_bad=skip_bad),
            }
        )


class Waterloo(ImageFolder):
    """Waterloo Exploration Database (Ma et al. 2017): 4,744 pristine natural images (BMP).

    Layout under ``root``::

        pristine_images/00001.bmp ... 04744.bmp
        distorted_images/<type>/00001_1.bmp ...   (ignored unless selected)

    Args:
        root: the database folder.
        distortions: distorted-image subfolders to add as further HR images (e.g.
            ``["jpeg"]``); ``None`` (default) uses the pristine images only, as SR training does.
        limit, skip_bad: as :class:`ImageFolder`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        distortions: list[str] | None = None,
        limit: int | None = None,
        skip_bad: bool = False,
    ) -> None:
        root = Path(root)
        super().__init__(
            root / "pristine_images", None, recursive=False, limit=limit, skip_bad=skip_bad
        )
        self.extra = [
            ImageFolder(root / "distorted_images" / d, skip_bad=skip_bad)
            for d in (distortions or [])
        ]

    @override
    def files(self, scale: int) -> list[tuple[str, Path, Path | None]]:
        out = super().files(scale)
        for f in self.extra:
            out += [(f"{f.hr_dir.name}/{n}", h, lr) for n, h, lr in f.files(scale)]
        return out


#: the standard SR test sets (``B100`` is BSD100, the 100 BSDS300 test images)
BENCHMARK_SETS = ("Set5", "Set14", "B100", "Urban100", "Manga109")
_BENCH_ALIASES = {"bsd100": "B100", "bsds100": "B100"}


class Benchmark(ImageFolder):
    """A benchmark test set by name, in either common layout under ``root``.

    The layouts::

        <root>/Set5/HR/baby.png ...  + <root>/Set5/LR_bicubic/X2/babyx2.png   (provided LR)
        <root>/Set5/HR/baby.png ...                          (LR made by MATLAB bicubic)
        <root>/Set5/baby.png ...                             (plain folder of HR images)

    The provided ``LR_bicubic/X{scale}`` folder is used when it exists for the scale.

    Args:
        name: ``Set5``, ``Set14``, ``B100`` (alias ``BSD100``), ``Urban100``, ``Manga109`` or any
            folder name under ``root``.
        root: the folder holding the sets (``data/benchmark`` by default).
        lr: ``"auto"`` (provided LR when present) or ``None`` (always MATLAB bicubic).
    """

    def __init__(
        self, name: str, root: str | os.PathLike[str] = "data/benchmark", lr: str | None = "auto"
    ) -> None:
        name = _BENCH_ALIASES.get(name.lower(), name)
        base = Path(root) / name
        if not base.is_dir():
            raise SRLabError(f"benchmark set {name} not found: {base} is not a folder")
        hr = base / "HR" if (base / "HR").is_dir() else base
        super().__init__(hr, None, recursive=hr != base)
        self.name = name
        self.base = base
        self.lr = lr

    @override
    def lr_dir_for(self, scale: int) -> Path | None:
        p = self.base / "LR_bicubic" / f"X{scale}"
        return p if self.lr == "auto" and p.is_dir() else None
