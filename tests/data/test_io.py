"""Reading and writing images (srlab.data.io): formats, modes, 16-bit, atomic writes, errors."""

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from srlab.data import list_images
from srlab.data.io import (
    ImageInfo,
    collect_images,
    is_16bit_tiff,
    read_image,
    read_image_full_depth,
    to_float,
    write_image,
    write_image_like,
)
from srlab.errors import SRLabError
from tests.helpers import make_photo


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
    with pytest.raises(SRLabError, match=r"not found: .*nope"):
        list_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SRLabError, match="no images"):
        list_images(tmp_path / "empty")
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(SRLabError, match=r"broken\.png"):
        read_image(bad)


def test_write_image_is_atomic_and_roundtrips(tmp_path):
    img = torch.rand(3, 9, 7)
    path = write_image(tmp_path / "out" / "a.png", img)
    assert [p.name for p in path.parent.iterdir()] == ["a.png"]
    back = read_image(path).float() / 255
    assert (back - img).abs().max() <= 0.5 / 255 + 1e-6


def _u16(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 65536, shape, dtype=np.uint16)


def test_16bit_grey_png_keeps_every_level_and_writes_back_exactly(tmp_path):
    grey = _u16((9, 11))
    Image.fromarray(grey).save(tmp_path / "g.png")
    img, info = read_image_full_depth(tmp_path / "g.png")
    assert info == ImageInfo(bits=16, grey=True, tiff=False) and info.suffix == ".png"
    assert img.dtype == torch.float32 and img.shape == (3, 9, 11)
    assert torch.equal(img[0], img[2])
    assert np.array_equal(np.round(img[1].numpy() * 65535).astype(np.uint16), grey)
    out = write_image_like(tmp_path / "out" / "g.png", img, info)
    with Image.open(out) as back:
        assert back.mode.startswith("I")
        assert np.array_equal(np.asarray(back).astype(np.uint16), grey)
    assert [p.name for p in out.parent.iterdir()] == ["g.png"]  # no temporary file left


@pytest.mark.parametrize("grey", [False, True])
def test_16bit_tiff_round_trip_is_exact(tmp_path, grey):
    arr = _u16((7, 10) if grey else (7, 10, 3), seed=1)
    tifffile.imwrite(tmp_path / "t.tif", arr, photometric="minisblack" if grey else "rgb")
    img, info = read_image_full_depth(tmp_path / "t.tif")
    assert info == ImageInfo(bits=16, grey=grey, tiff=True) and info.suffix == ".tif"
    assert img.shape == (3, 7, 10)
    out = write_image_like(tmp_path / "o.tif", img, info)
    assert np.array_equal(tifffile.imread(out), arr)


def test_8bit_files_read_as_read_image_reads_them(tmp_path):
    Image.fromarray(make_photo(8, 12)).save(tmp_path / "a.png")
    tifffile.imwrite(tmp_path / "b.tif", make_photo(8, 12, seed=1), photometric="rgb")
    for name in ("a.png", "b.tif"):
        img, info = read_image_full_depth(tmp_path / name)
        assert info == ImageInfo() and info.suffix == ".png"
        assert torch.equal(img, to_float(read_image(tmp_path / name)))


def test_unreadable_file_is_named(tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00 not a tiff")
    with pytest.raises(SRLabError, match=r"broken\.tif"):
        read_image_full_depth(bad)


def test_write_image_16bit_formats_and_refusals(tmp_path):
    rgb = torch.rand(3, 5, 6)
    write_image(tmp_path / "c.tiff", rgb, bits=16)
    want = (rgb.permute(1, 2, 0).numpy() * 65535).round().astype(np.uint16)
    assert np.array_equal(tifffile.imread(tmp_path / "c.tiff"), want)
    u8 = torch.full((1, 2, 2), 255, dtype=torch.uint8)  # uint8 input: 255 -> 65535
    write_image(tmp_path / "w.png", u8, bits=16)
    assert np.asarray(Image.open(tmp_path / "w.png")).max() == 65535
    with pytest.raises(ValueError, match="not as a colour PNG"):
        write_image(tmp_path / "x.png", rgb, bits=16)
    with pytest.raises(ValueError, match=r"not as a \.jpg file"):
        write_image(tmp_path / "x.jpg", rgb[:1], bits=16)
    with pytest.raises(ValueError, match="bits=12"):
        write_image(tmp_path / "x.png", rgb, bits=12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tiff", "w.png"]


def test_write_image_like_8bit_and_grey_mean(tmp_path):
    img = torch.rand(3, 4, 5)
    out = write_image_like(tmp_path / "a.png", img, ImageInfo())
    assert read_image(out).shape == (3, 4, 5)
    out = write_image_like(tmp_path / "g.tif", img * 2, ImageInfo(bits=16, grey=True, tiff=True))
    want = (img * 2).clamp(0, 1).mean(0).mul(65535).round().numpy().astype(np.uint16)
    assert np.array_equal(tifffile.imread(out), want)  # clamped first, then the channel mean


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tifffile, "imwrite", fail)
    with pytest.raises(OSError, match="disk full"):
        write_image(tmp_path / "t.tif", torch.rand(3, 4, 4), bits=16)
    assert list(tmp_path.iterdir()) == []


def test_is_16bit_tiff_reads_the_header_only(tmp_path):
    tifffile.imwrite(tmp_path / "deep.tif", _u16((4, 4)))
    tifffile.imwrite(tmp_path / "flat.tif", np.zeros((4, 4), np.uint8))
    Image.fromarray(_u16((4, 4))).save(tmp_path / "deep.png")
    (tmp_path / "junk.tif").write_bytes(b"junk")
    assert is_16bit_tiff(tmp_path / "deep.tif")
    assert not any(
        is_16bit_tiff(tmp_path / n) for n in ("flat.tif", "deep.png", "junk.tif", "none.tif")
    )


def test_collect_images_files_and_folders_in_order(tmp_path):
    for name in ("d/b.png", "d/sub/a.jpg", "c.bmp"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(make_photo(4, 4)).save(tmp_path / name)
    got = collect_images([tmp_path / "c.bmp", str(tmp_path / "d")])
    assert [p.relative_to(tmp_path).as_posix() for p in got] == ["c.bmp", "d/b.png", "d/sub/a.jpg"]
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SRLabError, match=r"not an image file .*notes\.txt"):
        collect_images([tmp_path / "notes.txt"])
    with pytest.raises(SRLabError, match=r"input not found: .*nope\.png"):
        collect_images([tmp_path / "nope.png"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SRLabError, match="no images"):
        collect_images([tmp_path / "empty"])
