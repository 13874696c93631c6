"""Degradation model D(I; sigma): each step, order rules, seeding, params, and the datamodule
hook."""

import math

import pytest
import torch

from srlab.data import (
    Degradation,
    SRDataModule,
    add_noise,
    bicubic_downscale,
    blur,
    gaussian_kernel,
    jpeg,
)
from srlab.data.datasets import DegradedPatchDataset
from srlab.data.sources import ImageRecord
from srlab.errors import SRLabError
from tests.helpers import make_photo


def _hr(h=48, w=60, seed=0):
    return torch.from_numpy(make_photo(h, w, seed)).permute(2, 0, 1).contiguous()


def test_kernels_normalised_and_shaped():
    iso = gaussian_kernel(1.5)
    assert iso.shape == (11, 11) and math.isclose(float(iso.sum()), 1.0, abs_tol=1e-5)
    assert torch.allclose(iso, iso.T, atol=1e-7)
    an = gaussian_kernel(3.0, 0.5, 0.0, size=21)
    # wide along x (columns), narrow along y (rows)
    assert an[10].sum() > 0.5 and an[:, 10].sum() < an[10].sum()
    rot = gaussian_kernel(3.0, 0.5, math.pi / 2, size=21)
    assert torch.allclose(rot, an.T, atol=1e-6)
    with pytest.raises(SRLabError, match="odd"):
        gaussian_kernel(1.0, size=4)


def test_blur_noise_jpeg_building_blocks():
    x = _hr().float() / 255
    b = blur(x, gaussian_kernel(2.0))
    assert b.shape == x.shape and b.var() < x.var()  # blur removes detail
    g = torch.Generator().manual_seed(0)
    n = add_noise(x, 25, g)
    assert abs(float((n - x)[(x > 0.15) & (x < 0.85)].std()) * 255 - 25) < 2.5
    j10, j95 = jpeg(x, 10), jpeg(x, 95)
    assert j10.shape == x.shape and (j10 - x).abs().mean() > (j95 - x).abs().mean()
    with pytest.raises(SRLabError, match="quality"):
        jpeg(x, 0)


def test_pipeline_plain_bicubic_matches_foundation_and_sizes_exact():
    hr = _hr(48, 60)
    lr, params = Degradation([{"bicubic": {}}])(hr, 3)
    assert torch.equal(lr, bicubic_downscale(hr, 3)) and lr.shape == (3, 16, 20)
    assert params["steps"] == [{"bicubic": {}}]
    full = Degradation(
        [{"blur": {"sigma": 1.0}}, {"noise": {"sigma": 5}}, {"jpeg": {"quality": 70}}]
    )
    assert [n for n, _ in full.steps] == ["blur", "bicubic", "noise", "jpeg"]  # bicubic inserted
    assert full(hr, 4)[0].shape == (3, 12, 15)


def test_random_ranges_reproducible_from_seed_and_logged():
    d = Degradation(
        [
            {"blur": {"sigma": [0.5, 2.0]}},
            {"bicubic": {}},
            {"noise": {"sigma": [0, 20]}},
            {"jpeg": {"quality": [30, 90]}},
        ],
        seed=7,
    )
    hr = _hr()
    a, pa = d(hr, 2, index=3)
    b, pb = d(hr, 2, index=3)
    _c, pc = d(hr, 2, index=4)
    assert torch.equal(a, b) and pa == pb and pa["seed"] == 10
    assert pa != pc
    (blur_p,), (noise_p,), (jpeg_p,) = (list(pa["steps"][k].values()) for k in (0, 2, 3))
    assert 0.5 <= blur_p["sigma"] <= 2.0 and 0 <= noise_p["sigma"] <= 20
    assert jpeg_p["quality"] == int(jpeg_p["quality"]) and 30 <= jpeg_p["quality"] <= 90
    assert d.config() == {"seed": 7, "steps": [{n: p} for n, p in d.steps]}
    assert d.hr_support == 6  # 3 sigma of the widest blur: the context a training patch gets


@pytest.mark.parametrize(
    "steps, msg",
    [
        ([{"noise": {"sigma": 5}}, {"bicubic": {}}], "misplaced"),
        ([{"bicubic": {}}, {"blur": {"sigma": 1}}], "misplaced"),
        ([{"sharpen": {}}], "unknown degradation step"),
        ([{"blur": {"sigma": 1, "radius": 2}}], "takes sigma"),
        ([{"noise": {"sigma": "a"}}], "number or a"),
        ([{"noise": {"sigma": [5, 1]}}], "hi < lo"),
    ],
)
def test_bad_configs_refused(steps, msg):
    with pytest.raises(SRLabError, match=msg):
        Degradation(steps)(_hr(), 2)


def test_degraded_patch_dataset_alignment_and_sizes():
    hr = _hr(60, 72)
    d = Degradation([{"blur": {"sigma": 0.8}}], seed=0)
    ds = DegradedPatchDataset([ImageRecord("a", hr)], 2, 10, d, augment=False, length=4, margin=4)
    ds.seed = 3
    item = ds[0]
    assert item["lr"].shape == (3, 10, 10) and item["hr"].shape == (3, 20, 20)
    assert ds.last_params["steps"][0]["blur"]["sigma"] == 0.8
    # same as degrading the whole image, away from the image border (margin gives real context)
    whole, _ = d(hr, 2)
    whole = whole.float() / 255
    hr_f = hr.float() / 255
    matched = 0
    for k in range(4):
        it = ds[k]
        for i in range(30 - 10 + 1):
            for j in range(36 - 10 + 1):
                if torch.equal(hr_f[:, i * 2 : i * 2 + 20, j * 2 : j * 2 + 20], it["hr"]):
                    matched += 1
                    inner = (it["lr"] - whole[:, i : i + 10, j : j + 10])[:, 2:-2, 2:-2]
                    if 4 <= i <= 16 and 4 <= j <= 22:
                        assert inner.abs().max() <= 1.5 / 255
    assert matched >= 4  # every HR patch is a crop of the image at an LR-aligned position
    assert torch.equal(ds[1]["lr"], ds[1]["lr"])  # seeded: same sample id, same patch and LR


def test_datamodule_on_the_fly_degradation_from_config(image_folder):
    root = image_folder("hr", sizes=((40, 44), (44, 40)))
    dm = SRDataModule(
        2,
        train_dir=str(root),
        val_dir=str(root),
        patch_size=8,
        batch_size=2,
        samples_per_epoch=4,
        degradation={
            "seed": 1,
            "steps": [{"blur": {"sigma": [0.2, 1.5]}}, {"noise": {"sigma": [0, 10]}}],
        },
    )
    dm.setup("fit")
    assert isinstance(dm.train_set, DegradedPatchDataset)
    assert dm.hparams["degradation"]["steps"][0] == {"blur": {"sigma": [0.2, 1.5]}}
    batch = next(iter(dm.train_dataloader()))
    assert batch["lr"].shape == (2, 3, 8, 8) and batch["hr"].shape == (2, 3, 16, 16)
    # validation keeps the plain MATLAB bicubic LR
    assert torch.equal(dm.val_set.records[0].lr, bicubic_downscale(dm.val_set.records[0].hr, 2))
    with pytest.raises(SRLabError, match="smaller than the HR patch"):
        SRDataModule(
            2, train_dir=str(root), patch_size=30, degradation={"steps": [{"bicubic": {}}]}
        ).setup("fit")
