"""The LightningDataModule: sources -> degraded pairs (cached in memory) -> patches / images."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader
from typing_extensions import override

from ..errors import SRLabError
from .datasets import (
    DegradedPatchDataset,
    IntensityJitter,
    MultiScalePatchDataset,
    PatchDataset,
    WholeImageDataset,
)
from .degradation import Degradation, mod_crop
from .sampling import (
    EvalShardSampler,
    PaddedEvalDataset,
    ResumableDataLoader,
    SeededPatchSampler,
    SeededScaleSampler,
)
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


def _as_scales(scale: Any) -> tuple[int, ...]:
    values = list(scale) if isinstance(scale, Sequence) and not isinstance(scale, str) else [scale]
    out = []
    for s in values:
        if isinstance(s, bool) or (
            not isinstance(s, int) and not (isinstance(s, float) and s.is_integer())
        ):
            raise SRLabError(f"data.scale must be an integer or a list of integers, got {scale!r}")
        if int(s) < 1:
            raise SRLabError(f"data.scale must be positive, got {scale!r}")
        out.append(int(s))
    if not out:
        raise SRLabError("data.scale is an empty list")
    return tuple(dict.fromkeys(out))


class _PerScaleFolder:
    """HR folder + LR folder whose path names the scale (``.../X{scale}``): one folder per scale."""

    def __init__(self, hr_dir: str, lr_pattern: str) -> None:
        self.hr_dir, self.lr_pattern = hr_dir, lr_pattern

    def __repr__(self) -> str:
        return f"ImageFolder({self.hr_dir!r}, lr_dir={self.lr_pattern!r})"

    def load(self, scale: int) -> list[ImageRecord]:
        return ImageFolder(self.hr_dir, self.lr_pattern.format(scale=scale)).load(scale)


def _folder(hr_dir: str, lr_dir: str | None, multi: bool, what: str) -> Any:
    if lr_dir and "{scale}" in str(lr_dir):
        return _PerScaleFolder(hr_dir, str(lr_dir))
    if lr_dir and multi:
        raise SRLabError(
            f"data.{what}_lr_dir={lr_dir} holds one scale but data.scale lists several: put "
            "{scale} in the path, e.g. DIV2K_train_LR_bicubic/X{scale}"
        )
    return ImageFolder(hr_dir, lr_dir, skip_bad=what == "train")


def _as_degradation(d: Any) -> Degradation | None:
    """``data.degradation``: ``None``, a :class:`Degradation`, or ``{steps: [...], seed: 0}``."""
    if d is None or isinstance(d, Degradation):
        return d
    if isinstance(d, Mapping):
        from omegaconf import DictConfig, OmegaConf

        d = OmegaConf.to_container(d, resolve=True) if isinstance(d, DictConfig) else dict(d)
        return Degradation(**d)
    raise SRLabError(f"data.degradation must be {{steps: [...], seed: ...}}, got {d!r}")


def _as_intensity(d: Any) -> IntensityJitter | None:
    """``data.intensity``: ``None``, an :class:`IntensityJitter` or ``{p, contrast: [lo, hi]}``."""
    if d is None or isinstance(d, IntensityJitter):
        return d
    if isinstance(d, Mapping):
        unknown = set(d) - {"p", "contrast", "quantize"}
        if unknown:
            raise SRLabError(
                f"data.intensity takes p, contrast and quantize, not {sorted(unknown)}"
            )
        kwargs: dict[str, Any] = {k: (list(v) if k == "contrast" else v) for k, v in d.items()}
        return IntensityJitter(**kwargs)
    raise SRLabError(f"data.intensity must be {{p: 0.5, contrast: [0.1, 1.0]}} or null, got {d!r}")


class SRDataModule(pl.LightningDataModule):
    """HR images in, aligned LR/HR pairs out.

    Every HR image is decoded once, mod-cropped to the scale and degraded once (the bicubic
    degradation is deterministic), and the uint8 pairs stay in memory; training draws random
    aligned patches with flips/rotations, validation and test use whole images. Every batch is
    a dict ``{"lr", "hr", "name", "scale"}``; validation and test batches also carry
    ``"file_channels"`` (1 for a grey HR file, which the protocol's grey rule scores apart).

    Multi-scale training: with a list of scales (``data.scale=[2,3,4]``, for networks that
    serve several scales, see :mod:`srlab.archs.base`) each training batch holds patches of
    **one** scale drawn at random per batch (``batch["scale"]``; seeded by the run's seed, the
    same on every DDP rank and after a mid-epoch resume: :mod:`srlab.data.sampling`); the LR patch
    side ``patch_size`` is the same for every scale (EDSR/MDSR/CARN), or with ``hr_patch_size`` the
    LR side is ``hr_patch_size // scale`` per scale (the HR patch rounded down to a multiple of
    the scale, e.g. VDSR's 41: 40/39/40 at x2/x3/x4). Validation and test get one loader per
    scale (in the order of ``data.scale``); ``scale`` is then the first (main) scale. A
    pre-made LR folder must name the scale: ``train_lr_dir=.../X{scale}``.

    Args:
        scale: upscaling factor, or a list of them.
        train, val: image sources (``ImageFolder``, ``SampleImages``) or folder paths.
        test: name -> source, for ``trainer.test`` (one result per set, and per scale).
        train_dir, val_dir, train_lr_dir, val_lr_dir: shortcut for folder sources
            (``data=folder data.train_dir=... data.val_dir=...``).
        patch_size: LR patch side. ``hr_patch_size`` instead gives the HR side (SRCNN's 33).
        batch_size, num_workers: of the training loader (validation uses batch 1: sizes differ).
        samples_per_epoch: random patches per training epoch (all scales together).
        augment: random flips and 90-degree rotations.
        degradation: on-the-fly LR for training patches (``{steps: [...], seed: 0}`` or a
            :class:`~srlab.data.degradation.Degradation`): each HR patch is blurred, bicubic
            downscaled, noised and JPEG-compressed as configured (provided LR images of the
            training source are then not used; validation keeps plain bicubic / provided LR).
            Its configuration is saved as the data module's hyperparameters (logged with the run).
        prepared_dir: a folder written by ``srlab-prepare``: training patches are read from its
            memory-mapped sub-images instead of from ``train`` (much faster on 2K images).
        intensity: random contrast/brightness of training pairs, ``{p: 0.5, contrast: [0.1, 1.0]}``
            (:class:`~srlab.data.datasets.IntensityJitter`; ``None``: off). Bicubic pairs only
            (not with ``degradation`` or ``prepared_dir``).
    """

    def __init__(
        self,
        scale: int | Sequence[int] = 3,
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
        degradation: Any = None,
        prepared_dir: str | None = None,
        intensity: Any = None,
    ) -> None:
        super().__init__()
        self.intensity = _as_intensity(intensity)
        if self.intensity is not None and (degradation is not None or prepared_dir is not None):
            raise SRLabError(
                "data.intensity jitters bicubic LR/HR pairs; it cannot be combined with "
                "data.degradation or data.prepared_dir (set one of them to null)"
            )
        self.degradation = _as_degradation(degradation)
        if self.degradation is not None:
            self.save_hyperparameters({"degradation": self.degradation.config()})
        self.prepared_dir = prepared_dir
        self.scales = _as_scales(scale)
        self.scale = self.scales[0]
        multi = self.multi_scale
        if train is None and train_dir is not None:
            train = _folder(train_dir, train_lr_dir, multi, "train")
        if val is None and val_dir is not None:
            val = _folder(val_dir, val_lr_dir, multi, "val")
        self.train_source = _as_source(train, "train")
        self.val_source = _as_source(val, "val")
        self.test_sources = {k: _as_source(v, f"test.{k}") for k, v in (test or {}).items()}
        self.patch_sizes: dict[int, int] = {}
        if hr_patch_size is not None:
            if not multi and hr_patch_size % self.scale:
                raise SRLabError(
                    f"data.hr_patch_size={hr_patch_size} "
                    f"is not a multiple of the scale {self.scale}"
                )
            self.patch_sizes = {s: hr_patch_size // s for s in self.scales}
            patch_size = self.patch_sizes[self.scale]
        if not patch_size or patch_size < 1:
            raise SRLabError(f"data.patch_size must be a positive LR patch size, got {patch_size}")
        self.patch_size = int(patch_size)
        if not self.patch_sizes:
            self.patch_sizes = {s: self.patch_size for s in self.scales}
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.samples_per_epoch = samples_per_epoch
        self.augment = augment
        self.pin_memory = pin_memory
        self._cache: dict[tuple[int, int], list[ImageRecord]] = {}
        self.train_set: PatchDataset | MultiScalePatchDataset | None = None
        self.val_set: WholeImageDataset | None = None
        self.val_sets: dict[int, WholeImageDataset] = {}
        self.test_sets: dict[str, WholeImageDataset] = {}

    @property
    def multi_scale(self) -> bool:
        """True when training draws from several scales."""
        return len(self.scales) > 1

    def _records(self, source: Any, scale: int | None = None) -> list[ImageRecord]:
        scale = self.scale if scale is None else scale
        key = (id(source), scale)
        if key not in self._cache:
            self._cache[key] = [prepare_pair(r, scale) for r in source.load(scale)]
        return self._cache[key]

    @override
    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            if self.train_source is None and self.prepared_dir is None:
                raise SRLabError("no training data: set data.train_dir (or use data=sample)")
            per_scale = {s: self._train_dataset(s) for s in self.scales}
            self.train_set = (
                MultiScalePatchDataset(per_scale, self.samples_per_epoch)
                if self.multi_scale
                else per_scale[self.scale]
            )
        if stage in (None, "fit", "validate") and not self.val_sets and self.val_source is not None:
            self.val_sets = {
                s: WholeImageDataset(self._records(self.val_source, s), s) for s in self.scales
            }
            self.val_set = self.val_sets[self.scale]
        if stage in (None, "test") and not self.test_sets:
            self.test_sets = {
                name: WholeImageDataset(self._records(src, s), s)
                for name, src, s in self._test_items()
            }

    def _train_dataset(self, s: int) -> Any:
        if self.prepared_dir is not None:
            from .prepare import PreparedPatches

            return PreparedPatches(
                self.prepared_dir,
                s,
                self.patch_sizes[s],
                self.augment,
                self.samples_per_epoch,
                self.degradation,
            )
        if self.degradation is not None:
            hr_only = [
                ImageRecord(r.name, mod_crop(r.hr, s), None, r.path)
                for r in self.train_source.load(s)
            ]
            return DegradedPatchDataset(
                hr_only,
                s,
                self.patch_sizes[s],
                self.degradation,
                self.augment,
                self.samples_per_epoch,
            )
        return PatchDataset(
            self._records(self.train_source, s),
            s,
            self.patch_sizes[s],
            self.augment,
            self.samples_per_epoch,
            intensity=self.intensity,
        )

    def _test_items(self) -> list[tuple[str, Any, int]]:
        if not self.multi_scale:
            return [(k, src, self.scale) for k, src in self.test_sources.items()]
        return [(f"{k}/x{s}", src, s) for k, src in self.test_sources.items() for s in self.scales]

    @override
    def train_dataloader(self) -> DataLoader[Any]:
        # a seeded, rank-sharded, resumable sampler (see srlab.data.sampling): the patch of a
        # sample is a function of (seed, epoch, slot), and with several scales the scale of a
        # batch one of (seed, epoch, batch), whatever the rank or a resume
        train_set = self.train_set
        if train_set is None:
            raise RuntimeError("SRDataModule.train_dataloader() needs setup('fit') first")
        trainer = self.trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        seed = self._sample_seed()
        if trainer is not None and world > 1 and "PL_GLOBAL_SEED" not in os.environ:
            # an unseeded DDP run: every rank must shard (and pick each batch's scale) with the
            # same seed, rank 0's (this hook runs on every rank, so the broadcast is safe)
            seed = int(trainer.strategy.broadcast(seed, src=0))
        train_set.seed = seed
        if isinstance(train_set, MultiScalePatchDataset):
            sampler: SeededPatchSampler = SeededScaleSampler(
                train_set,
                self.scales,
                self.batch_size,
                num_replicas=world,
                rank=rank,
                seed=seed,
            )
        else:
            sampler = SeededPatchSampler(train_set, num_replicas=world, rank=rank, seed=seed)
        return ResumableDataLoader(
            train_set,
            sampler=sampler,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            drop_last=True,
            persistent_workers=self.num_workers > 0,
        )

    @staticmethod
    def _sample_seed() -> int:
        """The run's seed (``seed_everything`` exports it; every DDP rank has the same).

        Else a fresh random one: unseeded single-process runs draw different patches every run.
        """
        env = os.environ.get("PL_GLOBAL_SEED")
        return int(env) if env is not None else int(torch.randint(0, 2**31 - 1, ()))

    @override
    def val_dataloader(self) -> DataLoader[Any] | list[DataLoader[Any]]:
        """One loader (single scale), or one per scale in the order of ``data.scale``."""
        if not self.val_sets:
            return []
        loaders = [self._eval_loader(ds) for ds in self.val_sets.values()]
        return loaders if self.multi_scale else loaders[0]

    @override
    def test_dataloader(self) -> list[DataLoader[Any]]:
        return [self._eval_loader(ds) for ds in self.test_sets.values()]

    def _eval_loader(self, ds: WholeImageDataset) -> DataLoader[Any]:
        """A loader of batch 1 (image sizes differ) over ``ds``, sharded under DDP.

        Each rank gets its shard of the images, padded so that every rank runs the same number
        of steps (:class:`EvalShardSampler`): each image counts once in the metrics and no rank
        leaves the loop (and its collectives) early.
        """
        trainer = self.trainer
        if trainer is None or trainer.world_size <= 1:
            return DataLoader(ds, batch_size=1, num_workers=0)
        world = trainer.world_size
        sampler = EvalShardSampler(ds, num_replicas=world, rank=trainer.global_rank)
        return DataLoader(PaddedEvalDataset(ds), batch_size=1, num_workers=0, sampler=sampler)

    @property
    def test_names(self) -> list[str]:
        """Names of the test loaders: the set names, ``<set>/x<scale>`` when multi-scale."""
        return [name for name, _, _ in self._test_items()]


def sample_datamodule(scale: int | Sequence[int] = 3, **kwargs: Any) -> SRDataModule:
    """The embedded default data set (scikit-image photos), as ``data=sample`` builds it."""
    from .sources import SAMPLE_TRAIN, SAMPLE_VAL

    return SRDataModule(
        scale, train=SampleImages(SAMPLE_TRAIN), val=SampleImages(SAMPLE_VAL), **kwargs
    )
