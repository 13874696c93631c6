"""srlab-report: a multirun of three networks, each evaluated, -> one table and one plot."""

from __future__ import annotations

import pytest
import yaml
from PIL import Image

from srlab.cli.evaluate import evaluate
from srlab.cli.report import main as report_main

from ..cli.conftest import compose_at
from .helpers import run_train, tiny_overrides


@pytest.mark.slow  # one srlab-train multirun of three tiny runs + three evaluations: ~40 s
def test_multirun_of_three_networks_gives_one_table_and_plot(tmp_path, image_folder, capsys):
    train_dir = image_folder("hr", sizes=((48, 60), (51, 45)))
    val_dir = image_folder("val", sizes=((36, 48),))
    sweep = tmp_path / "multirun"
    # paper widths (small nets), 2 steps each
    overrides = [
        o for o in tiny_overrides(train_dir, val_dir, epochs=1, samples=8) if "num_feat" not in o
    ]
    res = run_train(
        "-m",
        "model/net=espcn,srcnn,fsrcnn",
        *overrides,
        "data.scale=3",
        f"hydra.sweep.dir={sweep}",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    for job in ("0", "1", "2"):
        ckpt = sweep / job / "checkpoints" / "last.ckpt"
        assert ckpt.exists(), job
        hparams = yaml.safe_load(
            next((sweep / job / "csv").rglob("hparams.yaml")).read_text()
        )  # logged with the config
        assert "params" in hparams["model_size"] and hparams["protocol"].startswith(
            "bicubic-matlab x3,"
        )
        evaluate(
            compose_at(
                sweep / job / "eval",
                [f"ckpt_path={ckpt}", f"test_sets.photos={val_dir}", "save_images=false"],
                config_name="eval",
            )
        )
    out = tmp_path / "report"
    report_main([str(sweep), "--out", str(out)])
    md = (out / "report.md").read_text().splitlines()
    rows = [ln for ln in md if ln.startswith("| ") and "x3" in ln]
    assert len(rows) == 3, md
    assert {r.split("|")[1].strip() for r in rows} == {"ESPCN", "SRCNN", "FSRCNN"}
    assert any(
        "33.13 / 29.49" in r for r in rows if "ESPCN" in r
    )  # the paper's numbers beside ours
    png = Image.open(out / "report.png")
    assert png.size[0] > 300 and png.getextrema() != ((255, 255),) * 3
    assert "wrote" in capsys.readouterr().out
