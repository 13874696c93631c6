"""Datasets yielding named dicts ``{"lr", "hr", "name", "scale"}``.

``lr`` and ``hr`` are float32 RGB tensors in [0, 1], ``scale`` an int: the HR/LR size ratio of
the pair.

Multi-scale training (one model for several scales) draws **one scale per batch**, since LR
patches of different scales do not stack: :class:`MultiScalePatchDataset` is indexed by
``(scale, i)`` and :class:`ScaleBatchSampler` picks a random scale for each batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import BatchSampler, Dataset, Sampler

from ..errors import SRLabError
from .degradation import Degradation
from .io import is_grey_file, to_float
from .sampling import sample_generator
from .sources import ImageRecord

__all__ = [
    "PatchDataset",
    "DegradedPatchDataset",
    "WholeImageDataset",
    "MultiScalePatchDataset",
    "ScaleBatchSampler",
    "augment_pair",
    "IntensityJitter",
]


def augment_pair(
    lr: Tensor, hr: Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """The same random horizontal flip, vertical flip and 90-degree rotation on LR and HR.

    These are the 8 dihedral transforms, as in EDSR/RCAN training.
    """
    hflip, vflip, rot = torch.randint(0, 2, (3,), generator=generator).tolist()
    if hflip:
        lr, hr = lr.flip(-1), hr.flip(-1)
    if vflip:
        lr, hr = lr.flip(-2), hr.flip(-2)
    if rot:
        lr, hr = lr.transpose(-1, -2), hr.transpose(-1, -2)
    return lr, hr


class IntensityJitter:
    """Random contrast and brightness: one affine map ``y = c (x - m) + t`` on the LR and HR patch.

    The map acts on all channels and the result is re-quantised to 8 bits, as stored images are.

    The pair stays consistent because bicubic downscaling is linear and keeps constants
    (its kernel sums to one): the LR of the mapped HR is the mapped LR, up to 8-bit rounding,
    which is re-done here. The point is coverage: a few training photos hold few flat,
    low-contrast regions at every grey level, and a network that has only seen textured
    patches sharpens the quantisation steps of smooth images (measured on the tanh ESPCN demo:
    the near-flat ``cell`` photo, bicubic 56.7 dB, lost 2.6-4.5 dB to bicubic without this,
    2.0-2.4 dB with it; the ReLU demo loses ~2.1 dB either way, see
    ``experiments/demo_recipe/``). torchvision's/kornia's colour jitter work on
    one image; here one draw must hit both images of the pair, and the offset is drawn inside
    the range that keeps the patch in [0, 1] (no clipping, which would break the pairing).

    Args:
        p: probability of jittering a sample.
        contrast: range of the contrast factor ``c`` (at most 1: contrast is only reduced, so
            an offset keeping the patch in [0, 1] always exists).
        quantize: round the result to 8 bits.
    """

    def __init__(
        self, p: float = 0.5, contrast: Sequence[float] = (0.1, 1.0), quantize: bool = True
    ) -> None:
        lo, hi = (float(c) for c in contrast)
        if not (0.0 < lo <= hi <= 1.0):
            raise SRLabError(
                f"data.intensity.contrast must be a range within (0, 1], got {list(contrast)}"
            )
        if not 0.0 <= p <= 1.0:
            raise SRLabError(f"data.intensity.p must be a probability, got {p}")
        self.p, self.contrast, self.quantize = float(p), (lo, hi), bool(quantize)

    def __call__(
        self, lr: Tensor, hr: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Jitter the pair ``(lr, hr)`` with probability ``p``; returns the new (or same) pair."""
        u = torch.rand(3, generator=generator).tolist()
        if u[0] >= self.p:
            return lr, hr
        lo, hi = self.contrast
        c = lo + (hi - lo) * u[1]
        m = float(hr.mean())
        vmin, vmax = min(float(lr.min()), float(hr.min())), max(float(lr.max()), float(hr.max()))
        t_lo, t_hi = -(vmin - m) * c, 1.0 - (vmax - m) * c  # y stays in [0, 1] for t in this range
        t = t_lo + (t_hi - t_lo) * u[2]
        out = []
        for x in (lr, hr):
            y = (x - m).mul_(c).add_(t)
            if self.quantize:
                y = y.mul_(255.0).round_().div_(255.0)
            out.append(y.clamp_(0.0, 1.0))
        return out[0], out[1]

    def __repr__(self) -> str:
        return (
            f"IntensityJitter(p={self.p}, contrast={list(self.contrast)}, quantize={self.quantize})"
        )


def _lr_of(rec: ImageRecord) -> Tensor:
    """The LR image of a prepared pair (see :func:`srlab.data.sources.prepare_pair`)."""
    if rec.lr is None:
        raise SRLabError(
            f"image {rec.path or rec.name} has no LR image: the datasets take prepared pairs "
            "(srlab.data.sources.prepare_pair)"
        )
    return rec.lr


class PatchDataset(Dataset[dict[str, Any]]):
    """Random aligned LR/HR patches from whole prepared image pairs.

    Args:
        records: prepared pairs (HR mod-cropped, LR present), uint8 ``(3, H, W)``.
        scale: HR/LR size ratio.
        patch_size: LR patch side; the HR patch is ``patch_size * scale``.
        augment: random flips and 90-degree rotations.
        length: samples per epoch (patches are drawn at random, so an epoch is a budget).
        seed: ``None``: patches from torch's global RNG. An int: the patch of index ``i`` is a
            function of ``(seed, i)`` alone (see :mod:`srlab.data.sampling`: resumable runs).
        intensity: an :class:`IntensityJitter` applied to each pair (``None``: off).
    """

    def __init__(
        self,
        records: list[ImageRecord],
        scale: int,
        patch_size: int,
        augment: bool = True,
        length: int = 1000,
        seed: int | None = None,
        intensity: IntensityJitter | None = None,
    ) -> None:
        if not records:
            raise SRLabError("the training set is empty")
        for r in records:
            self._check_size(r, scale, patch_size)
        self.records = records
        self.scale = scale
        self.patch_size = patch_size
        self.augment = augment
        self.length = length
        self.seed = seed
        self.intensity = intensity

    @staticmethod
    def _check_size(r: ImageRecord, scale: int, patch_size: int) -> None:
        h, w = _lr_of(r).shape[-2:]
        if h < patch_size or w < patch_size:
            hr_side = patch_size * scale
            raise SRLabError(
                f"image {r.path or r.name} is too small for the patch: its LR is {w}x{h}, "
                f"the LR patch is {patch_size}x{patch_size} (HR {hr_side}x{hr_side})"
            )

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        rec = self.records[index % len(self.records)]
        p, s = self.patch_size, self.scale
        rec_lr = _lr_of(rec)
        h, w = rec_lr.shape[-2:]
        g = None if self.seed is None else sample_generator(self.seed, index)
        i = int(torch.randint(0, h - p + 1, (), generator=g))
        j = int(torch.randint(0, w - p + 1, (), generator=g))
        lr = rec_lr[:, i : i + p, j : j + p]
        hr = rec.hr[:, i * s : (i + p) * s, j * s : (j + p) * s]
        if self.augment:
            lr, hr = augment_pair(lr, hr, generator=g)
        return self._item(lr, hr, rec.name, g)

    def _item(self, lr: Tensor, hr: Tensor, name: str, g: torch.Generator | None) -> dict[str, Any]:
        lr, hr = to_float(lr.contiguous()), to_float(hr.contiguous())
        if self.intensity is not None:
            lr, hr = self.intensity(lr, hr, generator=g)
        return {"lr": lr, "hr": hr, "name": name, "scale": self.scale}


class DegradedPatchDataset(PatchDataset):
    """Random patches whose LR is made on the fly by a :class:`~srlab.data.degradation.Degradation`.

    HR patch -> blur -> MATLAB bicubic -> noise -> JPEG -> LR patch, the LR exactly
    ``patch_size``. The HR patch is cut with a margin of ``margin`` LR pixels (more when the
    largest blur kernel needs it) on every side where the image allows, degraded, and the margin
    cut away again, so the blur and bicubic kernels see real pixels instead of padding. Each
    sample draws its own seed from torch's global generator (or, with ``seed`` set, from
    ``sample_generator(seed, index)``), so a run is reproducible; ``last_params`` holds the
    parameters of the latest sample (for logging).

    Args:
        records: mod-cropped HR images (their ``lr`` is ignored).
        degradation: the degradation model.
        scale, patch_size, augment, length: as :class:`PatchDataset`.
        margin: context in LR pixels around the patch.
    """

    def __init__(
        self,
        records: list[ImageRecord],
        scale: int,
        patch_size: int,
        degradation: Degradation,
        augment: bool = True,
        length: int = 1000,
        margin: int = 4,
    ) -> None:
        # seed: set by the datamodule (seeded, resumable sampling); no IntensityJitter, which is
        # exact for bicubic pairs only (not noise/JPEG)
        super().__init__(records, scale, patch_size, augment, length)
        self.degradation = degradation
        self.margin = margin
        self.last_params: dict[str, Any] | None = None

    @staticmethod
    def _check_size(r: ImageRecord, scale: int, patch_size: int) -> None:
        h, w = r.hr.shape[-2:]  # the LR is made from the HR patch
        if h < patch_size * scale or w < patch_size * scale:
            raise SRLabError(
                f"image {r.path or r.name} ({w}x{h}) is smaller than the HR patch "
                f"{patch_size * scale}x{patch_size * scale} (LR patch {patch_size} at x{scale})"
            )

    def __getitem__(self, index: int) -> dict[str, Any]:
        rec = self.records[index % len(self.records)]
        p, s = self.patch_size, self.scale
        # the blur radius + the bicubic support
        m = max(self.margin, -(-self.degradation.hr_support // s) + 2)
        h, w = rec.hr.shape[-2] // s, rec.hr.shape[-1] // s
        g = None if self.seed is None else sample_generator(self.seed, index)
        i = int(torch.randint(0, h - p + 1, (), generator=g))
        j = int(torch.randint(0, w - p + 1, (), generator=g))
        t, left = max(0, i - m), max(0, j - m)
        b, r = min(h, i + p + m), min(w, j + p + m)
        seed = int(torch.randint(0, 2**62, (), generator=g))
        region = rec.hr[:, t * s : b * s, left * s : r * s]
        lr, self.last_params = self.degradation(region, s, seed=seed)
        lr = lr[:, i - t : i - t + p, j - left : j - left + p]
        hr = rec.hr[:, i * s : (i + p) * s, j * s : (j + p) * s]
        if self.augment:
            lr, hr = augment_pair(lr, hr, generator=g)
        return self._item(lr, hr, rec.name, g)


class WholeImageDataset(Dataset[dict[str, Any]]):
    """Whole prepared image pairs (validation and test).

    An item is ``{"lr", "hr", "name", "scale", "file_channels"}``: ``file_channels`` is the
    channel count of the HR file (1 for a grey file such as Set14's ``bridge.bmp``, whose
    tensors are replicated to RGB; 3 otherwise), which the SR protocol's grey-file rule reads.

    Args:
        records: prepared pairs.
        scale: their scale, returned with each item (``None``: worked out from the sizes).
    """

    def __init__(self, records: list[ImageRecord], scale: int | None = None) -> None:
        if not records:
            raise SRLabError("the evaluation set is empty")
        self.records = records
        if scale is None:
            scale = records[0].hr.shape[-1] // _lr_of(records[0]).shape[-1]
        self.scale = int(scale)
        # the file header, read once (an image without a file, e.g. skimage's, is colour)
        self.file_channels = [1 if r.path and is_grey_file(r.path) else 3 for r in records]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        r = self.records[index]
        return {
            "lr": to_float(_lr_of(r)),
            "hr": to_float(r.hr),
            "name": r.name,
            "scale": self.scale,
            "file_channels": self.file_channels[index],
        }


class MultiScalePatchDataset(Dataset[dict[str, Any]]):
    """Patch datasets of several scales behind one index ``(scale, i)``.

    ``len()`` is the epoch budget (``length``), shared by all scales. Load it with a
    :class:`~srlab.data.sampling.SeededScaleSampler` (seeded, resumable, rank-sharded: what
    :class:`~srlab.data.SRDataModule` does) or a :class:`ScaleBatchSampler`; both index it with
    ``(scale, i)``, one scale per batch.

    Args:
        datasets: scale -> :class:`PatchDataset` of that scale.
        length: samples per epoch, all scales together.
    """

    def __init__(self, datasets: Mapping[int, PatchDataset], length: int) -> None:
        if not datasets:
            raise SRLabError("no scale to train on")
        self.datasets = dict(datasets)
        self.scales = tuple(self.datasets)
        self.length = length
        self._seed: int | None = None

    @property
    def seed(self) -> int | None:
        """The patch seed of every scale's dataset (see ``PatchDataset(seed=)``)."""
        return self._seed

    @seed.setter
    def seed(self, value: int | None) -> None:
        self._seed = value
        for ds in self.datasets.values():
            ds.seed = value

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: tuple[int, int]) -> dict[str, Any]:
        if not isinstance(index, tuple):
            raise TypeError(
                "MultiScalePatchDataset is indexed by (scale, i): "
                "load it with a SeededScaleSampler or a ScaleBatchSampler"
            )
        scale, i = index
        return self.datasets[scale][i]


class ScaleBatchSampler(BatchSampler):
    """Batches of ``(scale, i)`` indices, **one** random scale per batch (MDSR, CARN, VDSR).

    The scale is drawn uniformly from ``scales``.

    Args:
        sampler: yields the integer indices ``i``.
        batch_size: samples per batch.
        drop_last: drop the last incomplete batch.
        scales: the scales to draw from.
        generator: random generator for the scale draws (``None``: torch's global one, so
            ``seed_everything`` makes them reproducible).

    Not resumable mid-epoch and not sharded under DDP: training uses
    :class:`~srlab.data.sampling.SeededScaleSampler` instead.
    """

    def __init__(
        self,
        sampler: Sampler[int] | Sequence[int],
        batch_size: int,
        drop_last: bool,
        scales: Sequence[int] = (),
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(sampler, batch_size, drop_last)
        if not scales:
            raise ValueError("ScaleBatchSampler needs at least one scale")
        self.scales = tuple(int(s) for s in scales)
        self.generator = generator

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:  # type: ignore[override]
        for batch in super().__iter__():
            k = int(torch.randint(len(self.scales), (), generator=self.generator))
            yield [(self.scales[k], i) for i in batch]
