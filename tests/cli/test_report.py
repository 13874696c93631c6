"""srlab-report: PSNR against parameters or MACs, sizes from metrics.json or the checkpoint; the
papers' numbers from the experiment configs' ``paper:`` blocks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from PIL import Image

from srlab.cli.common import CONF_DIR
from srlab.cli.report import main as report_main
from srlab.errors import SRLabError
from srlab.reporting import PaperResult, collect, load_papers, match_paper

from .conftest import compose_at
from .test_evaluate_dashboards import ESPCN_X3_MACS, ESPCN_X3_PARAMS, write_tiny_checkpoint

REPO = Path(__file__).resolve().parents[2]


def _metrics(path, network=None, size=None, psnr=30.0, checkpoint="", scale=3, set_name="Set5"):
    res = {
        "protocol": {"degradation": "bicubic-matlab", "scale": scale},
        "sets": {
            set_name: {
                "set": set_name,
                "scale": scale,
                "model": {"psnr": psnr, "ssim": 0.9},
                "bicubic": {"psnr": 28.0, "ssim": 0.8},
            }
        },
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
    _metrics(
        tmp_path / "runs" / "a",
        "ESPCN",
        {"params": 22_729, "macs_720p_hr": {"x3": 2_316_697_600}},
        33.0,
    )
    _metrics(
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


def test_report_counts_params_and_macs_from_the_checkpoint_of_older_metrics(tmp_path):
    ckpt = write_tiny_checkpoint(tmp_path / "tiny.ckpt")
    _metrics(tmp_path / "old", checkpoint=ckpt)  # no network / model_size recorded
    (row,) = collect([tmp_path / "old"])
    assert (row["network"], row["params"], row["macs"]) == ("ESPCN", ESPCN_X3_PARAMS, ESPCN_X3_MACS)
    assert row["paper"] is None  # a checkpoint outside a training run: no run config


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


def test_every_paper_experiment_config_has_a_valid_paper_block():
    papers = load_papers([CONF_DIR])
    experiments = {p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml")}
    # an experiment that reproduces a paper carries its numbers; the demo reproduces none
    missing = sorted(experiments - {"demo"} - set(papers))
    assert not missing, f"experiment configs without a paper: block: {missing}"
    assert papers["espcn_x3"].at("Set5", 3) == 33.13 and papers["espcn_x3"].at("set14", 3) == 29.49
    vdsr = papers["vdsr_x234"]  # one model, three scales
    assert [vdsr.at("Set5", s) for s in (2, 3, 4)] == [37.53, 33.66, 31.35] and vdsr.at(
        "Set14", 4
    ) == 28.01
    lap = papers["ms_lapsrn_x248"]
    assert (
        not lap.is_verified("Set5", 2) and lap.is_verified("Set14", 2) and lap.at("Set5", 8) is None
    )
    assert papers["esrgan_x4"].psnr == {} and "perceptual index" in papers["esrgan_x4"].note
    for p in papers.values():
        assert re.search(r"\b(19|20)\d\d\b", p.source), p  # every block names its paper and year


def test_the_reproduction_table_agrees_with_the_paper_blocks():
    """experiments/README.md copies the blocks for readers: every number of a block is in the row
    that names its experiment, and that row has no other number."""
    rows = {}
    for line in (REPO / "experiments" / "README.md").read_text().splitlines():
        m = re.match(
            r"\| [^|`]*`([a-z0-9_]+)`[^|]*\| [^|]* \| ([^|]*) \|", line
        )  # the first `name`
        if m:
            rows[m.group(1)] = m.group(2)
    for name, paper in load_papers([CONF_DIR]).items():
        assert name in rows, f"experiments/README.md has no row naming `{name}`"
        in_note = {
            float(v) for v in re.findall(r"\d+\.\d\d", paper.note or "")
        }  # LapSRN: re-evaluated
        nums = [float(v) for v in re.findall(r"\d+\.\d\d", rows[name]) if float(v) not in in_note]
        published = [
            v for set_name in ("Set5", "Set14") for v in paper.psnr.get(set_name, {}).values()
        ]
        assert sorted(nums) == sorted(published), (name, rows[name])


def test_a_run_reports_the_paper_block_of_its_own_experiment(tmp_path):
    # an EDSR-baseline x2 run: its own block (37.99), not EDSR's (edsr_x2, 38.11), which a bare
    # EDSR result falls back to
    run = tmp_path / "outputs" / "edsr_baseline_x2" / "2026-11-30_07-00-00"
    cfg = compose_at(run, ["experiment=edsr_baseline_x2"])
    (run / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    (run / ".hydra" / "hydra.yaml").write_text(
        "hydra:\n  runtime:\n    choices:\n      experiment: edsr_baseline_x2\n"
    )
    size = {"params": 1_370_000, "macs_720p_hr": {"x2": 316_000_000_000}}
    _metrics(run / "eval", "EDSR", size, 37.5, run / "checkpoints" / "best.ckpt", scale=2)
    _metrics(tmp_path / "outputs" / "bare", "EDSR", size, 37.4, scale=2)
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
    _metrics(tmp_path / "r", "ESPCN", {"params": 22_729}, 28.0, set_name="B100")
    report_main(
        [
            str(tmp_path / "r"),
            "--out",
            str(tmp_path / "o"),
            "--config-dir",
            str(tmp_path / "my_configs"),
        ]
    )
    md = (tmp_path / "o" / "report.md").read_text()
    assert "| ESPCN | x3 | 22.7K | ? | B100 | 28.00 |" in md
    assert (
        "| 32.50 / - |" in md
        and "- `espcn_x3`: Me et al. 2026 (ESPCN retrained)" in md
        and "Shi et al." not in md
    )
    (mine / "broken_x2.yaml").write_text('paper:\n  source: "X 2020"\n  psnr: {Set5: {two: 30}}\n')
    with pytest.raises(SystemExit) as e:
        report_main(
            [
                str(tmp_path / "r"),
                "--out",
                str(tmp_path / "o"),
                "--config-dir",
                str(tmp_path / "my_configs"),
            ]
        )
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


@pytest.mark.parametrize(
    "block, message",
    [
        ({"psnr": {"Set5": {"x2": 30.0}}}, "paper.source must name the paper"),
        ({"source": "A 2020", "psnr": {"Set5": 30.0}}, "paper.psnr.Set5 must map scales to dB"),
        (
            {"source": "A 2020", "psnr": {"Set5": {"x2": "high"}}},
            "paper.psnr.Set5.x2 must be a scale",
        ),
        (
            {"source": "A 2020", "psnr": {"Set5": {"x2": 30.0}}, "unverified": ["Set5/x3"]},
            "'Set5/x3', which is not",
        ),
        ({"source": "A 2020", "table": 3}, "unknown keys ['table']"),
    ],
)
def test_malformed_paper_blocks_are_one_sentence(block, message):
    with pytest.raises(SRLabError, match=re.escape(message)):
        PaperResult.from_block("x", block, "x.yaml")
