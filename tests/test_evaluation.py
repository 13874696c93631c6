"""Evaluation (srlab.evaluation): scoring released SR images (no model) under srlab's protocol,
grey test files scored on their grey values (Set14's bridge.bmp under the MATLAB scripts behind
the published tables), the x8 self-ensemble rows, and one checkpoint evaluated at every scale it
serves."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import srlab
from srlab.archs.base import SRNet
from srlab.cli.evaluate import evaluate
from srlab.core.imresize import imresize
from srlab.core.protocol import grey_values
from srlab.data.io import is_grey_file, write_image
from srlab.data.sources import ImageFolder, ImageRecord
from srlab.errors import SRLabError
from srlab.evaluation import (
    evaluate_sets,
    match_sr_files,
    results_markdown,
    score_bicubic,
    score_folders,
    sr_picture,
    sr_picture_path,
)
from srlab.models import SRModule, load_model
from tests.helpers import (
    compose,
    hr_folder,
    make_photo,
    small_model,
    tiny_run_overrides,
    write_bicubic_sr,
)


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


@pytest.mark.parametrize("full_size", [False, True])
def test_score_folders_matches_bicubic(tmp_path, full_size):
    hr = hr_folder(tmp_path)
    write_bicubic_sr(hr, tmp_path / "res" / "x3", 3, full_size=full_size)
    res = score_folders({"Set": ImageFolder(hr)}, tmp_path / "res" / "x{scale}", [3])
    r = res["sets"]["Set"]
    assert r["num_images"] == 2 and r["scale"] == 3
    for row in r["images"]:
        assert row["psnr"] == pytest.approx(row["bicubic_psnr"], abs=1e-9)
        assert row["sr_file"].endswith("_x3_SR.png")
    assert res["protocol"]["sr_dir"].endswith("x{scale}")


def test_score_folders_refuses_wrong_sizes_and_patterns(tmp_path):
    hr = hr_folder(tmp_path)
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
    hr = hr_folder(tmp_path, grey=True)
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
    hr = hr_folder(tmp_path)
    out = tmp_path / "res"
    out.mkdir()
    write_image(out / "baby.png", torch.zeros(1, 40, 44))
    write_image(out / "bird.png", torch.zeros(3, 40, 46))
    with pytest.raises(
        SRLabError, match=r"baby\.png is grey but its HR image .*baby_GT\.bmp is in colour"
    ):
        score_folders({"Set": ImageFolder(hr)}, out, [2])


def test_released_sr_images_get_niqe_too(tmp_path, image_folder):
    from srlab.data.sources import ImageFolder
    from srlab.evaluation import score_folders
    from srlab.metrics.quality import ImageMetrics

    hr = image_folder("hr", sizes=((201, 198),))
    sr_dir = tmp_path / "released"
    sr_dir.mkdir()
    img = Image.open(next(hr.iterdir()))
    img.crop((0, 0, 198, 201)).save(sr_dir / "0000_x3_SR.png")  # the HR itself as "SR"
    res = score_folders(
        {"photos": ImageFolder(hr)}, sr_dir, [3], extra_metrics=ImageMetrics(["niqe"])
    )
    (row,) = res["sets"]["photos"]["images"]
    assert np.isfinite(row["niqe"]) and res["sets"]["photos"]["model"]["niqe"] == row["niqe"]


SCALE = 2


def _grey_array(h: int = 46, w: int = 41, seed: int = 3) -> np.ndarray:
    """A grey photo with values from 0 to 255 (full range, as bridge.bmp)."""
    g = make_photo(h, w, seed).astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    g = (g - g.min()) / (g.max() - g.min()) * 255.0
    return g.round().astype(np.uint8)


def _psnr_by_hand(hr: np.ndarray, scale: int) -> float:
    """Bicubic PSNR on grey values, written out: mod-crop, MATLAB-bicubic down and up on the
    grey channel, 8-bit rounding, border crop, PSNR on 0..255."""
    h, w = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
    hr = hr[:h, :w].astype(np.float64)
    x = torch.from_numpy(hr / 255.0)[None, None]
    lr = imresize(x, 1 / scale).clamp(0, 1).mul(255).round().div(255)
    up = imresize(lr, scale).clamp(0, 1).mul(255).round()[0, 0].numpy()
    c = scale
    mse = np.mean((up[c:-c, c:-c] - hr[c:-c, c:-c]) ** 2)
    return 10 * math.log10(255.0**2 / mse)


@pytest.fixture
def grey_sets(tmp_path):
    """One grey PNG, one grey BMP, and an RGB PNG whose three channels are the same grey."""
    g = _grey_array()
    (tmp_path / "grey").mkdir()
    Image.fromarray(g).save(tmp_path / "grey" / "bridge.bmp")
    Image.fromarray(g).save(tmp_path / "grey" / "bridge2.png")
    (tmp_path / "rgb").mkdir()
    Image.fromarray(np.repeat(g[..., None], 3, axis=2)).save(tmp_path / "rgb" / "bridge_rgb.png")
    return g, tmp_path / "grey", tmp_path / "rgb"


def test_is_grey_file_reads_the_channel_count(grey_sets):
    _, grey, rgb = grey_sets
    assert is_grey_file(grey / "bridge.bmp") and is_grey_file(grey / "bridge2.png")
    assert not is_grey_file(rgb / "bridge_rgb.png")  # equal channels, still an RGB file
    assert not is_grey_file(grey / "missing.png")


def test_bicubic_on_grey_files_equals_grey_values_by_hand(grey_sets):
    g, grey, rgb = grey_sets
    want = _psnr_by_hand(g, SCALE)
    res = score_bicubic({"grey": ImageFolder(grey), "rgb": ImageFolder(rgb)}, [SCALE])
    rows = {i["name"]: i for r in res["sets"].values() for i in r["images"]}
    for name in ("bridge", "bridge2"):  # BMP and PNG
        assert rows[name]["grey"] is True
        assert rows[name]["bicubic_psnr"] == pytest.approx(want, abs=1e-9)
    # the RGB copy with equal channels is scored on Y: Y's 16..235 range shrinks the error
    assert "grey" not in rows["bridge_rgb"]
    assert rows["bridge_rgb"]["bicubic_psnr"] == pytest.approx(
        want + 20 * math.log10(255 / 219), abs=0.02
    )
    assert rows["bridge_rgb"]["bicubic_psnr"] > want + 1.0
    assert res["protocol"]["grey_files"] == "grey values"
    assert "y-bt601 (grey files: grey values)" in results_markdown(res, "bicubic")


def test_grey_rule_y_scores_the_rgb_copy(grey_sets):
    _g, grey, rgb = grey_sets
    as_y = score_bicubic({"grey": ImageFolder(grey)}, [SCALE], grey_files="y")
    rgb_copy = score_bicubic({"rgb": ImageFolder(rgb)}, [SCALE])
    assert as_y["sets"]["grey"]["images"][0]["bicubic_psnr"] == pytest.approx(
        rgb_copy["sets"]["rgb"]["images"][0]["bicubic_psnr"], abs=1e-9
    )
    assert as_y["protocol"]["grey_files"] == "y of rgb copy"
    # an RGB protocol leaves grey files alone (replicated RGB)
    assert (
        score_bicubic({"grey": ImageFolder(grey)}, [SCALE], y_channel=False)["protocol"][
            "grey_files"
        ]
        == "rgb copy"
    )


class _Bicubic(SRNet):
    """A "network" that upscales with MATLAB bicubic and records what it was given."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(scale=SCALE, in_channels=in_channels)
        self.w = nn.Parameter(torch.zeros(()))
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return imresize(x, SCALE) + self.w


@pytest.mark.parametrize("in_channels", [1, 3])
def test_networks_on_grey_files(grey_sets, in_channels):
    """Y networks get the grey values as their Y (as VDSR/LapSRN/IDN's MATLAB scripts do); RGB
    networks the replicated image. A bicubic 'network' then scores exactly the bicubic PSNR."""
    g, grey, _ = grey_sets
    model = SRModule(_Bicubic(in_channels))
    res = evaluate_sets(model, {"grey": ImageFolder(grey)}, save_images=False, self_ensemble=True)
    for row in res["sets"]["grey"]["images"]:
        assert row["grey"] is True
        assert row["psnr"] == pytest.approx(row["bicubic_psnr"], abs=1e-6)
        assert row["psnr_x8"] == pytest.approx(row["bicubic_psnr"], abs=1e-6)
        assert row["bicubic_psnr"] == pytest.approx(_psnr_by_hand(g, SCALE), abs=1e-9)
    lr = (
        imresize(torch.from_numpy(g[:46, :40] / 255.0)[None, None], 1 / SCALE)
        .clamp(0, 1)
        .mul(255)
        .round()
        .div(255)
    )
    seen = model.net.seen[0]
    assert seen.shape[1] == in_channels
    # the net's input is the grey LR itself (not 16 + 219/255 g): on every channel
    assert torch.allclose(seen.double(), lr.expand_as(seen).double(), atol=1e-5)


def test_rgb_network_output_scored_on_its_luma(grey_sets):
    """An RGB output of a grey image is scored on its BT.601 luma (MATLAB rgb2gray)."""

    class _Tinted(_Bicubic):
        def forward(self, x):
            out = super().forward(x)
            return out + torch.tensor([0.02, -0.01, 0.0]).view(1, 3, 1, 1)

    _, grey, _ = grey_sets
    res = evaluate_sets(SRModule(_Tinted(3)), {"grey": ImageFolder(grey)}, save_images=False)
    row = res["sets"]["grey"]["images"][0]
    # luma shift 0.299 * 0.02 - 0.587 * 0.01 ~ 0.0001: 0.03 of a level, rounds away mostly
    assert row["psnr"] == pytest.approx(row["bicubic_psnr"], abs=0.05)
    x = torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1)
    assert torch.equal(grey_values(x), x[:, :1])


def test_eval_reports_plain_and_self_ensemble_rows():
    model = small_model("edsr")
    g = torch.Generator().manual_seed(0)
    recs = [
        ImageRecord(name=f"im{i}", hr=(torch.rand(3, 24, 28, generator=g) * 255).to(torch.uint8))
        for i in range(2)
    ]
    res = evaluate_sets(model, {"tiny": recs}, self_ensemble=True)
    r = res["sets"]["tiny"]
    assert set(r["ensemble"]) == {"psnr", "ssim"} and r["ensemble"]["psnr"] != r["model"]["psnr"]
    assert all("psnr_x8" in im for im in r["images"])
    md = results_markdown(res, "EDSR")
    assert "| tiny | 2 |" in md and "| tiny (self-ensemble x8) | 2 |" in md
    plain = evaluate_sets(model, {"tiny": recs})
    assert "ensemble" not in plain["sets"]["tiny"]


def test_evaluation_reports_every_scale(mdsr_run, tmp_path, capsys):
    ckpt, _, _, hr = mdsr_run
    model = load_model(ckpt)
    results = evaluate_sets(model, {"mine": srlab.data.ImageFolder(hr)}, save_images=False)
    assert list(results["sets"]) == ["mine/x2", "mine/x3", "mine/x4"]
    assert [r["scale"] for r in results["sets"].values()] == [2, 3, 4]
    assert [r["crop_border"] for r in results["sets"].values()] == [2, 3, 4]
    table = results_markdown(results)
    assert all(f"| mine | 2 | x{s} |" in table for s in (2, 3, 4))
    cfg = compose(
        [f"ckpt_path={ckpt}", f"test_sets.photos={hr}", "scales=[3,4]"],
        config_name="eval",
        output_dir=tmp_path / "eval",
    )
    evaluate(cfg)
    out = capsys.readouterr().out
    assert "| photos | 2 | x3 |" in out and "| photos | 2 | x4 |" in out and "x2 |" not in out
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert (
        saved["protocol"]["scale"] == [3, 4]
        and (tmp_path / "eval" / "compare" / "photos" / "x4").is_dir()
    )


def test_one_lapsrn_checkpoint_evaluates_every_scale_it_produces(compose_cfg, image_folder):
    from pathlib import Path

    from srlab.cli.train import train
    from srlab.data.sources import ImageFolder
    from srlab.evaluation import evaluate_sets
    from srlab.models import load_model

    folder = image_folder(sizes=((48, 48), (48, 56)))
    cfg = compose_cfg(
        [
            "experiment=lapsrn_x4",
            *tiny_run_overrides(folder, 32),
            "model.net.num_feat=4",
            "model.net.num_layer=1",
            "trainer.max_epochs=1",
        ]
    )
    metrics, _ = train(cfg)
    assert "val/x4/psnr" in metrics  # trained and validated at x4 (both levels supervised)
    model = load_model(Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt")
    assert model.scales == (2, 4)
    results = evaluate_sets(model, {"photos": ImageFolder(str(folder))}, save_images=False)
    assert set(results["sets"]) == {"photos/x2", "photos/x4"}
    assert all(r["num_images"] == 2 and r["model"]["psnr"] > 0 for r in results["sets"].values())


# LR 50x45 and 45x48: larger than a tile of 8 with its 16 pixels of context on each side
BIG = ((150, 135), (135, 144))


def test_evaluate_sets_in_tiles_gives_the_whole_image_scores(tmp_path, image_folder):
    model = small_model("espcn_rgb").eval()
    sets = {"s": ImageFolder(str(image_folder("hr", sizes=BIG)))}
    whole = evaluate_sets(model, sets, save_images=False, self_ensemble=True)["sets"]["s"]
    tiled = evaluate_sets(model, sets, save_images=False, self_ensemble=True, tile=8)["sets"]["s"]
    for key in ("model", "ensemble"):
        assert tiled[key]["psnr"] == pytest.approx(whole[key]["psnr"], abs=1e-4)
        assert tiled[key]["ssim"] == pytest.approx(whole[key]["ssim"], abs=1e-6)
    calls = []
    forward = model.forward
    model.forward = lambda lr, scale=None: calls.append(tuple(lr.shape)) or forward(lr, scale)
    evaluate_sets(model, {"s": sets["s"].load(3)[:1]}, save_images=False, tile=8)
    assert len(calls) > 1 and max(max(c[-2:]) for c in calls) <= 8 + 2 * 16  # tile + context
    for bad in (0, -3, 2.5, True, "8"):
        with pytest.raises(SRLabError, match="tile must be a positive number of LR pixels"):
            evaluate_sets(model, sets, save_images=False, tile=bad)


def test_sr_picture_is_the_saved_picture(tmp_path, image_folder):
    model = small_model("espcn_rgb").eval()
    (rec,) = ImageFolder(str(image_folder("hr", sizes=((151, 137),)))).load(3)
    evaluate_sets(model, {"set": [rec]}, out_dir=tmp_path / "run")
    saved = sr_picture_path(tmp_path / "run", "set", rec.name)
    assert saved == tmp_path / "run" / "sr" / "set" / f"{rec.name}.png" and saved.is_file()
    picture = sr_picture(model, rec, 3, tile=8)
    assert picture.shape == (3, 150, 135)  # the HR image mod-cropped to x3
    as_saved = torch.from_numpy(np.array(Image.open(saved))).permute(2, 0, 1).int()
    assert (picture.mul(255).round().int() - as_saved).abs().max() <= 1  # tiles: float noise
