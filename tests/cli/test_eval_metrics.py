"""srlab-eval metrics=[psnr,niqe,...]: per image and per set in metrics.json/.md; srlab-report's
perception-distortion table and plane for two networks; missing LPIPS weights stop the run first."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from srlab.cli.evaluate import evaluate, summary_metrics
from srlab.cli.report import main as report_main
from srlab.errors import SRLabError
from srlab.reporting import collect

from .conftest import compose_at
from .test_evaluate_dashboards import ESPCN_X3, write_tiny_checkpoint

FSRCNN_X3 = {"_target_": "srlab.archs.FSRCNN", "scale": 3}


def _eval(tmp_path, folder, spec, name, *overrides):
    ckpt = write_tiny_checkpoint(tmp_path / f"{name}.ckpt", spec)
    out = tmp_path / "multirun" / name  # as a Hydra multirun over ckpt_path lays its jobs out
    cfg = compose_at(
        out,
        [f"ckpt_path={ckpt}", f"test_sets.photos={folder}", "save_images=false", *overrides],
        config_name="eval",
    )
    return evaluate(cfg), out


def test_two_networks_with_niqe_give_the_table_and_the_pd_plane(tmp_path, image_folder, capsys):
    # an image that keeps 2x2 NIQE blocks after the x3 border crop
    folder = image_folder("set", sizes=((204, 198),))
    results = {}
    for name, spec in (("espcn", ESPCN_X3), ("fsrcnn", FSRCNN_X3)):
        results[name], out = _eval(tmp_path, folder, spec, name, "metrics=[psnr,niqe]")
    res = results["espcn"]
    entry = res["sets"]["photos"]
    imgs = entry["images"]
    assert all(np.isfinite(i["niqe"]) and np.isfinite(i["bicubic_niqe"]) for i in imgs)
    assert entry["model"]["niqe"] == pytest.approx(np.mean([i["niqe"] for i in imgs]))
    assert entry["bicubic"]["niqe"] == pytest.approx(np.mean([i["bicubic_niqe"] for i in imgs]))
    assert "lpips" not in entry["model"] and "niqe" in res["protocol"]["perceptual"]
    assert summary_metrics(res)["test/photos/niqe"] == entry["model"]["niqe"]
    saved = json.loads((tmp_path / "multirun" / "espcn" / "metrics.json").read_text())
    assert saved["sets"]["photos"]["model"]["niqe"] == pytest.approx(entry["model"]["niqe"])
    md = (tmp_path / "multirun" / "espcn" / "metrics.md").read_text()
    assert (
        "| bicubic NIQE | ESPCN NIQE |" in md and f"| {imgs[0]['name']} |" in md.split("NIQE |")[-1]
    )
    assert "ESPCN NIQE" in capsys.readouterr().out  # printed with the PSNR table

    rows = collect([tmp_path / "multirun"])
    assert {r["network"] for r in rows} == {"ESPCN", "FSRCNN"} and all("niqe" in r for r in rows)
    report_main([str(tmp_path / "multirun"), "--out", str(tmp_path / "report"), "--x", "params"])
    report = (tmp_path / "report" / "report.md").read_text()
    assert "Perception-distortion" in report and "| ESPCN | x3 | photos |" in report
    png = tmp_path / "report" / "report_pd.png"
    pixels = np.asarray(Image.open(png).convert("L"))
    assert pixels.shape[0] > 300 and pixels.min() < 128
    assert "perception-distortion plane" in capsys.readouterr().out


def test_psnr_ssim_stay_the_default_and_a_plain_report_has_no_pd_plane(tmp_path, image_folder):
    folder = image_folder("set", sizes=((60, 60),))
    res, out = _eval(tmp_path, folder, ESPCN_X3, "plain")
    assert (
        set(res["sets"]["photos"]["model"]) == {"psnr", "ssim"}
        and "perceptual" not in res["protocol"]
    )
    report_main([str(out), "--out", str(tmp_path / "report")])
    assert not (tmp_path / "report" / "report_pd.png").exists()
    assert "Perception-distortion" not in (tmp_path / "report" / "report.md").read_text()


def test_missing_lpips_weights_stop_the_run_before_any_work(tmp_path, image_folder, monkeypatch):
    import torch

    monkeypatch.setenv("SRLAB_OFFLINE", "1")
    before = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        folder = image_folder("set", sizes=((60, 60),))
        with pytest.raises(
            SRLabError, match=r"alexnet-owt-7be5be79\.pth.*metric_weights\.lpips_alex"
        ):
            _eval(tmp_path, folder, ESPCN_X3, "lpips", "metrics=[psnr,ssim,lpips]")
        assert not (tmp_path / "multirun" / "lpips" / "metrics.json").exists()
    finally:
        torch.hub.set_dir(before)


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
