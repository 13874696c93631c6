"""srlab-eval sr_dir=...: scoring released SR images (no model) under srlab's protocol."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from srlab.archs.base import SRNet
from srlab.core.imresize import imresize
from srlab.data.io import to_float, write_image
from srlab.data.sources import ImageFolder, prepare_pair
from srlab.errors import SRLabError
from srlab.evaluation import evaluate_sets, match_sr_files, score_folders
from srlab.models.sr_module import SRModule

from ..conftest import make_photo


def test_match_sr_files_naming_rules():
    hr = ["baby", "bird_GT", "img_001_SRF_2_HR", "head_HR_x2", "img_01"]
    sr = [
        "baby_x2_SR.png",  # RCAN/EDSR release style
        "baby_x4_SR.png",  # another scale: skipped
        "bird_SR.png",
        "img_001_SRF_2_SR.png",  # SelfExSR style
        "img_001_SRF_2_HR.png",  # the HR copy beside it: skipped
        "img_001_SRF_2_LR.png",  # LR copy: skipped
        "head_RCAN_x2.png",
        "img_01.png",
    ]
    got = {k: v.name for k, v in match_sr_files(hr, sr, 2).items()}
    assert got == {
        "baby": "baby_x2_SR.png",
        "bird_GT": "bird_SR.png",
        "img_001_SRF_2_HR": "img_001_SRF_2_SR.png",
        "head_HR_x2": "head_RCAN_x2.png",
        "img_01": "img_01.png",
    }
    # the scale-naming candidate wins over a plain one
    assert match_sr_files(["baby"], ["baby.png", "baby_x2.png"], 2)["baby"].name == "baby_x2.png"


def test_match_sr_files_fails_in_one_sentence_naming_the_files():
    with pytest.raises(SRLabError) as e:
        match_sr_files(
            ["baby", "bird", "woman"],
            ["baby_SR.png", "brid_SR.png", "woman_a.png", "woman_b.png"],
            2,
            where="sr_dir res",
        )
    msg = str(e.value)
    assert msg.startswith("sr_dir res (x2): ") and "\n" not in msg
    assert "no SR image for bird" in msg and "matching no HR image: brid_SR.png" in msg
    assert "woman (woman_a.png, woman_b.png)" in msg and "sr_glob" in msg


def _hr_folder(tmp_path, grey=False):
    """Two colour photos, one of odd size (not a multiple of 2 or 3), and a grey one."""
    d = tmp_path / "Set" / "HR"
    d.mkdir(parents=True)
    Image.fromarray(make_photo(40, 44, 0)).save(d / "baby_GT.bmp")
    Image.fromarray(make_photo(41, 47, 1)).save(d / "bird_GT.png")
    if grey:
        Image.fromarray(make_photo(38, 42, 2)[..., 1]).save(d / "bridge.bmp")
    return d


def _bicubic_sr(hr_dir, out, scale, full_size=False, suffix="_x{s}_SR"):
    """Save each HR image's bicubic upscale into ``out`` the way releases do."""
    out.mkdir(parents=True, exist_ok=True)
    for rec in ImageFolder(hr_dir).load(scale):
        full = rec.hr
        rec = prepare_pair(rec, scale)
        up = imresize(to_float(rec.lr).unsqueeze(0), scale).clamp(0, 1)[0]
        if full_size:  # pad back to the uncropped HR size (some releases keep it)
            pad = torch.zeros(3, *full.shape[-2:])
            pad[:, : up.shape[1], : up.shape[2]] = up
            up = pad
        stem = rec.name.replace("_GT", "")
        write_image(out / f"{stem}{suffix.format(s=scale)}.png", up)


@pytest.mark.parametrize("full_size", [False, True])
def test_score_folders_matches_bicubic(tmp_path, full_size):
    hr = _hr_folder(tmp_path)
    _bicubic_sr(hr, tmp_path / "res" / "x3", 3, full_size=full_size)
    res = score_folders({"Set": ImageFolder(hr)}, tmp_path / "res" / "x{scale}", [3])
    r = res["sets"]["Set"]
    assert r["num_images"] == 2 and r["scale"] == 3
    for row in r["images"]:
        assert row["psnr"] == pytest.approx(row["bicubic_psnr"], abs=1e-9)
        assert row["sr_file"].endswith("_x3_SR.png")
    assert res["protocol"]["sr_dir"].endswith("x{scale}")


def test_score_folders_refuses_wrong_sizes_and_patterns(tmp_path):
    hr = _hr_folder(tmp_path)
    out = tmp_path / "res"
    out.mkdir()
    write_image(out / "baby_SR.png", torch.zeros(3, 40, 44))
    write_image(out / "bird_SR.png", torch.zeros(3, 20, 23))  # the LR size, not the HR size
    with pytest.raises(
        SRLabError,
        match=r"bird_SR.png is 23x20, expected the HR size 47x41 or its x2 mod-crop 46x40",
    ):
        score_folders({"Set": ImageFolder(hr)}, out, [2])
    with pytest.raises(SRLabError, match=r"put \{scale\} in it"):
        score_folders({"Set": ImageFolder(hr)}, out, [2, 3])
    with pytest.raises(SRLabError, match="SR folder not found"):
        score_folders({"Set": ImageFolder(hr)}, tmp_path / "nowhere", [2])


class _Smooth(SRNet):
    """A tiny Y or RGB 'network': bicubic plus a learnt-looking tweak."""

    def __init__(self, in_channels):
        super().__init__(scale=2, in_channels=in_channels)
        self.w = torch.nn.Parameter(torch.tensor(0.9))

    def forward(self, x):
        up = imresize(x, 2)
        return up * self.w + 0.1 * up.mean()


@pytest.mark.parametrize("in_channels", [1, 3])
def test_scoring_saved_outputs_reproduces_the_model_numbers(tmp_path, in_channels):
    """srlab-eval's own sr/ pictures, scored as a released folder, give the same PSNR/SSIM,
    grey file included (its SR picture is saved grey)."""
    hr = _hr_folder(tmp_path, grey=True)
    model = SRModule(_Smooth(in_channels))
    direct = evaluate_sets(model, {"Set": ImageFolder(hr)}, out_dir=tmp_path / "run")
    assert np.array(Image.open(tmp_path / "run" / "sr" / "Set" / "bridge.png")).ndim == 2
    again = score_folders({"Set": ImageFolder(hr)}, tmp_path / "run" / "sr" / "{set}", [2])
    a = {i["name"]: i for i in direct["sets"]["Set"]["images"]}
    b = {i["name"]: i for i in again["sets"]["Set"]["images"]}
    assert a.keys() == b.keys() and b["bridge"]["grey"] is True
    for n in a:
        assert b[n]["psnr"] == pytest.approx(a[n]["psnr"], abs=1e-9), n
        assert b[n]["ssim"] == pytest.approx(a[n]["ssim"], abs=1e-12), n
        assert b[n]["bicubic_psnr"] == pytest.approx(a[n]["bicubic_psnr"], abs=1e-12), n


def test_grey_sr_of_a_colour_image_is_refused(tmp_path):
    hr = _hr_folder(tmp_path)
    out = tmp_path / "res"
    out.mkdir()
    write_image(out / "baby.png", torch.zeros(1, 40, 44))
    write_image(out / "bird.png", torch.zeros(3, 40, 46))
    with pytest.raises(
        SRLabError, match="baby.png is grey but its HR image .*baby_GT.bmp is in colour"
    ):
        score_folders({"Set": ImageFolder(hr)}, out, [2])


def test_srlab_eval_sr_dir(compose_cfg, tmp_path, capsys):
    from srlab.cli.evaluate import evaluate

    root = tmp_path / "bench"
    hr = _hr_folder(root)  # root/Set/HR: the benchmark layout
    _bicubic_sr(hr, tmp_path / "released" / "RCAN" / "Set" / "x2", 2, suffix="_RCAN_x{s}")
    cfg = compose_cfg(
        [
            f"sr_dir='{tmp_path}/released/RCAN/{{set}}/x{{scale}}'",
            "~test_sets",
            "+test_sets.Set=benchmark",
            f"benchmark_root={root}",
            "scales=2",
        ],
        config_name="eval",
    )
    res = evaluate(cfg)
    out = tmp_path / "run"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["network"] == "RCAN" and saved["sets"]["Set"]["num_images"] == 2
    md = (out / "metrics.md").read_text()
    assert "| RCAN PSNR |" in md and "grey files: grey values" in md
    assert res["sets"]["Set"]["model"]["psnr"] == pytest.approx(
        res["sets"]["Set"]["bicubic"]["psnr"]
    )
    assert "RCAN PSNR" in capsys.readouterr().out
    # without scales: one clear sentence
    cfg = compose_cfg(
        [
            f"sr_dir={tmp_path}/released",
            "~test_sets",
            "+test_sets.Set=benchmark",
            f"benchmark_root={root}",
        ],
        config_name="eval",
    )
    with pytest.raises(SRLabError, match="sr_dir needs the scale"):
        evaluate(cfg)
