"""The report: MOS and Student-t intervals checked by hand, controls and exclusions, table,
JSON and chart; the CLI, its one-sentence errors and files it must leave alone."""

from __future__ import annotations

import json
import math
import os
import sqlite3

import pytest
from PIL import Image

from srlab.mos import Exclusion, Study, create_study, mos_table, write_report
from srlab.mos.cli import main
from srlab.mos.report import t_interval

from .test_db import _sha


def test_t_interval_by_hand():
    # mean 3, sd = sqrt(2.5), t(0.975, 4) = 2.776445
    m, lo, hi = t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    assert m == 3 and lo == pytest.approx(3 - half) and hi == pytest.approx(3 + half)
    assert math.isnan(t_interval([4.0])[1]) and math.isnan(t_interval([])[0])


def _vote_all(study_db, scores_by_rater, anchor=5, repeat_shift=0, upto=None):
    """scores_by_rater: {rater: {model: score}}: each rater gives one score to all a model's
    images, ``anchor`` to hidden HR anchors, and the first score + ``repeat_shift`` to repeats."""
    with Study(study_db) as s:
        model_of = dict(
            s.con.execute("SELECT i.id, m.name FROM images i JOIN models m ON m.id = i.model_id")
        )
        for name, per_model in scores_by_rater.items():
            r = s.invite(name)[0]
            for pos, iid, role in s.items(r)[:upto]:
                if role == "anchor":
                    score = anchor
                else:
                    score = per_model[model_of[iid]] + (repeat_shift if role == "repeat" else 0)
                s.vote(r, pos, min(max(score, s.scale_min), s.scale_max))


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
    assert t["raters"] == 3 and t["excluded"] == 0 and t["scale"] == [1, 5]
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
    assert "0 of 3 who voted excluded" in md
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


def test_controls_and_exclusions(tmp_path, eval_dirs):
    runs, hr = eval_dirs
    db = tmp_path / "qc.db"
    create_study(db, runs, hr_dir=hr, seed=3, anchors=2, repeats=2)
    good = {"bicubic": 2, "srcnn": 3, "edsr": 4}
    _vote_all(db, {"good1": good, "good2": good})
    _vote_all(db, {"lazy": {"bicubic": 5, "srcnn": 5, "edsr": 5}}, upto=3)  # 3 of 16 items
    _vote_all(db, {"blind": {"bicubic": 4, "srcnn": 4, "edsr": 4}}, anchor=1)  # HR anchor poor
    _vote_all(db, {"random": {"bicubic": 3, "srcnn": 3, "edsr": 3}}, repeat_shift=-2)
    _vote_all(db, {"gone": good})
    with Study(db) as s:
        s.revoke("gone")
        t = mos_table(s)  # default rule: only revoked raters left out
        assert t["raters_total"] == 6 and t["excluded"] == 1
        qc = {r["rater"]: r for r in t["rater_qc"]}
        assert qc["good1"]["anchor_votes"] == 2 and qc["good1"]["anchor_mean"] == 5
        assert qc["good1"]["repeat_pairs"] == 2 and qc["good1"]["repeat_mean_abs_diff"] == 0
        assert qc["blind"]["anchor_mean"] == 1 and qc["random"]["repeat_mean_abs_diff"] == 2
        assert qc["gone"]["excluded"] == "revoked"
        # controls are not data: each model still counts one vote per rated image
        lazy = s.items(_rater(s, "lazy"))[:3]
        lazy_edsr = sum(role == "rate" and _model(s, i) == "edsr" for _, i, role in lazy)
        assert t["models"]["edsr"]["votes"] == 4 * 4 + lazy_edsr
        assert "HR (hidden anchor)" not in t["models"]
        rule = Exclusion(min_votes=10, anchor_min=4, max_repeat_diff=1)
        t = mos_table(s, rule)
    assert t["raters"] == 2 and t["excluded"] == 4
    qc = {r["rater"]: r["excluded"] for r in t["rater_qc"]}
    assert qc["good1"] == qc["good2"] == ""
    assert qc["lazy"].startswith("3 votes") or "votes" in qc["lazy"]
    assert qc["blind"] == "anchor mean 1.00" and qc["random"] == "repeat diff 2.00"
    assert t["models"]["bicubic"]["mos"] == 2 and t["models"]["edsr"]["raters"] == 2
    assert t["models"]["edsr"]["ci_per_rater"] == [4, 4]
    md = write_report(db, tmp_path / "rep", exclude=rule)["md"].read_text()
    assert "2 rater(s) counted, 4 of 6 who voted excluded" in md
    assert "fewer than 10 votes" in md and "| blind | 12 | 2 | 1.00 |" in md


def _rater(s, name):
    from srlab.mos.db import Rater

    row = s.con.execute("SELECT id, name FROM raters WHERE name = ?", (name,)).fetchone()
    return Rater(*row)


def _model(s, iid):
    return s.con.execute(
        "SELECT m.name FROM images i JOIN models m ON m.id = i.model_id WHERE i.id = ?", (iid,)
    ).fetchone()[0]


def test_names_in_markdown_escaped(tmp_path, eval_dirs):
    runs, _ = eval_dirs
    db = tmp_path / "pipe.db"
    create_study(db, {"A|B": runs["edsr"], "C<i>": runs["srcnn"]})
    _vote_all(db, {"x|y": {"A|B": 3, "C<i>": 4}})
    md = write_report(db, tmp_path / "r")["md"].read_text()
    assert "| A\\|B | 3.00 |" in md and "| C&lt;i&gt; | 4.00 |" in md and "| x\\|y | 8 |" in md
    for line in md.splitlines():
        if line.startswith("| A"):
            assert line.replace("\\|", "").count("|") == 8  # still 7 columns


def _cli_models(runs) -> list[str]:
    out = []
    for name, run in runs.items():
        out += ["--model", f"{name}={run}"]
    return out


def test_cli_create_invite_report(tmp_path, eval_dirs, capsys):
    runs, hr = eval_dirs
    db = tmp_path / "cli.db"
    args = ["create", "--study", str(db), "--hr", str(hr), "--scale", "0-5", "--anchors", "2"]
    args += _cli_models(runs)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "3 models x 4 images = 12" in out and "2 hidden HR anchor(s) and 2 repeat(s)" in out
    assert main(args) == 2  # exists: clear error, no traceback
    assert "already exists" in capsys.readouterr().err
    assert main(["create", "--study", str(tmp_path / "x.db"), "--model", f"a={tmp_path}/none"]) == 2
    invite = ["invite", "--study", str(db), "--name", "ann", "--name", "ben"]
    assert main([*invite, "--url", "http://127.0.0.1:8000"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split("\t")[0] for ln in lines] == ["ann", "ben"]
    assert lines[0].split("\t")[2] == f"http://127.0.0.1:8000/?code={lines[0].split()[1]}"
    assert main(["invite", "--study", str(db), "--name", "ANN"]) == 2
    assert "already invited" in capsys.readouterr().err
    assert main(["revoke", "--study", str(db), "--name", "ben"]) == 0
    assert main(["raters", "--study", str(db)]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == ["ann\t0/16\tactive", "ben\t0/16\trevoked"]
    with Study(db) as s:
        assert (s.scale_min, s.scale_max) == (0, 5)
    rule = ["--min-votes", "5", "--anchor-min", "4", "--max-repeat-diff", "1"]
    assert main(["report", "--study", str(db), "--out", str(tmp_path / "out"), *rule]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "out" / "mos.png").is_file() and "| edsr |" in out
    assert "fewer than 5 votes" in out
    # a dropped picture is listed by create
    (runs["edsr"] / "sr" / "Set5" / "camera.png").write_bytes(
        (runs["edsr"] / "sr" / "Set5" / "baby.png").read_bytes()
    )
    assert main(["create", "--study", str(tmp_path / "d.db"), *_cli_models(runs)]) == 0
    assert "left out (1 not in every model): Set5/camera (missing in" in capsys.readouterr().out


def test_cli_overwrite_keeps_votes_on_bad_input(tmp_path, eval_dirs, capsys):
    runs, hr = eval_dirs
    db = tmp_path / "v.db"
    assert main(["create", "--study", str(db), "--hr", str(hr), *_cli_models(runs)]) == 0
    _vote_all(db, {"r": {"bicubic": 2, "srcnn": 3, "edsr": 4}})
    before, listing = _sha(db), sorted(os.listdir(tmp_path))
    capsys.readouterr()
    for extra in (["--model", f"typo={tmp_path}/eval_edsrr"], ["--hr", str(tmp_path / "HRR")]):
        args = ["create", "--study", str(db), "--overwrite", "--hr", str(hr), *_cli_models(runs)]
        assert main(args + extra) == 2
        err = capsys.readouterr().err
        assert err.startswith("srlab-mos: error: ") and err.count("\n") == 1  # one sentence
        assert _sha(db) == before and sorted(os.listdir(tmp_path)) == listing


@pytest.mark.parametrize("command", ["serve", "report", "invite", "raters"])
@pytest.mark.parametrize(
    "content, message",
    [(b"", "is an empty file"), (b"not sqlite", "not an SQLite"), (None, "is a directory")],
)
def test_cli_foreign_study_files(tmp_path, capsys, command, content, message):
    p = tmp_path / "s.db"
    if content is None:
        p.mkdir()
    else:
        p.write_bytes(content)
    args = {"report": ["--out", str(tmp_path / "o")], "invite": ["--name", "x"]}.get(command, [])
    assert main([command, "--study", str(p), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    if content is not None:
        assert p.read_bytes() == content  # never modified (a 0-byte file stays 0 bytes)
    assert sorted(os.listdir(tmp_path)) == ["s.db"]
    assert main(["create", "--study", str(tmp_path), "--model", f"a={tmp_path}"]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_schema_1_study_still_reported(tmp_path):
    """A study made by the first srlab-mos (raters by name, votes by image id) is reported
    read-only after the upgrade: its votes are not lost."""
    db = tmp_path / "v1.db"
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode = WAL")
    con.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT);"
        "CREATE TABLE images (id INTEGER PRIMARY KEY, model_id INTEGER, key TEXT, path TEXT,"
        " ref_id INTEGER);"
        "CREATE TABLE raters (id INTEGER PRIMARY KEY, name TEXT, token TEXT, created REAL);"
        "CREATE TABLE votes (id INTEGER PRIMARY KEY, rater_id INTEGER, image_id INTEGER,"
        " score INTEGER, created REAL, updated REAL);"
        "INSERT INTO meta VALUES ('schema', '1'), ('scale_min', '1'), ('scale_max', '5'),"
        " ('seed', '1'), ('created', '0');"
        "INSERT INTO models VALUES (1, 'a'), (2, 'b');"
        "INSERT INTO images VALUES (1, 1, 'k1', 'p', NULL), (2, 2, 'k1', 'p', NULL);"
        "INSERT INTO raters VALUES (1, 'r1', 't1', 0), (2, 'r2', 't2', 0), (3, 'r3', 't3', 0);"
        "INSERT INTO votes VALUES (1, 1, 1, 2, 0, 0), (2, 1, 2, 4, 0, 0), (3, 2, 1, 3, 0, 0),"
        " (4, 2, 2, 5, 0, 0), (5, 3, 1, 1, 0, 0);"
    )
    con.commit()
    con.close()
    before = _sha(db)
    md = write_report(db, tmp_path / "r", exclude=Exclusion(min_votes=2))["md"].read_text()
    assert "| a | 2.50 |" in md and "| b | 4.50 |" in md and "1 of 3 who voted excluded" in md
    assert _sha(db) == before


def test_report_joins_metrics_and_mos(tmp_path, capsys):
    """Simulated raters whose scores follow each SR image's distance to its HR: the report gives
    each model's mean PSNR/SSIM on the rated pixels and a positive Spearman rho with MOS."""
    import numpy as np

    rng = np.random.default_rng(0)
    hr_dir = tmp_path / "HR"
    hr_dir.mkdir()
    noise = {"bad": 40.0, "mid": 12.0, "good": 3.0}
    runs = {m: tmp_path / m for m in noise}
    for i in range(4):
        hr = rng.integers(30, 220, (32, 32, 3)).astype(np.float64)
        Image.fromarray(hr.astype(np.uint8)).save(hr_dir / f"p{i}.png")
        for m, sd in noise.items():
            sr = np.clip(hr + rng.normal(0, sd * (1 + 0.3 * i), hr.shape), 0, 255)
            d = runs[m] / "sr" / "Set5"
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(sr.round().astype(np.uint8)).save(d / f"p{i}.png")
    db = tmp_path / "study.db"
    create_study(db, runs, hr_dir=hr_dir, seed=1)
    with Study(db) as s:
        model_of = dict(
            s.con.execute("SELECT i.id, m.name FROM images i JOIN models m ON m.id = i.model_id")
        )
        key_of = dict(s.con.execute("SELECT id, key FROM images"))
        base = {"bad": 1, "mid": 3, "good": 5}
        for name in ("r1", "r2", "r3"):
            r = s.invite(name)[0]
            for pos, iid, role in s.items(r):
                # the picture index makes later pictures noisier: one point less from p2 on
                idx = int(key_of[iid].rsplit("p", 1)[-1]) if role == "rate" else 0
                score = base.get(model_of[iid], 5) - (
                    1 if idx >= 2 and base.get(model_of[iid]) != 1 else 0
                )
                s.vote(r, pos, min(max(score, s.scale_min), s.scale_max))
    assert (
        main(
            ["report", "--study", str(db), "--out", str(tmp_path / "rep"), "--metrics", "psnr,ssim"]
        )
        == 0
    )
    out = capsys.readouterr().out
    table = json.loads((tmp_path / "rep" / "mos.json").read_text())["metrics"]
    psnr = {m: table["models"][m]["psnr"] for m in noise}
    assert psnr["good"] > psnr["mid"] > psnr["bad"]
    rho = table["correlation"]["psnr"]
    assert rho["rho"] > 0.8 and rho["n"] == 12 and rho["low"] <= rho["rho"] <= rho["high"]
    assert "Spearman" in out or "rho" in out
    # --metrics none: MOS alone; an unknown metric: one sentence, exit 2
    assert (
        main(["report", "--study", str(db), "--out", str(tmp_path / "r2"), "--metrics", "none"])
        == 0
    )
    assert "metrics" not in json.loads((tmp_path / "r2" / "mos.json").read_text())
    capsys.readouterr()
    assert (
        main(["report", "--study", str(db), "--out", str(tmp_path / "r3"), "--metrics", "psnr,foo"])
        == 2
    )
    assert "unknown metric(s) foo" in capsys.readouterr().err
