"""Data: image I/O, degradations (pure functions), sources, datasets and the DataModule."""

from .datamodule import SRDataModule, sample_datamodule
from .datasets import PatchDataset, WholeImageDataset, augment_pair
from .degradation import bicubic_downscale, mod_crop
from .imresize import imresize
from .io import list_images, read_image, write_image
from .sources import (
    SAMPLE_TEST,
    SAMPLE_TRAIN,
    SAMPLE_VAL,
    ImageFolder,
    ImageRecord,
    Rescaled,
    SampleImages,
)

__all__ = [
    "SRDataModule",
    "sample_datamodule",
    "PatchDataset",
    "WholeImageDataset",
    "augment_pair",
    "bicubic_downscale",
    "mod_crop",
    "imresize",
    "list_images",
    "read_image",
    "write_image",
    "ImageFolder",
    "ImageRecord",
    "SampleImages",
    "Rescaled",
    "SAMPLE_TEST",
    "SAMPLE_TRAIN",
    "SAMPLE_VAL",
]
