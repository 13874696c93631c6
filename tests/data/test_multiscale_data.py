"""Multi-scale data: one scale per training batch, validation and test loaders per scale."""

import numpy as np
import pytest
import torch
from PIL import Image

from srlab.data import SRDataModule
from srlab.data.datasets import MultiScalePatchDataset, ScaleBatchSampler
from srlab.errors import SRLabError


def test_each_batch_has_one_scale_and_all_scales_are_drawn(image_folder):
    hr = image_folder(sizes=((48, 60), (72, 48)))
    dm = SRDataModule(
        [2, 3, 4],
        train_dir=str(hr),
        val_dir=str(hr),
        patch_size=6,
        batch_size=3,
        samples_per_epoch=90,
    )
    assert dm.multi_scale and dm.scales == (2, 3, 4) and dm.scale == 2
    dm.setup("fit")
    torch.manual_seed(0)
    seen = []
    loader = dm.train_dataloader()
    assert len(loader) == 30
    for batch in loader:
        s = int(batch["scale"][0])
        assert (batch["scale"] == s).all()
        assert batch["lr"].shape == (3, 3, 6, 6) and batch["hr"].shape == (3, 3, 6 * s, 6 * s)
        seen.append(s)
    assert set(seen) == {2, 3, 4}
    assert max(seen.count(s) for s in (2, 3, 4)) < 20  # roughly uniform, not stuck on one
    vals = dm.val_dataloader()
    assert isinstance(vals, list) and len(vals) == 3
    for s, loader in zip((2, 3, 4), vals):
        b = next(iter(loader))
        assert int(b["scale"]) == s and b["hr"].shape[-1] == b["lr"].shape[-1] * s


def test_hr_patch_size_per_scale_and_single_scale_batches_carry_scale(image_folder):
    hr = image_folder(sizes=((60, 60),))
    dm = SRDataModule([2, 3, 4], train_dir=str(hr), patch_size=None, hr_patch_size=41, batch_size=2)
    assert dm.patch_sizes == {2: 20, 3: 13, 4: 10}  # HR 40 / 39 / 40: VDSR's 41 rounded down
    single = SRDataModule(3, train_dir=str(hr), val_dir=str(hr), patch_size=5, batch_size=2)
    assert not single.multi_scale
    single.setup("fit")
    b = next(iter(single.train_dataloader()))
    assert b["scale"].tolist() == [3, 3]
    assert not isinstance(single.val_dataloader(), list)  # single scale: one loader as before


def test_test_sets_are_named_per_scale(image_folder):
    hr = image_folder(sizes=((48, 48),))
    dm = SRDataModule([2, 4], train_dir=str(hr), test={"mine": str(hr)}, patch_size=4)
    assert dm.test_names == ["mine/x2", "mine/x4"]
    dm.setup("test")
    loaders = dm.test_dataloader()
    assert [int(next(iter(dl))["scale"]) for dl in loaders] == [2, 4]
    assert SRDataModule(2, train_dir=str(hr), test={"mine": str(hr)}).test_names == ["mine"]


def test_pre_made_lr_folders_per_scale(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "HR").mkdir()
    lr = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    hr = lr.repeat(4, 0).repeat(4, 1)  # 48x48: its x2 and x4 LR images are made below
    Image.fromarray(hr).save(tmp_path / "HR" / "0001.png")
    for s in (2, 4):
        (tmp_path / f"X{s}").mkdir()
        Image.fromarray(hr[::s, ::s]).save(tmp_path / f"X{s}" / f"0001x{s}.png")
    dm = SRDataModule(
        [2, 4],
        train_dir=str(tmp_path / "HR"),
        train_lr_dir=str(tmp_path / "X{scale}"),
        patch_size=4,
        batch_size=1,
        augment=False,
    )
    dm.setup("fit")
    assert dm.train_set.datasets[2].records[0].lr.shape[-1] == 24
    assert dm.train_set.datasets[4].records[0].lr.shape[-1] == 12
    with pytest.raises(SRLabError, match=r"put \{scale\} in the path"):
        SRDataModule([2, 4], train_dir=str(tmp_path / "HR"), train_lr_dir=str(tmp_path / "X2"))


def test_bad_scales_and_indexing():
    with pytest.raises(SRLabError, match="data.scale"):
        SRDataModule("x2")
    with pytest.raises(SRLabError, match="empty"):
        SRDataModule([])
    ds = MultiScalePatchDataset({2: object()}, 4)
    with pytest.raises(TypeError, match="ScaleBatchSampler"):
        ds[0]
    batches = list(ScaleBatchSampler(range(6), 2, True, scales=(3,)))
    assert batches == [[(3, 0), (3, 1)], [(3, 2), (3, 3)], [(3, 4), (3, 5)]]
