import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from srlab.data import SampleImages, SRDataModule
from srlab.errors import SRLabError


def _blocky_pairs(tmp_path, scale=2, n=3):
    """HR = nearest-upsampled random LR, so LR is exactly the block mean of HR at any offset
    multiple of the scale, and stays so under flips/rotations applied to both."""
    hr_dir, lr_dir = tmp_path / "HR", tmp_path / "LR"
    hr_dir.mkdir()
    lr_dir.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        lr = rng.integers(0, 256, (20 + i, 24, 3), dtype=np.uint8)
        hr = lr.repeat(scale, 0).repeat(scale, 1)
        Image.fromarray(hr).save(hr_dir / f"{i}.png")
        Image.fromarray(lr).save(lr_dir / f"{i}x{scale}.png")
    return hr_dir, lr_dir


def test_patches_are_aligned_under_augmentation(tmp_path):
    hr_dir, lr_dir = _blocky_pairs(tmp_path)
    dm = SRDataModule(
        2,
        train_dir=str(hr_dir),
        train_lr_dir=str(lr_dir),
        patch_size=8,
        batch_size=4,
        samples_per_epoch=40,
    )
    dm.setup("fit")
    torch.manual_seed(0)
    batch = next(iter(dm.train_dataloader()))
    assert batch["lr"].shape == (4, 3, 8, 8) and batch["hr"].shape == (4, 3, 16, 16)
    assert batch["lr"].dtype == torch.float32 and batch["lr"].min() >= 0 and batch["hr"].max() <= 1
    assert torch.allclose(F.avg_pool2d(batch["hr"], 2), batch["lr"], atol=1e-6)


def test_hr_patch_size_for_srcnn_and_validation_whole_images(image_folder):
    hr = image_folder(sizes=((50, 61), (40, 44)))
    dm = SRDataModule(
        3, train_dir=str(hr), val_dir=str(hr), patch_size=None, hr_patch_size=33, batch_size=2
    )
    dm.setup("fit")
    b = next(iter(dm.train_dataloader()))
    assert b["hr"].shape[-1] == 33 and b["lr"].shape[-1] == 11
    v = next(iter(dm.val_dataloader()))
    assert v["hr"].shape[-2:] == (48, 60) and v["lr"].shape[-2:] == (16, 20)  # mod-cropped


def test_errors(image_folder, tmp_path):
    small = image_folder("small", sizes=((30, 30),))
    dm = SRDataModule(4, train_dir=str(small), patch_size=17)
    with pytest.raises(SRLabError, match=r"0000\.png.*too small.*17x17"):
        dm.setup("fit")
    with pytest.raises(SRLabError, match="not a multiple of the scale"):
        SRDataModule(3, train_dir=str(small), hr_patch_size=32)
    with pytest.raises(SRLabError, match="not found"):
        SRDataModule(2, train_dir=str(tmp_path / "missing"), patch_size=4).setup("fit")


def test_sample_datamodule_caches_decoded_images():
    dm = SRDataModule(
        3,
        train=SampleImages(["chelsea"]),
        val=SampleImages(["coffee"]),
        patch_size=17,
        samples_per_epoch=8,
    )
    dm.setup("fit")
    first = dm.train_set.records[0].hr
    dm.setup("fit")
    assert dm.train_set.records[0].hr is first
    assert dm.val_set.records[0].hr.shape == (3, 399, 600)
