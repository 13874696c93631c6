"""The report: MOS and Student-t intervals checked by hand, table, JSON and chart; the CLI."""

from __future__ import annotations

import json
import math

import pytest
from PIL import Image

from srlab.mos import Study, mos_table, write_report
from srlab.mos.cli import main
from srlab.mos.report import t_interval


def test_t_interval_by_hand():
    # mean 3, sd = sqrt(2.5), t(0.975, 4) = 2.776445
    m, lo, hi = t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    assert m == 3 and lo == pytest.approx(3 - half) and hi == pytest.approx(3 + half)
    assert math.isnan(t_interval([4.0])[1]) and math.isnan(t_interval([])[0])


def _vote_all(study_db, scores_by_rater):
    """scores_by_rater: {rater: {model: score}}: each rater gives one score to all a model's images."""
    with Study(study_db) as s:
        model_of = dict(
            s.con.execute("SELECT i.id, m.name FROM images i JOIN models m ON m.id = i.model_id")
        )
        for name, per_model in scores_by_rater.items():
            r = s.get_or_create_rater(name)
            for iid in s.order(r):
                s.vote(r, iid, per_model[model_of[iid]])


def test_report_numbers(study_db, tmp_path):
    _vote_all(
        study_db,
        {
            "r1": {"bicubic": 1, "srcnn": 3, "edsr": 5},
            "r2": {"bicubic": 2, "srcnn": 3, "edsr": 4},
            "r3": {"bicubic": 3, "srcnn": 4, "edsr": 5},
        },
    )
    with Study(study_db) as s:
        t = mos_table(s)
    assert t["raters"] == 3 and t["scale"] == [1, 5]
    b = t["models"]["bicubic"]
    assert (
        b["mos"] == pytest.approx(2.0)
        and b["votes"] == 12
        and b["raters"] == 3
        and b["images"] == 4
    )
    # per rater: means 1, 2, 3 -> sd 1, t(0.975, 2) = 4.302653
    half = 4.302652729911275 / math.sqrt(3)
    assert b["ci_per_rater"] == pytest.approx([2 - half, 2 + half])
    # per vote: 4 x (1, 2, 3): narrower
    assert b["ci_per_vote"][1] - b["ci_per_vote"][0] < 2 * half
    assert t["models"]["edsr"]["mos"] == pytest.approx(14 / 3)

    paths = write_report(study_db, tmp_path / "rep")
    md = paths["md"].read_text()
    assert "| bicubic | 2.00 |" in md and "per rater" in md and "Student t" in md
    assert json.loads(paths["json"].read_text())["models"]["srcnn"]["votes"] == 12
    with Image.open(paths["png"]) as im:
        assert im.format == "PNG" and im.width > 200


def test_report_with_one_rater_and_no_votes(study_db, tmp_path):
    paths = write_report(study_db, tmp_path / "empty")  # no vote yet: n/a, no crash
    assert "n/a" in paths["md"].read_text()
    assert json.loads(paths["json"].read_text())["models"]["edsr"]["mos"] is None
    _vote_all(study_db, {"solo": {"bicubic": 2, "srcnn": 3, "edsr": 4}})
    md = write_report(study_db, tmp_path / "solo", ci="vote")["md"].read_text()
    assert "| edsr | 4.00 | n/a | [4.00, 4.00] | 1 | 4 | 4 |" in md


def test_cli_create_and_report(tmp_path, eval_dirs, capsys):
    runs, hr = eval_dirs
    db = tmp_path / "cli.db"
    args = ["create", "--study", str(db), "--hr", str(hr), "--scale", "0-5"]
    for name, run in runs.items():
        args += ["--model", f"{name}={run}"]
    assert main(args) == 0
    assert "3 models x 4 images = 12" in capsys.readouterr().out
    assert main(args) == 2  # exists: clear error, no traceback
    assert "already exists" in capsys.readouterr().err
    assert main(["create", "--study", str(tmp_path / "x.db"), "--model", f"a={tmp_path}/none"]) == 2
    with Study(db) as s:
        assert (s.scale_min, s.scale_max) == (0, 5)
    assert main(["report", "--study", str(db), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "mos.png").is_file() and "| edsr |" in capsys.readouterr().out
    assert main(["report", "--study", str(tmp_path / "missing.db"), "--out", str(tmp_path)]) == 2
