import json

import pytest
import torch
from PIL import Image

from srlab.cli.evaluate import evaluate
from srlab.data import read_image

from .conftest import compose_at, run_cli

pytestmark = pytest.mark.slow


def test_eval_writes_metrics_table_and_pictures(trained, tmp_path, image_folder, capsys):
    ckpt, _, _ = trained
    folder = image_folder("set", sizes=((60, 75), (48, 51)))
    cfg = compose_at(
        tmp_path / "eval", [f"ckpt_path={ckpt}", f"+test_sets.mine={folder}"], config_name="eval"
    )
    results = evaluate(cfg)
    out = capsys.readouterr().out
    assert "| photos |" in out and "| mine |" in out and "bicubic PSNR" in out
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["protocol"]["colour"] == "y-bt601" and saved["protocol"]["crop_border"] == 3
    assert saved["sets"]["mine"]["num_images"] == 2
    assert set(saved["sets"]) == {"photos", "mine"}
    assert results["sets"]["photos"]["model"]["psnr"] > 0
    cmp = read_image(tmp_path / "eval" / "compare" / "mine" / "0000.png")
    assert cmp.shape[-1] > 3 * 75  # three panels side by side
    assert (tmp_path / "eval" / "metrics.md").read_text().count("|") > 20


def test_eval_entry_point(trained, tmp_path, image_folder):
    ckpt, _, _ = trained
    folder = image_folder("set", sizes=((30, 33),))
    res = run_cli(
        "srlab-eval", f"ckpt_path={ckpt}", f"test_sets.photos={folder}", f"hydra.run.dir={tmp_path}"
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "metrics.json").exists() and "| photos | 1 |" in res.stdout
    res = run_cli("srlab-eval", f"ckpt_path={tmp_path}/missing.ckpt", f"hydra.run.dir={tmp_path}")
    assert (
        res.returncode == 2
        and "checkpoint not found" in res.stderr
        and "Traceback" not in res.stderr
    )


def test_upscale_files_and_folders(trained, tmp_path, image_folder):
    ckpt, _, _ = trained
    folder = image_folder("in", sizes=((20, 25), (16, 17)), sub="deeper")
    single = tmp_path / "single.jpg"
    Image.new("RGB", (10, 8), (200, 30, 40)).save(single)
    out = tmp_path / "out"
    res = run_cli("srlab-upscale", str(folder), str(single), "--ckpt", str(ckpt), "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["0000.png", "0001.png", "single.png"]
    assert read_image(out / "0000.png").shape == (3, 60, 75)
    up = read_image(out / "single.png").float()
    assert up.shape == (3, 24, 30)
    # a flat colour stays (nearly) that colour: Y from the net, CbCr from bicubic
    assert torch.allclose(up.mean(dim=(1, 2)), torch.tensor([200.0, 30.0, 40.0]), atol=6)


def test_upscale_errors_name_the_culprit(trained, tmp_path):
    ckpt, _, _ = trained
    res = run_cli(
        "srlab-upscale", str(tmp_path / "nope.png"), "--ckpt", str(ckpt), "--out", str(tmp_path)
    )
    assert res.returncode == 2 and "input not found" in res.stderr and "nope.png" in res.stderr
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    res = run_cli("srlab-upscale", str(bad), "--ckpt", str(ckpt), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "corrupt.png" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o" / "corrupt.png").exists()
    good = tmp_path / "good.png"
    Image.new("RGB", (8, 8)).save(good)
    res = run_cli(
        "srlab-upscale",
        str(good),
        "--ckpt",
        str(ckpt),
        "--out",
        str(tmp_path / "o"),
        "--scale",
        "4",
    )
    assert res.returncode == 2 and "x3, not x4" in res.stderr
