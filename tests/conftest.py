"""Shared fixtures: configs composed the way srlab-train composes them, tiny image folders."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HYDRA_FULL_ERROR", "0")
# tests never download (pretrained weights of LPIPS/DISTS/VGG losses): a missing file is an error
os.environ.setdefault("SRLAB_OFFLINE", "1")


@pytest.fixture
def compose_cfg(tmp_path):
    """compose_cfg(overrides, config_name="train") -> DictConfig with output_dir in tmp_path."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from srlab.cli.common import CONF_DIR

    def _compose(overrides=(), config_name="train", output_dir=None):
        GlobalHydra.instance().clear()
        out = Path(output_dir or tmp_path / "run")
        with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
            return compose(config_name, overrides=[f"paths.output_dir={out}", *overrides])

    yield _compose
    GlobalHydra.instance().clear()


def make_photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random colour image with some edges (uint8 HxWx3), stands in for a photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack(
        [
            0.5 + 0.4 * np.sin(6 * xx + rng.uniform(0, 6)) * np.cos(4 * yy),
            0.5 + 0.4 * np.cos(5 * yy + rng.uniform(0, 6)),
            0.5 + 0.3 * np.sin(9 * (xx + yy)),
        ],
        axis=2,
    )
    img[h // 3 : h // 2, w // 4 : w // 2] = rng.uniform(0, 1, 3)
    return (np.clip(img + rng.normal(0, 0.01, img.shape), 0, 1) * 255).round().astype(np.uint8)


@pytest.fixture
def image_folder(tmp_path):
    """image_folder(name, sizes, ext=".png") -> Path of a folder of photos made in the test."""

    def _make(name="hr", sizes=((48, 60), (51, 45)), ext=".png", sub=None):
        root = tmp_path / name
        for i, (h, w) in enumerate(sizes):
            d = root / sub if sub and i % 2 else root
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(make_photo(h, w, seed=i)).save(d / f"{i:04d}{ext}")
        return root

    return _make


def tiny_run_overrides(folder, hr_patch_size: int) -> list[str]:
    """Overrides for a seconds-long CPU training run of an experiment on a made image folder."""
    return [
        "logger=none",
        "~callbacks.val_images",
        f"data.train_dir={folder}",
        f"data.val_dir={folder}",
        "data.num_workers=0",
        "data.batch_size=2",
        f"data.hr_patch_size={hr_patch_size}",
        "data.samples_per_epoch=2",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
    ]
