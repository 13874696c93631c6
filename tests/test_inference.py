"""Inference (srlab.inference): seam-free tiled forward passes of every kind of network, the memory
meter, the memory budget that picks a tile size, and the inputs of srlab-upscale."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from srlab.errors import SRLabError
from srlab.inference import (
    _LiveBytes,
    auto_tile_size,
    collect_inputs,
    output_path,
    sr_forward,
    upscale,
    upscale_files,
)
from tests.helpers import make_photo, small_model


@pytest.mark.parametrize(
    "name,scale", [("edsr", 2), ("espcn", 3), ("srcnn", 2), ("lapsrn", 4), ("mdsr", 3)]
)
def test_tiled_equals_untiled_for_every_kind_of_network(name, scale):
    # RGB, Y + CbCr merge, pre-upsampled + border, multi-output, multi-scale (x3 of x2/x3)
    model = small_model(name)
    x = torch.rand(1, 3, 45, 52)
    with torch.inference_mode():
        whole = model(x, scale)
        tiled = sr_forward(model, x, scale, tile=20, overlap=6, context=10)
    assert tiled.shape == whole.shape == (1, 3, 45 * scale, 52 * scale)
    assert (tiled - whole).abs().max() < 1e-5


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
    model = small_model("edsr")

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


def test_two_inputs_with_one_output_name_are_refused(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        Image.fromarray(make_photo(8, 8)).save(tmp_path / sub / "same.png")
    with pytest.raises(SRLabError, match="two inputs would both be written as same"):
        collect_inputs([str(tmp_path / "a"), str(tmp_path / "b")])
    assert output_path(tmp_path, tmp_path / "a" / "same.png").name == "same.png"


def test_upscale_files_writes_skips_and_overwrites(tmp_path, image_folder):
    model = small_model("espcn_rgb").eval()
    src = image_folder("in", sizes=((10, 12), (9, 7)))
    out = tmp_path / "out"
    files = collect_inputs([str(src)])
    done: list[Path] = []
    written, skipped = upscale_files(model, files, out, progress=done.append)
    assert written == [out / "0000.png", out / "0001.png"] and skipped == [] and done == files
    with Image.open(out / "0001.png") as im:
        assert im.size == (21, 27)
    (out / "0000.png").unlink()
    written, skipped = upscale_files(model, files, out)
    assert written == [out / "0000.png"] and skipped == [files[1]]
    written, skipped = upscale_files(model, files, out, overwrite=True)
    assert len(written) == 2 and skipped == []
    assert output_path(out, files[0]) == out / "0000.png"
    with pytest.raises(SRLabError, match="upscales x3, not x2"):
        upscale_files(model, files, out, scale=2)
    (tmp_path / "other").mkdir()
    Image.open(files[0]).save(tmp_path / "other" / "0000.jpg")
    with pytest.raises(SRLabError, match="two inputs would both be written as 0000"):
        collect_inputs([str(src), str(tmp_path / "other")])
