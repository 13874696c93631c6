"""srlab-report: PSNR against parameters or MACs, sizes from metrics.json or the checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from srlab.cli.report import collect
from srlab.cli.report import main as report_main

from .test_evaluate_dashboards import ESPCN_X3_MACS, ESPCN_X3_PARAMS, write_tiny_checkpoint


def _metrics(path, network=None, size=None, psnr=30.0, checkpoint="", scale=3):
    res = {
        "protocol": {"degradation": "bicubic-matlab", "scale": scale},
        "sets": {"Set5": {"set": "Set5", "scale": scale, "model": {"psnr": psnr, "ssim": 0.9},
                          "bicubic": {"psnr": 28.0, "ssim": 0.8}}},
        "checkpoint": str(checkpoint),
    }
    if network:
        res["network"] = network
    if size:
        res["model_size"] = size
    path.mkdir(parents=True, exist_ok=True)
    (path / "metrics.json").write_text(json.dumps(res))


def test_report_plots_psnr_against_macs_recorded_by_srlab_eval(tmp_path, capsys):
    # two networks whose order differs by params and by MACs: the two plots must differ
    _metrics(tmp_path / "runs" / "a", "ESPCN", {"params": 22_729, "macs_720p_hr": {"x3": 2_316_697_600}}, 33.0)
    _metrics(tmp_path / "runs" / "b", "SRCNN", {"params": 8_129, "macs_720p_hr": {"x3": 7_460_262_912}}, 32.0)
    pngs = {}
    for x in ("params", "macs"):
        report_main([str(tmp_path / "runs"), "--out", str(tmp_path / x), "--x", x, "--papers", "experiments/README.md"])
        pngs[x] = np.asarray(Image.open(tmp_path / x / "report.png").convert("L"))
    md = (tmp_path / "macs" / "report.md").read_text()
    assert "| MACs (720p HR) |" in md
    assert "| ESPCN | x3 | 22.7K | 2.3G | Set5 | 33.00 |" in md
    assert "| SRCNN | x3 | 8.1K | 7.5G | Set5 | 32.00 |" in md
    assert "33.13 / 29.49" in md  # the paper's numbers beside ours
    assert pngs["params"].shape == pngs["macs"].shape and (pngs["params"] != pngs["macs"]).any()
    assert pngs["macs"].min() < 128  # something is drawn
    assert "wrote" in capsys.readouterr().out


def test_report_counts_params_and_macs_from_the_checkpoint_of_older_metrics(tmp_path):
    ckpt = write_tiny_checkpoint(tmp_path / "tiny.ckpt")
    _metrics(tmp_path / "old", checkpoint=ckpt)  # no network / model_size recorded
    (row,) = collect([tmp_path / "old"])
    assert (row["network"], row["params"], row["macs"]) == ("ESPCN", ESPCN_X3_PARAMS, ESPCN_X3_MACS)


def test_report_x_axis_is_params_or_macs(tmp_path, capsys):
    _metrics(tmp_path / "r", "ESPCN", {"params": 22_729})  # no MACs recorded, no checkpoint
    with pytest.raises(SystemExit):
        report_main([str(tmp_path / "r"), "--out", str(tmp_path / "o"), "--x", "flops"])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        report_main([str(tmp_path / "r"), "--out", str(tmp_path / "o"), "--x", "macs"])
    assert e.value.code == 2 and "no result on Set5 has a macs count" in capsys.readouterr().err
    report_main([str(tmp_path / "r"), "--out", str(tmp_path / "o")])  # params: fine
    assert "| ESPCN | x3 | 22.7K | ? | Set5 |" in (tmp_path / "o" / "report.md").read_text()
