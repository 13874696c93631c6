"""Grey (one-channel) test files are scored on their grey values, decided by the file's channel
count: Set14's bridge.bmp under the MATLAB scripts behind the published tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from srlab.archs.base import SRNet
from srlab.core.imresize import imresize
from srlab.core.protocol import grey_values
from srlab.data.io import is_grey_file
from srlab.data.sources import ImageFolder
from srlab.evaluation import evaluate_sets, results_markdown, score_bicubic
from srlab.models.sr_module import SRModule

from ..conftest import make_photo

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
    g, grey, rgb = grey_sets
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
