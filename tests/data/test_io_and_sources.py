import numpy as np
import pytest
import torch
from PIL import Image

from srlab.data import ImageFolder, list_images, read_image, write_image
from srlab.data.sources import SAMPLE_TEST, SAMPLE_TRAIN, SAMPLE_VAL, ImageRecord, prepare_pair
from srlab.errors import SRLabError
from tests.conftest import make_photo


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tif"])
def test_read_formats_recursive(image_folder, ext):
    root = image_folder(sizes=((20, 30), (24, 18), (16, 16)), ext=ext, sub="nested")
    files = list_images(root)
    assert len(files) == 3 and any("nested" in str(f) for f in files)
    img = read_image(files[0])
    assert img.dtype == torch.uint8 and img.shape == (3, 20, 30)


def test_mode_conversions(tmp_path):
    rgb = make_photo(10, 12)
    Image.fromarray(rgb[..., 0]).save(tmp_path / "grey.png")
    Image.fromarray(np.dstack([rgb, np.full((10, 12), 7, np.uint8)])).save(tmp_path / "rgba.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(tmp_path / "deep.png")
    grey = read_image(tmp_path / "grey.png")
    assert grey.shape == (3, 10, 12) and torch.equal(grey[0], grey[2])
    assert torch.equal(read_image(tmp_path / "rgba.png"), torch.from_numpy(rgb).permute(2, 0, 1))
    assert read_image(tmp_path / "palette.png").shape == (3, 10, 12)
    deep = read_image(tmp_path / "deep.png")  # 16-bit -> 8-bit by /257
    assert torch.equal(deep[0], torch.from_numpy(rgb[..., 0]))


def test_user_errors_name_the_culprit(tmp_path):
    with pytest.raises(SRLabError, match="not found: .*nope"):
        list_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SRLabError, match="no images"):
        list_images(tmp_path / "empty")
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(SRLabError, match="broken.png"):
        read_image(bad)


def test_write_image_is_atomic_and_roundtrips(tmp_path):
    img = torch.rand(3, 9, 7)
    path = write_image(tmp_path / "out" / "a.png", img)
    assert [p.name for p in path.parent.iterdir()] == ["a.png"]
    back = read_image(path).float() / 255
    assert (back - img).abs().max() <= 0.5 / 255 + 1e-6


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
