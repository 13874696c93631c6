"""Image sources (srlab.data.sources): folders with paired LR images, the published layouts
(DIV2K, Waterloo, benchmarks) built here with tiny PNGs, the sample photos, rescaled copies, and bad
input (each refused naming the file, or handled)."""

import numpy as np
import pytest
import torch
from PIL import Image

from srlab.data import (
    DIV2K,
    Benchmark,
    ImageFolder,
    SRDataModule,
)
from srlab.data.catalog import build_test_source, parse_test_sets
from srlab.data.sources import SAMPLE_TEST, SAMPLE_TRAIN, SAMPLE_VAL, ImageRecord, prepare_pair
from srlab.errors import SRLabError
from tests.helpers import make_div2k, make_photo, save_image, write_pair


def test_paired_lr_folder_div2k_naming(tmp_path):
    hr_dir, lr_dir = tmp_path / "DIV2K_train_HR", tmp_path / "DIV2K_train_LR_bicubic" / "X2"
    hr_dir.mkdir(parents=True)
    lr_dir.mkdir(parents=True)
    for i in (1, 2):
        hr = make_photo(40, 30, seed=i)
        Image.fromarray(hr).save(hr_dir / f"{i:04d}.png")
        Image.fromarray(hr[::2, ::2]).save(lr_dir / f"{i:04d}x2.png")
    recs = [prepare_pair(r, 2) for r in ImageFolder(hr_dir, lr_dir).load(2)]
    assert [r.name for r in recs] == ["0001", "0002"]
    assert torch.equal(recs[0].lr, recs[0].hr[:, ::2, ::2])


def test_mismatched_pairs_are_refused_with_the_file_name(tmp_path):
    hr_dir, lr_dir = tmp_path / "HR", tmp_path / "LR"
    hr_dir.mkdir()
    lr_dir.mkdir()
    Image.fromarray(make_photo(40, 30)).save(hr_dir / "a.png")
    Image.fromarray(make_photo(40, 30)).save(hr_dir / "b.png")
    Image.fromarray(make_photo(20, 15)).save(lr_dir / "a.png")
    with pytest.raises(SRLabError, match=r"no LR image for .*b\.png"):
        ImageFolder(hr_dir, lr_dir).load(2)
    Image.fromarray(make_photo(21, 15)).save(lr_dir / "b.png")
    recs = ImageFolder(hr_dir, lr_dir).load(2)
    with pytest.raises(SRLabError, match=r"b\.png.*expected 15x20"):
        [prepare_pair(r, 2) for r in recs]


def test_prepare_pair_makes_matlab_bicubic_lr():
    rec = prepare_pair(ImageRecord("x", torch.from_numpy(make_photo(31, 47)).permute(2, 0, 1)), 3)
    assert (
        rec.hr.shape == (3, 30, 45) and rec.lr.shape == (3, 10, 15) and rec.lr.dtype == torch.uint8
    )


def test_sample_photos_split_is_disjoint():
    assert not set(SAMPLE_TEST) & (set(SAMPLE_TRAIN) | set(SAMPLE_VAL))
    assert set(SAMPLE_TRAIN) == {"astronaut", "chelsea", "rocket", "immunohistochemistry"}
    assert SAMPLE_VAL == ("coffee",)


def test_rescaled_adds_smaller_copies_made_by_matlab_bicubic(image_folder):
    from srlab.core.imresize import imresize
    from srlab.data import Rescaled

    folder = ImageFolder(image_folder(sizes=((60, 80),)))
    recs = Rescaled(folder, [1.0, 0.6]).load(3)
    assert [r.name for r in recs] == ["0000", "0000@0.6"]
    assert recs[0].hr.shape[-2:] == (60, 80) and recs[1].hr.shape[-2:] == (36, 48)
    want = imresize(recs[0].hr.float() / 255, 0.6).clamp(0, 1).mul(255).round().to(torch.uint8)
    assert torch.equal(recs[1].hr, want)
    assert all(r.lr is None for r in recs)  # LR is made per factor, never a stale pre-made one
    with pytest.raises(SRLabError, match="factors"):
        Rescaled(folder, [1.5])


def test_div2k_layout_tracks_and_split(tmp_path):
    root = make_div2k(tmp_path / "DIV2K")
    recs = DIV2K(root, "train").load(2)
    assert [r.name for r in recs] == ["0001", "0002", "0003"] and all(
        r.lr.shape == (3, 24, 24) for r in recs
    )
    assert [r.name for r in DIV2K(root, "valid").load(2)] == ["0801", "0802"]
    assert DIV2K(root, "train", lr=None).load(2)[0].lr is None  # on the fly
    assert DIV2K(root, "train", lr="auto").load(3)[0].lr is None  # no X3 track here: on the fly
    # the "unknown" track, named like the bicubic one
    write_pair(root / "x.png", root / "DIV2K_train_LR_unknown" / "X{s}", lr_name="0001x{s}")
    with pytest.raises(SRLabError, match=r"no LR image for .*0002\.png"):
        DIV2K(root, "train", lr="unknown").load(2)
    with pytest.raises(SRLabError, match="split"):
        DIV2K(root, "test")


def test_benchmark_layouts_and_eval_selection(tmp_path):
    bench = tmp_path / "benchmark"
    for i, nm in enumerate(("baby", "bird")):  # HR/ + LR_bicubic/X{s}/ layout
        write_pair(
            bench / "Set5" / "HR" / f"{nm}.png",
            bench / "Set5" / "LR_bicubic" / "X{s}",
            scales=(2, 4),
            seed=i,
        )
    for i in range(3):  # plain HR folder
        save_image(bench / "B100" / f"{i}.png", make_photo(36, 44, i))
    s5 = Benchmark("Set5", bench)
    assert s5.lr_dir_for(2) is not None and s5.lr_dir_for(3) is None
    assert all(r.lr is not None for r in s5.load(4))
    b100 = Benchmark("BSD100", bench)  # alias
    assert b100.name == "B100" and [r.lr for r in b100.load(2)] == [None] * 3
    with pytest.raises(SRLabError, match="Urban100 not found"):
        Benchmark("Urban100", bench)
    assert parse_test_sets("benchmarks") == {
        n: "benchmark" for n in ("Set5", "Set14", "B100", "Urban100", "Manga109")
    }
    with pytest.warns(UserWarning, match="skipped: Manga109, Set14, Urban100"):
        assert list(parse_test_sets("benchmarks", str(bench))) == ["Set5", "B100"]
    assert parse_test_sets(["Set14"]) == {"Set14": "benchmark"}
    with pytest.raises(SRLabError, match="none of Set5"):
        parse_test_sets("benchmarks", str(tmp_path))
    specs = parse_test_sets({"Set5": "benchmark", "B100": "benchmark"})
    dm = SRDataModule(2, test={n: build_test_source(n, sp, str(bench)) for n, sp in specs.items()})
    dm.setup("test")
    assert dm.test_names == ["Set5", "B100"] and [len(d) for d in dm.test_dataloader()] == [2, 3]


def test_mismatched_pairs_named(tmp_path):
    root = make_div2k(tmp_path / "DIV2K", n_train=2)
    (root / "DIV2K_train_LR_bicubic" / "X2" / "0002x2.png").unlink()
    with pytest.raises(SRLabError, match=r"no LR image for .*0002\.png"):
        DIV2K(root, lr="bicubic").load(2)
    save_image(root / "DIV2K_train_LR_bicubic" / "X2" / "0002x2.png", make_photo(20, 24))
    dm = SRDataModule(2, train=DIV2K(root, lr="bicubic"), patch_size=8)
    with pytest.raises(SRLabError, match=r"LR image for .*0002\.png is 24x20, expected 24x24"):
        dm.setup("fit")


def test_image_modes_converted_and_small_image_refused(tmp_path):
    d = tmp_path / "modes"
    rgb = make_photo(40, 40)
    save_image(d / "grey.png", rgb[..., 0])
    save_image(d / "rgba.png", np.dstack([rgb, np.full((40, 40), 9, np.uint8)]))
    Image.fromarray(rgb).convert("P").save(d / "palette.png")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(d / "deep16.png")
    recs = ImageFolder(d).load(2)
    assert len(recs) == 4 and all(
        r.hr.shape == (3, 40, 40) and r.hr.dtype == torch.uint8 for r in recs
    )
    save_image(d / "tiny.png", make_photo(12, 40))
    with pytest.raises(SRLabError, match=r"tiny\.png is too small for the patch"):
        SRDataModule(2, train_dir=str(d), patch_size=8).setup("fit")


def test_corrupt_file_skipped_in_training_refused_in_test(tmp_path):
    d = tmp_path / "hr"
    for i in range(3):
        save_image(d / f"{i}.png", make_photo(40, 40, i))
    (d / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    dm = SRDataModule(2, train_dir=str(d), patch_size=8, batch_size=2, samples_per_epoch=4)
    with pytest.warns(
        UserWarning, match=r"skipping a bad training image: cannot read image .*1\.png"
    ):
        dm.setup("fit")
    assert len(dm.train_set.records) == 2 and len(dm.train_source.skipped) == 1
    with pytest.raises(SRLabError, match=r"cannot read image .*1\.png"):
        ImageFolder(d).load(2)  # evaluation sets refuse: a benchmark must not shrink silently
