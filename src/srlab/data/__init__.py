"""Data: image I/O, degradations (pure functions), sources, datasets and the DataModule."""

from .datamodule import SRDataModule, sample_datamodule
from .datasets import (
    DegradedPatchDataset,
    IntensityJitter,
    PatchDataset,
    WholeImageDataset,
    augment_pair,
)
from .degradation import (
    Degradation,
    add_noise,
    bicubic_downscale,
    blur,
    gaussian_kernel,
    jpeg,
    mod_crop,
)
from .imresize import imresize
from .io import list_images, read_image, write_image
from .prepare import PreparedPatches, prepare_subimages
from .sources import (
    BENCHMARK_SETS,
    DF2K,
    DIV2K,
    SAMPLE_TEST,
    SAMPLE_TRAIN,
    SAMPLE_VAL,
    Benchmark,
    Concat,
    Flickr2K,
    ImageFolder,
    ImageRecord,
    Rescaled,
    SampleImages,
    Waterloo,
)

__all__ = [
    "SRDataModule",
    "sample_datamodule",
    "PatchDataset",
    "WholeImageDataset",
    "augment_pair",
    "IntensityJitter",
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
    "DegradedPatchDataset",
    "Degradation",
    "add_noise",
    "blur",
    "gaussian_kernel",
    "jpeg",
    "PreparedPatches",
    "prepare_subimages",
    "BENCHMARK_SETS",
    "DF2K",
    "DIV2K",
    "Benchmark",
    "Concat",
    "Flickr2K",
    "Waterloo",
]
