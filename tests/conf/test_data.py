"""The data configs of the published training sets (DIV2K, Flickr2K, DF2K, Waterloo) on layouts
built here with tiny PNGs."""

import pytest
from hydra.utils import instantiate

from srlab.data import (
    DF2K,
    Flickr2K,
    ImageFolder,
    Waterloo,
)
from srlab.data.datasets import DegradedPatchDataset, PatchDataset
from tests.helpers import make_div2k, make_flickr2k, make_photo, save_image, write_pair


@pytest.mark.parametrize("provided_lr", [True, False])
def test_df2k_config_trains_with_provided_and_on_the_fly_lr(tmp_path, compose_cfg, provided_lr):
    make_div2k(tmp_path / "DIV2K", lr=provided_lr)
    make_flickr2k(tmp_path / "Flickr2K", lr=provided_lr)
    cfg = compose_cfg(
        [
            "data=df2k",
            f"paths.data_dir={tmp_path}",
            "data.patch_size=8",
            "data.batch_size=2",
            "data.num_workers=0",
            "data.samples_per_epoch=4",
        ]
    )
    dm = instantiate(cfg.data)
    dm.setup("fit")
    names = [r.name for r in dm.train_set.records]
    assert names == ["div2k/0001", "div2k/0002", "div2k/0003", "flickr2k/000001", "flickr2k/000002"]
    src = dm.train_source.sources["div2k"]
    assert (src.lr_dir_for(2) is not None) == provided_lr
    assert len(dm.val_set) == 2
    b = next(iter(dm.train_dataloader()))
    assert b["lr"].shape == (2, 3, 8, 8) and b["hr"].shape == (2, 3, 16, 16)
    # DF2K with a degradation model: on-the-fly LR even where the LR track exists
    cfg2 = compose_cfg(
        [
            "data=df2k",
            f"paths.data_dir={tmp_path}",
            "data.patch_size=8",
            "data.num_workers=0",
            "+data.degradation.steps=[{blur: {sigma: [0.5, 1.5]}}]",
        ]
    )
    dm2 = instantiate(cfg2.data)
    dm2.setup("fit")
    assert isinstance(dm2.train_set, DegradedPatchDataset) and dm2.train_set[0]["lr"].shape == (
        3,
        8,
        8,
    )


def test_div2k_and_flickr2k_configs(tmp_path, compose_cfg):
    make_div2k(tmp_path / "DIV2K")
    make_flickr2k(tmp_path / "Flickr2K")
    for name, n in (("div2k", 3), ("flickr2k", 2)):
        dm = instantiate(
            compose_cfg([f"data={name}", f"paths.data_dir={tmp_path}", "data.patch_size=8"]).data
        )
        dm.setup("fit")
        assert isinstance(dm.train_set, PatchDataset) and len(dm.train_set.records) == n
        assert all(r.lr is not None for r in dm.train_set.records)
    assert isinstance(Flickr2K(tmp_path / "Flickr2K"), ImageFolder)
    assert len(DF2K(tmp_path / "DIV2K", tmp_path / "Flickr2K").files(2)) == 5


def test_waterloo_pristine_and_selectable_distortions(tmp_path, compose_cfg):
    root = tmp_path / "Waterloo"
    for i in range(1, 4):
        save_image(root / "pristine_images" / f"{i:05d}.bmp", make_photo(40, 40, i))
    for lvl in (1, 2):
        save_image(root / "distorted_images" / "jpeg" / f"00001_{lvl}.bmp", make_photo(40, 40, 9))
    assert [r.name for r in Waterloo(root).load(2)] == ["00001", "00002", "00003"]
    assert len(Waterloo(root, distortions=["jpeg"]).load(2)) == 5
    for i, nm in enumerate(("baby", "bird")):
        write_pair(tmp_path / "benchmark" / "Set5" / "HR" / f"{nm}.png", None, seed=i)
    dm = instantiate(
        compose_cfg(["data=waterloo", f"paths.data_dir={tmp_path}", "data.patch_size=8"]).data
    )
    dm.setup("fit")
    assert len(dm.train_set.records) == 3 and len(dm.val_set) == 2
