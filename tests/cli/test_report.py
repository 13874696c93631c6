"""srlab-report: PSNR against parameters or MACs, sizes from metrics.json, the papers' numbers from
the experiment configs' ``paper:`` blocks (or a user's config folder), a multirun's table."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf
from PIL import Image

from srlab.cli.common import CONF_DIR
from srlab.cli.evaluate import evaluate
from srlab.cli.report import main as report_main
from srlab.reporting import collect, load_papers, match_paper
from tests.helpers import compose, run_cli, tiny_x2_overrides, write_metrics_json


def test_report_plots_psnr_against_macs_recorded_by_srlab_eval(tmp_path, capsys):
    # two networks whose order differs by params and by MACs: the two plots must differ
    write_metrics_json(
        tmp_path / "runs" / "a",
        "ESPCN",
        {"params": 22_729, "macs_720p_hr": {"x3": 2_316_697_600}},
        33.0,
    )
    write_metrics_json(
        tmp_path / "runs" / "b",
        "SRCNN",
        {"params": 8_129, "macs_720p_hr": {"x3": 7_460_262_912}},
        32.0,
    )
    pngs = {}
    for x in ("params", "macs"):
        report_main([str(tmp_path / "runs"), "--out", str(tmp_path / x), "--x", x])
        pngs[x] = np.asarray(Image.open(tmp_path / x / "report.png").convert("L"))
    md = (tmp_path / "macs" / "report.md").read_text()
    assert "| MACs (720p HR) |" in md
    assert "| ESPCN | x3 | 22.7K | 2.3G | Set5 | 33.00 |" in md
    assert "| SRCNN | x3 | 8.1K | 7.5G | Set5 | 32.00 |" in md
    # the papers' numbers beside ours (espcn_x3's and srcnn_x3's paper blocks), with their sources
    assert "| 33.13 / 29.49 |" in md and "| 32.39* / 29.00* |" in md
    assert "- `espcn_x3`: Shi et al., CVPR 2016 (ESPCN); trained on ImageNet" in md
    assert "* not checked against the paper" in md
    assert pngs["params"].shape == pngs["macs"].shape and (pngs["params"] != pngs["macs"]).any()
    assert pngs["macs"].min() < 128  # something is drawn
    assert "wrote" in capsys.readouterr().out


def test_report_x_axis_is_params_or_macs(tmp_path, capsys):
    write_metrics_json(
        tmp_path / "r", "ESPCN", {"params": 22_729}
    )  # no MACs recorded, no checkpoint
    with pytest.raises(SystemExit):
        report_main([str(tmp_path / "r"), "--out", str(tmp_path / "o"), "--x", "flops"])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        report_main([str(tmp_path / "r"), "--out", str(tmp_path / "o"), "--x", "macs"])
    assert e.value.code == 2 and "no result on Set5 has a macs count" in capsys.readouterr().err
    report_main([str(tmp_path / "r"), "--out", str(tmp_path / "o")])  # params: fine
    assert "| ESPCN | x3 | 22.7K | ? | Set5 |" in (tmp_path / "o" / "report.md").read_text()


def test_a_run_reports_the_paper_block_of_its_own_experiment(tmp_path):
    # an EDSR-baseline x2 run: its own block (37.99), not EDSR's (edsr_x2, 38.11), which a bare
    # EDSR result falls back to
    run = tmp_path / "outputs" / "edsr_baseline_x2" / "2026-11-30_07-00-00"
    cfg = compose(["experiment=edsr_baseline_x2"], output_dir=run)
    (run / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    (run / ".hydra" / "hydra.yaml").write_text(
        "hydra:\n  runtime:\n    choices:\n      experiment: edsr_baseline_x2\n"
    )
    size = {"params": 1_370_000, "macs_720p_hr": {"x2": 316_000_000_000}}
    write_metrics_json(run / "eval", "EDSR", size, 37.5, run / "checkpoints" / "best.ckpt", scale=2)
    write_metrics_json(tmp_path / "outputs" / "bare", "EDSR", size, 37.4, scale=2)
    rows = {r["psnr"]: r for r in collect([tmp_path / "outputs"])}
    papers = load_papers([CONF_DIR])
    own = match_paper(rows[37.5], papers)
    assert own.experiment == "edsr_baseline_x2" and own.at("Set5", 2) == 37.99
    assert match_paper(rows[37.4], papers).experiment == "edsr_x2"
    report_main([str(tmp_path / "outputs"), "--out", str(tmp_path / "report")])
    md = (tmp_path / "report" / "report.md").read_text()
    assert (
        "| 37.50 | 0.9000 | 28.00 | 37.99 / 33.57 |" in md
        and "| 37.40 | 0.9000 | 28.00 | 38.11 / 33.92 |" in md
    )
    assert (
        "- `edsr_baseline_x2`: later papers' comparison tables" in md
        and "- `edsr_x2`: Lim et al." in md
    )


def test_a_users_config_folder_adds_and_replaces_paper_blocks(tmp_path, capsys):
    mine = tmp_path / "my_configs" / "experiment"
    mine.mkdir(parents=True)
    (mine / "espcn_x3.yaml").write_text(  # replaces srlab's espcn_x3 block
        "# @package _global_\n"
        "paper:\n"
        '  source: "Me et al. 2026 (ESPCN retrained)"\n'
        "  psnr: {Set5: {x3: 32.5}, B100: {x3: 28.5}}\n"
    )
    write_metrics_json(tmp_path / "r", "ESPCN", {"params": 22_729}, 28.0, set_name="B100")
    args = [str(tmp_path / "r"), "--out", str(tmp_path / "o"), "--config-dir", str(mine.parent)]
    report_main(args)
    md = (tmp_path / "o" / "report.md").read_text()
    assert "| ESPCN | x3 | 22.7K | ? | B100 | 28.00 |" in md
    assert (
        "| 32.50 / - |" in md
        and "- `espcn_x3`: Me et al. 2026 (ESPCN retrained)" in md
        and "Shi et al." not in md
    )
    (mine / "broken_x2.yaml").write_text('paper:\n  source: "X 2020"\n  psnr: {Set5: {two: 30}}\n')
    with pytest.raises(SystemExit) as e:
        report_main(args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and "broken_x2.yaml: paper.psnr.Set5.two must be a scale x<N>" in err
    with pytest.raises(SystemExit) as e:
        report_main(
            [
                str(tmp_path / "r"),
                "--out",
                str(tmp_path / "o"),
                "--config-dir",
                str(tmp_path / "none"),
            ]
        )
    assert e.value.code == 2 and "config folder not found" in capsys.readouterr().err


@pytest.mark.slow  # one srlab-train multirun of three tiny runs + three evaluations: ~40 s
def test_multirun_of_three_networks_gives_one_table_and_plot(tmp_path, image_folder, capsys):
    train_dir = image_folder("hr", sizes=((48, 60), (51, 45)))
    val_dir = image_folder("val", sizes=((36, 48),))
    sweep = tmp_path / "multirun"
    # paper widths (small nets), 2 steps each
    overrides = [
        o for o in tiny_x2_overrides(train_dir, val_dir, epochs=1, samples=8) if "num_feat" not in o
    ]
    res = run_cli(
        "srlab-train",
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
            compose(
                [f"ckpt_path={ckpt}", f"test_sets.photos={val_dir}", "save_images=false"],
                config_name="eval",
                output_dir=sweep / job / "eval",
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
