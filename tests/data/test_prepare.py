"""srlab-prepare: sub-image extraction to memory-mapped arrays, resuming, bad files, and the
PreparedPatches training dataset."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from srlab.cli.prepare import run as prepare_cli
from srlab.data import (
    Degradation,
    ImageFolder,
    PreparedPatches,
    SRDataModule,
    bicubic_downscale,
    mod_crop,
    read_image,
)
from srlab.data import prepare as prep
from srlab.data.prepare import prepare_subimages, subimage_positions
from srlab.errors import SRLabError
from tests.helpers import make_photo


def test_subimage_positions_cover_the_image():
    assert subimage_positions(100, 48, 24) == [0, 24, 48, 52]
    assert subimage_positions(100, 48, 24, align=8) == [0, 24, 48]  # 52 -> last aligned offset 48
    assert subimage_positions(30, 48, 24) == [0]


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "hr"
    d.mkdir()
    Image.fromarray(make_photo(64, 80, 0)).save(d / "a.png")
    Image.fromarray(make_photo(40, 52, 1)).save(d / "b.png")
    (d / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return d


def test_prepare_index_arrays_and_lr_alignment(folder, tmp_path):
    out = tmp_path / "sub"
    index = prepare_subimages(
        ImageFolder(folder), out, scales=(2, 4), crop=32, step=16, progress=False
    )
    assert [e["name"] for e in index["images"]] == ["a", "b"]
    assert len(index["skipped"]) == 1 and "c.png" in index["skipped"][0]["path"]
    assert "cannot read image" in index["skipped"][0]["reason"]
    a = index["images"][0]
    assert a["n"] == len(subimage_positions(64, 32, 16, 4)) * len(subimage_positions(80, 32, 16, 4))
    hr = np.load(out / "hr" / f"{a['file']}.npy", mmap_mode="r")
    lr2 = np.load(out / "lr_x2" / f"{a['file']}.npy", mmap_mode="r")
    assert (
        hr.shape == (a["n"], 32, 32, 3)
        and lr2.shape == (a["n"], 16, 16, 3)
        and hr.dtype == np.uint8
    )
    full = read_image(folder / "a.png")
    want = bicubic_downscale(mod_crop(full, 2), 2).permute(1, 2, 0).numpy()
    assert np.array_equal(
        lr2[1], want[0:16, 8:24]
    )  # sub-image 1 sits at HR (0, 16): LR of the whole image
    assert json.loads((out / "index.json").read_text())["subimages"] == index["subimages"]


def test_resume_after_interrupt_and_parameter_change(folder, tmp_path, monkeypatch):
    out = tmp_path / "sub"
    real = prep._prepare_one
    calls = []

    def flaky(name, *a, **k):
        calls.append(name)
        if name == "b":
            raise KeyboardInterrupt
        return real(name, *a, **k)

    monkeypatch.setattr(prep, "_prepare_one", flaky)
    with pytest.raises(KeyboardInterrupt):
        prepare_subimages(ImageFolder(folder), out, scales=2, crop=32, step=16, progress=False)
    assert len(list((out / "done").glob("*.json"))) == 1 and not (out / "index.json").exists()
    assert not list(out.rglob(".*tmp*"))  # no half-written file left
    calls.clear()
    monkeypatch.setattr(
        prep, "_prepare_one", lambda name, *a, **k: (calls.append(name), real(name, *a, **k))[1]
    )
    index = prepare_subimages(ImageFolder(folder), out, scales=2, crop=32, step=16, progress=False)
    assert "a" not in calls and "b" in calls and len(index["images"]) == 2  # a was kept
    with pytest.raises(SRLabError, match="was prepared with crop=32"):
        prepare_subimages(ImageFolder(folder), out, scales=2, crop=48, step=16, progress=False)
    with pytest.raises(SRLabError, match="multiples of every scale"):
        prepare_subimages(
            ImageFolder(folder), tmp_path / "x", scales=3, crop=32, step=16, progress=False
        )


def test_prepared_patches_dataset_and_datamodule(folder, tmp_path, capsys):
    out = tmp_path / "sub"
    prepare_cli(
        [
            "--hr-dir",
            str(folder),
            "--out",
            str(out),
            "--scales",
            "2",
            "--crop",
            "32",
            "--step",
            "16",
            "--no-progress",
        ]
    )
    assert "1 skipped" in capsys.readouterr().out
    ds = PreparedPatches(out, 2, 8, augment=False, length=6)
    ds.seed = 5
    it = ds[0]
    assert it["lr"].shape == (3, 8, 8) and it["hr"].shape == (3, 16, 16) and it["scale"] == 2
    assert torch.equal(ds[3]["lr"], ds[3]["lr"])  # seeded sample ids
    with pytest.raises(SRLabError, match="not x4"):
        PreparedPatches(out, 4, 8)
    with (
        pytest.raises(SRLabError, match=r"no prepared image .* large enough"),
        pytest.warns(
            UserWarning, match=r"a\.png \(32x32 sub-images\) is smaller than the HR patch 40"
        ),
    ):
        PreparedPatches(out, 2, 20)
    with pytest.raises(SRLabError, match="srlab-prepare"):
        PreparedPatches(tmp_path, 2, 8)
    dm = SRDataModule(2, prepared_dir=str(out), patch_size=8, batch_size=3, samples_per_epoch=6)
    dm.setup("fit")
    b = next(iter(dm.train_dataloader()))
    assert b["lr"].shape == (3, 3, 8, 8) and b["hr"].shape == (3, 3, 16, 16)
    # with a degradation model the LR is made on the fly from the prepared HR sub-images
    dd = PreparedPatches(out, 3, 4, degradation=Degradation([{"blur": {"sigma": 1.0}}]))
    assert dd[0]["lr"].shape == (3, 4, 4) and dd[0]["hr"].shape == (3, 12, 12)
