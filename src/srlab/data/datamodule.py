"""The LightningDataModule: sources -> degraded pairs (cached in memory) -> patches / images."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from ..errors import SRLabError
from .datasets import PatchDataset, WholeImageDataset
from .sources import ImageFolder, ImageRecord, SampleImages, prepare_pair

__all__ = ["SRDataModule"]


def _as_source(src: Any, what: str) -> Any:
    if src is None:
        return None
    if isinstance(src, (str, os.PathLike)):
        return ImageFolder(src)
    if not hasattr(src, "load"):
        raise SRLabError(f"data.{what} must be a folder path or an image source, got {src!r}")
    return src


class SRDataModule(pl.LightningDataModule):
    """HR images in, aligned LR/HR pairs out.

    Every HR image is decoded once, mod-cropped to the scale and degraded once (the bicubic
    degradation is deterministic), and the uint8 pairs stay in memory; training draws random
    aligned patches with flips/rotations, validation and test use whole images.

    Args:
        scale: upscaling factor.
        train, val: image sources (``ImageFolder``, ``SampleImages``) or folder paths.
        test: name -> source, for ``trainer.test`` (one result per set).
        train_dir, val_dir, train_lr_dir, val_lr_dir: shortcut for folder sources
            (``data=folder data.train_dir=... data.val_dir=...``).
        patch_size: LR patch side. ``hr_patch_size`` instead gives the HR side (SRCNN's 33).
        batch_size, num_workers: of the training loader (validation uses batch 1: sizes differ).
        samples_per_epoch: random patches per training epoch.
        augment: random flips and 90-degree rotations.
    """

    def __init__(
        self,
        scale: int = 3,
        train: Any = None,
        val: Any = None,
        test: Mapping[str, Any] | None = None,
        train_dir: str | None = None,
        val_dir: str | None = None,
        train_lr_dir: str | None = None,
        val_lr_dir: str | None = None,
        patch_size: int | None = 17,
        hr_patch_size: int | None = None,
        batch_size: int = 16,
        num_workers: int = 0,
        samples_per_epoch: int = 1600,
        augment: bool = True,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        self.scale = int(scale)
        if train is None and train_dir is not None:
            train = ImageFolder(train_dir, train_lr_dir)
        if val is None and val_dir is not None:
            val = ImageFolder(val_dir, val_lr_dir)
        self.train_source = _as_source(train, "train")
        self.val_source = _as_source(val, "val")
        self.test_sources = {k: _as_source(v, f"test.{k}") for k, v in (test or {}).items()}
        if hr_patch_size is not None:
            if hr_patch_size % self.scale:
                raise SRLabError(f"data.hr_patch_size={hr_patch_size} is not a multiple of the scale {self.scale}")
            patch_size = hr_patch_size // self.scale
        if not patch_size or patch_size < 1:
            raise SRLabError(f"data.patch_size must be a positive LR patch size, got {patch_size}")
        self.patch_size = int(patch_size)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.samples_per_epoch = samples_per_epoch
        self.augment = augment
        self.pin_memory = pin_memory
        self._cache: dict[int, list[ImageRecord]] = {}
        self.train_set: PatchDataset | None = None
        self.val_set: WholeImageDataset | None = None
        self.test_sets: dict[str, WholeImageDataset] = {}

    def _records(self, source: Any) -> list[ImageRecord]:
        key = id(source)
        if key not in self._cache:
            self._cache[key] = [prepare_pair(r, self.scale) for r in source.load(self.scale)]
        return self._cache[key]

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            if self.train_source is None:
                raise SRLabError("no training data: set data.train_dir (or use data=sample)")
            self.train_set = PatchDataset(
                self._records(self.train_source), self.scale, self.patch_size, self.augment, self.samples_per_epoch
            )
        if stage in (None, "fit", "validate") and self.val_set is None and self.val_source is not None:
            self.val_set = WholeImageDataset(self._records(self.val_source))
        if stage in (None, "test") and not self.test_sets:
            self.test_sets = {k: WholeImageDataset(self._records(s)) for k, s in self.test_sources.items()}

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            shuffle=True,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            drop_last=True,
            persistent_workers=self.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None:
            return []
        return DataLoader(self.val_set, batch_size=1, num_workers=0)

    def test_dataloader(self) -> list[DataLoader]:
        return [DataLoader(ds, batch_size=1, num_workers=0) for ds in self.test_sets.values()]

    @property
    def test_names(self) -> list[str]:
        return list(self.test_sources)


def sample_datamodule(scale: int = 3, **kwargs: Any) -> SRDataModule:
    """The embedded default data set (scikit-image photos), as ``data=sample`` builds it."""
    from .sources import SAMPLE_TRAIN, SAMPLE_VAL

    return SRDataModule(scale, train=SampleImages(SAMPLE_TRAIN), val=SampleImages(SAMPLE_VAL), **kwargs)
