"""Tiled upscaling (seam-free blending, every kind of network), x8 self-ensemble, the memory
budget, and srlab-upscale's folder handling (resume, 16-bit, EXIF)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from srlab.core.tiling import self_ensemble, tile_starts, tiled_forward
from srlab.errors import SRLabError
from srlab.inference import _LiveBytes, auto_tile_size, sr_forward, upscale

from .conftest import make_model


def _nearest(t):
    return F.interpolate(t, scale_factor=2, mode="nearest")


@pytest.mark.parametrize(
    "h,w,tile,overlap", [(37, 50, 16, 4), (33, 33, 12, 5), (20, 61, 19, 9), (9, 40, 10, 0)]
)
def test_blend_weights_sum_to_one_and_cover_everything(h, w, tile, overlap):
    # an exact per-pixel fn: any error in the windows, the normaliser or the crops shows up
    x = torch.rand(1, 3, h, w)
    out = tiled_forward(_nearest, x, 2, tile, overlap, context=3)
    assert torch.allclose(out, _nearest(x), atol=1e-6)
    starts, size = tile_starts(w, tile, overlap)
    assert starts[0] == 0 and starts[-1] + size == w and size <= tile
    assert all(b - a <= size - overlap for a, b in zip(starts, starts[1:]))  # shared >= overlap


@pytest.mark.parametrize(
    "name,scale", [("edsr", 2), ("espcn", 3), ("srcnn", 2), ("lapsrn", 4), ("mdsr", 3)]
)
def test_tiled_equals_untiled_for_every_kind_of_network(name, scale):
    # RGB, Y + CbCr merge, pre-upsampled + border, multi-output, multi-scale (x3 of x2/x3)
    model = make_model(name)
    x = torch.rand(1, 3, 45, 52)
    with torch.inference_mode():
        whole = model(x, scale)
        tiled = sr_forward(model, x, scale, tile=20, overlap=6, context=10)
    assert tiled.shape == whole.shape == (1, 3, 45 * scale, 52 * scale)
    assert (tiled - whole).abs().max() < 1e-5


def test_truncated_receptive_field_blends_without_seams():
    # a 21x21 box blur sees further than context + overlap/2, so tiles differ from the whole
    # image; blending keeps that difference small and smooth, hard-cut tiles leave steps
    def blur(t):
        return _nearest(F.avg_pool2d(F.pad(t, (10,) * 4, mode="replicate"), 21, stride=1))

    torch.manual_seed(0)
    x = torch.rand(1, 1, 64, 64)
    whole = blur(x)
    blended = (tiled_forward(blur, x, 2, tile=24, overlap=8, context=2) - whole)[0, 0]
    hard = (tiled_forward(blur, x, 2, tile=24, overlap=0, context=0) - whole)[0, 0]

    def step(d):  # the largest jump between neighbouring pixels: a seam
        return max(d.diff(dim=0).abs().max(), d.diff(dim=1).abs().max())

    assert blended.abs().max() < hard.abs().max() / 3
    assert step(blended) < step(hard) / 5


def test_self_ensemble_is_equivariant_and_exact_for_equivariant_fns():
    model = make_model("edsr")
    x = torch.rand(1, 3, 12, 17)
    with torch.inference_mode():
        a = model.forward_x8(x)
        b = model.forward_x8(x.flip(-1)).flip(-1)
        c = model.forward_x8(x.transpose(-1, -2)).transpose(-1, -2)
        plain = model(x)
    assert a.shape == plain.shape
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(a, c, atol=1e-5)
    assert not torch.allclose(a, plain, atol=1e-4)  # a random net is not equivariant
    assert torch.allclose(self_ensemble(_nearest, x), _nearest(x), atol=1e-6)
    # tiling and the ensemble combine
    with torch.inference_mode():
        t = sr_forward(model, torch.rand(1, 3, 40, 41), tile=16, overlap=4, ensemble=True)
    assert t.shape == (1, 3, 80, 82)


def test_live_bytes_meter_sees_cpu_allocations():
    meter = _LiveBytes()
    with meter, torch.inference_mode():
        a = torch.ones(1000, 1000)  # 4 MB
        b = a * 2  # 4 MB more, both alive
        del a, b
        c = torch.ones(500, 500)
    assert 8e6 <= meter.peak < 9e6
    del c


def test_memory_budget_picks_a_tile_or_refuses():
    model = make_model("edsr")

    def fn(t):
        return model(t, 2)

    tile = auto_tile_size(fn, (3, 300, 300), 2, max_memory_mb=60)
    assert tile is not None and 16 <= tile < 300 and tile % 8 == 0
    assert auto_tile_size(fn, (3, 20, 20), 2, max_memory_mb=500) is None  # fits whole
    with pytest.raises(SRLabError, match="too small"):
        auto_tile_size(fn, (3, 300, 300), 2, max_memory_mb=5)
    x = torch.rand(3, 70, 90)
    with torch.inference_mode():
        whole = upscale(model, x)
        budget = upscale(model, x, max_memory=12)
    assert (whole - budget).abs().max() < 1e-5


def test_overlap_must_be_less_than_half_the_tile():
    with pytest.raises(SRLabError, match="less than half"):
        tiled_forward(_nearest, torch.rand(1, 3, 40, 40), 2, tile=16, overlap=8)


# ---------------------------------------------------------------------- srlab-upscale
def _photo(h, w, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0, 1, (h, w, 3)) * 255).astype(np.uint8)


def test_upscale_cli_tiles_resumes_and_keeps_16_bit(ckpt, tmp_path, capsys):
    from srlab.cli.upscale import run

    path = ckpt("edsr")
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_photo(30, 40)).save(src / "a.png")
    grey16 = (np.random.default_rng(1).uniform(0, 65535, (20, 24))).astype(np.uint16)
    Image.fromarray(grey16).save(src / "g16.png")
    import tifffile

    rgb16 = (np.random.default_rng(2).uniform(0, 65535, (18, 22, 3))).astype(np.uint16)
    tifffile.imwrite(src / "t16.tif", rgb16, photometric="rgb")
    out = tmp_path / "out"
    written = run(
        [str(src), "--ckpt", str(path), "--out", str(out), "--tile", "16", "--overlap", "4"]
    )
    assert sorted(p.name for p in written) == ["a.png", "g16.png", "t16.tif"]
    with Image.open(out / "g16.png") as im:
        assert im.mode.startswith("I") and im.size == (48, 40)
        assert np.asarray(im).max() > 255  # kept 16 bits
    t = tifffile.imread(out / "t16.tif")
    assert t.dtype == np.uint16 and t.shape == (36, 44, 3)
    # the tiled output equals the whole-image one (8-bit rounding aside)
    whole = tmp_path / "whole"
    run([str(src / "a.png"), "--ckpt", str(path), "--out", str(whole)])
    a = np.asarray(Image.open(out / "a.png")).astype(int)
    b = np.asarray(Image.open(whole / "a.png")).astype(int)
    assert np.abs(a - b).max() <= 1
    # resume: a second run skips everything already written
    (out / "a.png").unlink()
    capsys.readouterr()
    written = run([str(src), "--ckpt", str(path), "--out", str(out), "--self-ensemble"])
    assert [p.name for p in written] == ["a.png"]
    assert "skipped 2 already done" in capsys.readouterr().out


def test_upscale_respects_exif_orientation(ckpt, tmp_path):
    from srlab.cli.upscale import run

    img = Image.fromarray(_photo(10, 16))  # 16 wide, 10 high as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display: 10 wide, 16 high
    img.save(tmp_path / "rot.jpg", exif=exif.tobytes())
    run([str(tmp_path / "rot.jpg"), "--ckpt", str(ckpt("espcn")), "--out", str(tmp_path / "o")])
    with Image.open(tmp_path / "o" / "rot.png") as im:
        assert im.size == (30, 48)


def test_upscale_cli_errors(ckpt, tmp_path, capsys):
    from srlab.cli.upscale import run

    Image.fromarray(_photo(8, 8)).save(tmp_path / "x.png")
    args = [str(tmp_path / "x.png"), "--ckpt", str(ckpt("edsr")), "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as e:
        run([*args, "--tile", "8", "--max-memory", "100"])
    assert e.value.code == 2 and "not both" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        run([*args, "--tile", "8", "--overlap", "4"])
    assert e.value.code == 2 and "less than half" in capsys.readouterr().err
