"""Datasets yielding named dicts ``{"lr", "hr", "name"}`` of float32 RGB tensors in [0, 1]."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import SRLabError
from .io import to_float
from .sources import ImageRecord

__all__ = ["PatchDataset", "WholeImageDataset", "augment_pair"]


def augment_pair(lr: Tensor, hr: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """The same random horizontal flip, vertical flip and 90-degree rotation on LR and HR
    (the 8 dihedral transforms, as in EDSR/RCAN training)."""
    hflip, vflip, rot = torch.randint(0, 2, (3,), generator=generator).tolist()
    if hflip:
        lr, hr = lr.flip(-1), hr.flip(-1)
    if vflip:
        lr, hr = lr.flip(-2), hr.flip(-2)
    if rot:
        lr, hr = lr.transpose(-1, -2), hr.transpose(-1, -2)
    return lr, hr


class PatchDataset(Dataset):
    """Random aligned LR/HR patches from whole prepared image pairs.

    Args:
        records: prepared pairs (HR mod-cropped, LR present), uint8 ``(3, H, W)``.
        scale: HR/LR size ratio.
        patch_size: LR patch side; the HR patch is ``patch_size * scale``.
        augment: random flips and 90-degree rotations.
        length: samples per epoch (patches are drawn at random, so an epoch is a budget).
    """

    def __init__(
        self, records: list[ImageRecord], scale: int, patch_size: int, augment: bool = True, length: int = 1000
    ) -> None:
        if not records:
            raise SRLabError("the training set is empty")
        for r in records:
            h, w = r.lr.shape[-2:]
            if h < patch_size or w < patch_size:
                raise SRLabError(
                    f"image {r.path or r.name} is too small for the patch: its LR is {w}x{h}, "
                    f"the LR patch is {patch_size}x{patch_size} (HR {patch_size * scale}x{patch_size * scale})"
                )
        self.records = records
        self.scale = scale
        self.patch_size = patch_size
        self.augment = augment
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        rec = self.records[index % len(self.records)]
        p, s = self.patch_size, self.scale
        h, w = rec.lr.shape[-2:]
        i = int(torch.randint(0, h - p + 1, ()))
        j = int(torch.randint(0, w - p + 1, ()))
        lr = rec.lr[:, i : i + p, j : j + p]
        hr = rec.hr[:, i * s : (i + p) * s, j * s : (j + p) * s]
        if self.augment:
            lr, hr = augment_pair(lr, hr)
        return {"lr": to_float(lr.contiguous()), "hr": to_float(hr.contiguous()), "name": rec.name}


class WholeImageDataset(Dataset):
    """Whole prepared image pairs (validation and test)."""

    def __init__(self, records: list[ImageRecord]) -> None:
        if not records:
            raise SRLabError("the evaluation set is empty")
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        r = self.records[index]
        return {"lr": to_float(r.lr), "hr": to_float(r.hr), "name": r.name}
