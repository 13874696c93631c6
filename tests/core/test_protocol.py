"""The evaluation protocol: one dataclass, one spelling of its name everywhere it is reported."""

from __future__ import annotations

import pytest
import torch

from srlab.archs import ESPCN
from srlab.core.protocol import Protocol, grey8, protocol_line
from srlab.errors import SRLabError
from srlab.evaluation import results_markdown
from srlab.metrics import PSNR
from srlab.models import SRModule


def test_records_and_names():
    single = Protocol(scales=(3,))
    assert single.as_dict() == {
        "degradation": "bicubic-matlab",
        "scale": 3,
        "colour": "y-bt601",
        "grey_files": "grey values",
        "crop_border": 3,
        "quantization": "8-bit",
        "mean": "over images",
    }
    assert (
        single.name
        == "bicubic-matlab x3, y-bt601 (grey files: grey values), crop 3 px, 8-bit, over images"
    )
    multi = Protocol(scales=(2, 4), y_channel=False)
    assert multi.as_dict()["scale"] == [2, 4] and multi.as_dict()["crop_border"] == "scale"
    assert (
        multi.as_dict()["grey_files"] == "rgb copy"
    )  # an RGB protocol scores grey files' RGB copy
    assert multi.name == "bicubic-matlab x2/x4, rgb, crop = scale, 8-bit, over images"
    assert (multi.crop(2), multi.crop(4)) == (2, 4)
    fixed = Protocol(scales=(2, 4), crop_border=0, grey_files="y")
    assert fixed.as_dict()["crop_border"] == 0 and fixed.crop(4) == 0
    assert "y-bt601 (grey files: y of rgb copy), crop 0 px" in fixed.name


def test_an_older_record_still_renders():
    old = {
        "degradation": "bicubic-matlab",
        "scale": 2,
        "colour": "y-bt601",
        "crop_border": 2,
        "quantization": "8-bit",
        "mean": "over images",
    }  # before the grey rule was recorded
    assert protocol_line(old) == "bicubic-matlab x2, y-bt601, crop 2 px, 8-bit, over images"


def test_every_report_spells_the_name_the_same_way():
    """The module's protocol (checkpoints, dashboards), the tables of srlab-eval and the metrics'
    own protocol are all the one Protocol's name, or the part of it a metric knows."""
    model = SRModule(ESPCN(scale=3))
    assert model.protocol == Protocol(scales=(3,)).name == model.eval_protocol.name
    results = {"protocol": Protocol(scales=(3,)).as_dict(), "sets": {}}
    assert results_markdown(results).splitlines()[0] == f"Protocol: {model.protocol}"
    metric = PSNR(crop_border=3)
    assert metric.protocol == "y-bt601, crop 3 px, 8-bit"
    assert metric.protocol in model.protocol.replace(" (grey files: grey values)", "")


def test_grey_rule_decides_by_channel_count_and_scores_grey_values():
    y, rgb, as_y = (
        Protocol(scales=(2,)),
        Protocol(scales=(2,), y_channel=False),
        Protocol(grey_files="y"),
    )
    assert y.is_grey(1) and not y.is_grey(3) and not y.is_grey(None)
    assert not rgb.is_grey(1) and not as_y.is_grey(1)
    hr = torch.full((1, 3, 4, 4), 0.5)
    sr = torch.tensor([0.6, 0.4, 0.5]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    s, h = y.scored(sr, hr, grey=True)
    assert s.shape == h.shape == (1, 1, 4, 4)
    torch.testing.assert_close(s, grey8(sr))
    s, h = y.scored(sr, hr, grey=False)
    assert s is sr and h is hr
    with pytest.raises(SRLabError, match="grey_files must be one of grey, y"):
        Protocol(grey_files="luma")
