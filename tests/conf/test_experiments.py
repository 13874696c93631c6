"""Every experiment config: a fast_dev_run smoke test, a valid ``paper:`` block, and the
reproduction table of experiments/README.md that copies the blocks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from srlab.cli.common import CONF_DIR
from srlab.cli.train import train
from srlab.reporting import load_papers
from tests.helpers import REPO, compose

EXPERIMENTS = sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml"))
SMOKE_FAST = "demo"  # the representative of the loop in `pytest -m "not slow"`: the README's run


@pytest.mark.parametrize(
    "experiment",
    [e if e == SMOKE_FAST else pytest.param(e, marks=pytest.mark.slow) for e in EXPERIMENTS],
)
def test_every_experiment_config_runs(tmp_path, image_folder, experiment):
    probe = compose([f"experiment={experiment}"], output_dir=tmp_path)
    overrides = [f"experiment={experiment}", "debug=fdr", "data.num_workers=0"]
    if "train_dir" in probe.data:  # experiments on real data sets get a folder made here
        d = probe.data
        # multi-scale nets list several scales
        scales = list(d.scale) if OmegaConf.is_list(d.scale) else [d.scale]
        hr_patch = max(d.get("hr_patch_size") or 0, (d.get("patch_size") or 0) * max(scales))
        side = max(96, hr_patch + 12) // 12 * 12  # divisible by every scale 2, 3, 4
        folder = image_folder(sizes=((side, side + 24), (side, side)))
        # small (x2..x8): validation runs once per scale
        val = image_folder("val", sizes=((48, 72),))
        overrides += [f"data.train_dir={folder}", f"data.val_dir={val}", "data.batch_size=2"]
    if OmegaConf.is_missing(probe, "stage1_ckpt"):  # GAN stages name their PSNR-stage checkpoint
        overrides.append("init_from=null")
    # VGG losses: no ImageNet weights here
    for name, term in ((probe.get("loss") or {}).get("terms") or {}).items():
        if OmegaConf.is_dict(term) and "vgg_weights" in term:
            overrides.append(f"loss.terms.{name}.vgg_weights=random")
    overrides += list(probe.get("smoke_test_overrides") or [])  # e.g. a shallower trunk on the CPU
    metrics, _ = train(compose(overrides, output_dir=tmp_path))
    assert metrics["train/loss"] == metrics["train/loss"]  # finite, not NaN


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
