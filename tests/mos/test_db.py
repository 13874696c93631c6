"""The study database: building, raters' stored orders, idempotent votes, refused votes."""

from __future__ import annotations

import sqlite3

import pytest

from srlab.errors import SRLabError
from srlab.mos import Study, VoteError, create_study
from srlab.mos.db import connect, find_sr_images, parse_scale

from .conftest import MODELS, NAMES


def test_create_reads_eval_layout(study_db, eval_dirs):
    runs, hr = eval_dirs
    con = connect(study_db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert [r[0] for r in con.execute("SELECT name FROM models ORDER BY id")] == list(MODELS)
    rows = con.execute(
        "SELECT m.name, i.key, i.path, r.path FROM images i JOIN models m ON m.id = i.model_id "
        "JOIN refs r ON r.id = i.ref_id"
    ).fetchall()
    assert len(rows) == len(MODELS) * len(NAMES)
    for model, key, path, ref in rows:
        name = key.split("/")[-1]
        assert key == f"Set5/{name}" and path == str(
            (runs[model] / "sr" / key).with_suffix(".png").resolve()
        )
        assert ref == str((hr / f"{name}.png").resolve())  # matched by name (HR has no Set5/)
    # ids are shuffled: the first ids are not all of one model
    first = [r[0] for r in con.execute("SELECT model_id FROM images ORDER BY id LIMIT 6")]
    assert len(set(first)) > 1
    # a foreign key is enforced
    with pytest.raises(sqlite3.IntegrityError):
        con.execute(
            "INSERT INTO votes(rater_id, image_id, score, created, updated) VALUES (99, 1, 3, 0, 0)"
        )
    con.close()


def test_create_errors(tmp_path, eval_dirs):
    runs, hr = eval_dirs
    with pytest.raises(SRLabError, match="already exists"):
        create_study(tmp_path / "s.db", runs, hr_dir=hr)
        create_study(tmp_path / "s.db", runs, hr_dir=hr)
    assert create_study(tmp_path / "s.db", runs, hr_dir=hr, overwrite=True)["images"] == 12
    with pytest.raises(SRLabError, match="SR folder not found"):
        create_study(tmp_path / "t.db", {"a": tmp_path / "nope"})
    (hr / "head.png").unlink()
    with pytest.raises(SRLabError, match="no HR reference .*head"):
        create_study(tmp_path / "u.db", runs, hr_dir=hr)
    other = tmp_path / "other" / "sr" / "Set14"
    other.mkdir(parents=True)
    (other / "x.png").write_bytes((runs["edsr"] / "sr" / "Set5" / "baby.png").read_bytes())
    with pytest.raises(SRLabError, match="share no image"):
        create_study(tmp_path / "v.db", {"a": runs["edsr"], "b": tmp_path / "other"})
    with pytest.raises(SRLabError, match="scale"):
        parse_scale("5-1")
    assert parse_scale("0-5") == (0, 5)


def test_multiscale_keys_and_include_hr(tmp_path, eval_dirs):
    runs, hr = eval_dirs
    ms = tmp_path / "mdsr" / "sr" / "Set5" / "x2"
    ms.mkdir(parents=True)
    for n in NAMES:
        (ms / f"{n}.png").write_bytes((runs["edsr"] / "sr" / "Set5" / f"{n}.png").read_bytes())
    assert sorted(find_sr_images(tmp_path / "mdsr")) == [f"Set5/x2/{n}" for n in NAMES]
    counts = create_study(
        tmp_path / "m.db", {"mdsr": tmp_path / "mdsr"}, hr_dir=hr, include_hr=True
    )
    assert counts == {"models": 2, "keys": 4, "images": 8}


def test_rater_order_stored_and_seeded(study_db):
    with Study(study_db) as s:
        a = s.get_or_create_rater("alice")
        b = s.get_or_create_rater("bob")
        all_ids = sorted(r[0] for r in s.con.execute("SELECT id FROM images"))
        oa, ob = s.order(a), s.order(b)
        assert sorted(oa) == all_ids and sorted(ob) == all_ids
        assert oa != ob  # 12! orders: equal only by a bug
        assert s.get_or_create_rater("  alice ") == a  # returning rater, same order
        assert s.order(a) == oa
    # the same study seed and rater id give the same order in a fresh study
    with Study(study_db) as s:
        assert s.order(a) == oa


def test_vote_is_idempotent_and_resumes(study_db):
    with Study(study_db) as s:
        r = s.get_or_create_rater("carol")
        order = s.order(r)
        assert s.next_image(r) == order[0] and s.progress(r) == (0, 12)
        assert s.vote(r, order[0], 4) is True
        assert s.vote(r, order[0], 4) is False  # refresh / double click
        assert s.vote(r, str(order[0]), "2") is False  # changed mind: replaced, not added
        assert tuple(s.con.execute("SELECT COUNT(*), MAX(score) FROM votes").fetchone()) == (1, 2)
        assert s.next_image(r) == order[1] and s.progress(r) == (1, 12)
        s.vote(r, order[2], 5)  # out of order (e.g. a stale tab): the skipped one stays next
        assert s.next_image(r) == order[1]
        for iid in order:
            s.vote(r, iid, 3)
        assert s.next_image(r) is None and s.progress(r) == (12, 12)


@pytest.mark.parametrize(
    "score", [0, 6, -1, "3.5", "", "abc", " ", True, 2.0, None, "1e1", "99999"]
)
def test_score_outside_scale_refused(study_db, score):
    with Study(study_db) as s:
        r = s.get_or_create_rater("dave")
        with pytest.raises(VoteError):
            s.vote(r, s.order(r)[0], score)
        assert s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 0


@pytest.mark.parametrize("image_id", [0, 999, -1, "1 OR 1=1", "../../etc/passwd", "", "0x1", "١"])
def test_forged_image_id_refused(study_db, image_id):
    with Study(study_db) as s:
        r = s.get_or_create_rater("eve")
        with pytest.raises(VoteError, match="unknown image"):
            s.vote(r, image_id, 3)
        assert s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 0


def test_zero_to_five_scale(tmp_path, eval_dirs):
    runs, hr = eval_dirs
    db = tmp_path / "z.db"
    create_study(db, runs, hr_dir=hr, scale=(0, 5))
    with Study(db) as s:
        r = s.get_or_create_rater("zed")
        assert s.vote(r, s.order(r)[0], 0) is True
        with pytest.raises(VoteError):
            s.vote(r, s.order(r)[1], 6)


def test_bad_rater_names(study_db):
    with Study(study_db) as s:
        for bad in ("", "   ", "x" * 81):
            with pytest.raises(VoteError):
                s.get_or_create_rater(bad)
