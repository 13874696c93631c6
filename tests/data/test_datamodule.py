"""SRDataModule: aligned patches, whole-image validation, multi-scale loaders (one scale per batch,
per-scale validation and test sets), seeded and resumable loaders, errors."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DistributedSampler

from srlab.data import SampleImages, SRDataModule
from srlab.data.datasets import MultiScalePatchDataset, ScaleBatchSampler
from srlab.data.sampling import SeededScaleSampler
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
    with pytest.raises(SRLabError, match=r"data\.scale"):
        SRDataModule("x2")
    with pytest.raises(SRLabError, match="empty"):
        SRDataModule([])
    ds = MultiScalePatchDataset({2: object()}, 4)
    with pytest.raises(TypeError, match="ScaleBatchSampler"):
        ds[0]
    batches = list(ScaleBatchSampler(range(6), 2, True, scales=(3,)))
    assert batches == [[(3, 0), (3, 1)], [(3, 2), (3, 3)], [(3, 4), (3, 5)]]


def test_datamodule_multiscale_loader_is_seeded_and_resumable(image_folder, monkeypatch):
    monkeypatch.setenv("PL_GLOBAL_SEED", "5")
    hr = image_folder(sizes=((48, 60), (72, 48)))

    def epoch_of(state=None):
        dm = SRDataModule(
            [2, 3, 4], train_dir=str(hr), patch_size=6, batch_size=3, samples_per_epoch=18
        )
        dm.setup("fit")
        loader = dm.train_dataloader()
        assert isinstance(loader.sampler, SeededScaleSampler) and len(loader) == 6
        if state is not None:
            loader.load_state_dict(state)
        loader.sampler.set_epoch(1)
        return [(int(b["scale"][0]), b["hr"]) for b in loader]

    full, tail = epoch_of(), epoch_of({"epoch": 1, "batches": 2})
    assert len(tail) == 4
    for (sa, ha), (sb, hb) in zip(full[2:], tail):
        assert sa == sb and ha.shape[-1] == 6 * sa and torch.equal(ha, hb)  # the same patches

    # under DDP: Lightning keeps a DistributedSampler as it is (no batch_sampler to re-create);
    # each rank's loader (rank from the trainer) yields its half, in batches of one scale
    ranks = []
    for rank in range(2):
        dm = SRDataModule(
            [2, 3, 4], train_dir=str(hr), patch_size=6, batch_size=3, samples_per_epoch=18
        )
        dm.trainer = SimpleNamespace(world_size=2, global_rank=rank)
        dm.setup("fit")
        loader = dm.train_dataloader()
        assert (
            isinstance(loader.sampler, DistributedSampler)
            and loader.batch_size == 3
            and len(loader) == 3
        )
        loader.sampler.set_epoch(0)
        ranks.append([(int(b["scale"][0]), b["hr"].shape[-1]) for b in loader])
    assert [s for s, _ in ranks[0]] == [s for s, _ in ranks[1]] and all(
        w == 6 * s for s, w in ranks[0]
    )
