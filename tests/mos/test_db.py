"""The study database: building (checked inputs, atomic replace), invited raters and their
stored orders with controls, votes only for the item shown, names, foreign files."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3

import pytest
from PIL import Image

from srlab.errors import SRLabError
from srlab.mos import Study, VoteError, create_study
from srlab.mos.db import CONTROL_MODEL, connect, find_sr_images, normalize_name, parse_scale

from .conftest import MODELS, NAMES, _png


def _sha(p) -> str:
    return hashlib.sha256(open(p, "rb").read()).hexdigest()


def _chunks(png: bytes) -> list[bytes]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    out, i = [], 8
    while i < len(png):
        n = int.from_bytes(png[i : i + 4], "big")
        out.append(png[i + 4 : i + 8])
        i += 12 + n
    return out


def test_create_reads_eval_layout(study_db, eval_dirs):
    runs, hr = eval_dirs
    con = connect(study_db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert [r[0] for r in con.execute("SELECT name FROM models ORDER BY id")] == list(MODELS)
    rows = con.execute(
        "SELECT m.name, i.key, i.source, r.source, b.png, rb.png FROM images i "
        "JOIN models m ON m.id = i.model_id JOIN refs r ON r.id = i.ref_id "
        "JOIN blobs b ON b.id = i.blob_id JOIN blobs rb ON rb.id = r.blob_id"
    ).fetchall()
    assert len(rows) == len(MODELS) * len(NAMES)
    for model, key, src, ref, png, ref_png in rows:
        name = key.split("/")[-1]
        assert key == f"Set5/{name}"
        assert src == str((runs[model] / "sr" / key).with_suffix(".png").resolve())
        assert ref == str((hr / f"{name}.png").resolve())  # matched by name (HR has no Set5/)
        # stored re-encoded: plain PNG chunks, same pixels; the HR mod-cropped to the SR size
        assert _chunks(png) == [b"IHDR", b"IDAT", b"IEND"] == _chunks(ref_png)
        with Image.open(io.BytesIO(png)) as a, Image.open(src) as b:
            assert a.mode == "RGB" and a.tobytes() == b.convert("RGB").tobytes()
        with Image.open(io.BytesIO(ref_png)) as a, Image.open(ref) as b:
            assert a.size == (24, 24) and a.tobytes() == b.crop((0, 0, 24, 24)).tobytes()
    with pytest.raises(sqlite3.IntegrityError):  # a foreign key is enforced
        con.execute(
            "INSERT INTO votes(rater_id, position, score, created, updated) VALUES (99, 1, 3, 0, 0)"
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
    with pytest.raises(SRLabError, match="is a directory"):
        create_study(tmp_path, runs)
    with pytest.raises(SRLabError, match="folder not found"):
        create_study(tmp_path / "no" / "s.db", runs)
    with pytest.raises(SRLabError, match="need --hr"):
        create_study(tmp_path / "t.db", runs, anchors=2)
    other = tmp_path / "other" / "sr" / "Set14"
    other.mkdir(parents=True)
    (other / "x.png").write_bytes((runs["edsr"] / "sr" / "Set5" / "baby.png").read_bytes())
    with pytest.raises(SRLabError, match="share no image"):
        create_study(tmp_path / "v.db", {"a": runs["edsr"], "b": tmp_path / "other"})
    with pytest.raises(SRLabError, match="scale"):
        parse_scale("5-1")
    assert parse_scale("0-5") == (0, 5)
    (hr / "head.png").unlink()
    with pytest.raises(SRLabError, match=r"no HR reference .*head"):
        create_study(tmp_path / "u.db", runs, hr_dir=hr)
    assert sorted(p.name for p in tmp_path.glob("*.db*")) == ["s.db", "s.db.bak"]


def test_create_refuses_what_would_unblind_or_mislead(tmp_path, eval_dirs):
    runs, hr = eval_dirs
    db = tmp_path / "x.db"
    # an SR image of another size than the other models' for the same picture
    _png(runs["srcnn"] / "sr" / "Set5" / "bird.png", 5, size=26)
    with pytest.raises(SRLabError, match=r"Set5/bird differ in size: bicubic 24x24, srcnn 26x26"):
        create_study(db, runs, hr_dir=hr)
    _png(runs["srcnn"] / "sr" / "Set5" / "bird.png", 5)
    # an HR image that is not the SR picture's size (beyond a mod-crop)
    _png(hr / "bird.png", 5, size=48)
    with pytest.raises(SRLabError, match=r"HR image .*bird\.png \(48x48\) does not match"):
        create_study(db, runs, hr_dir=hr)
    _png(hr / "bird.png", 5, size=25)
    # two images of one picture in one model folder
    _png(runs["edsr"] / "sr" / "Set5" / "baby.jpg", 1)
    with pytest.raises(SRLabError, match=r"two images for one picture .*Set5/baby \(.jpg, .png\)"):
        create_study(db, runs, hr_dir=hr)
    (runs["edsr"] / "sr" / "Set5" / "baby.jpg").unlink()
    # a corrupt image and a truncated one
    bad = runs["edsr"] / "sr" / "Set5" / "head.png"
    good = bad.read_bytes()
    for data in (b"not an image at all", good[: len(good) // 2]):
        bad.write_bytes(data)
        with pytest.raises(SRLabError, match=r"not a readable image: .*head\.png"):
            create_study(db, runs, hr_dir=hr)
    bad.write_bytes(good)
    assert not db.exists() and not list(tmp_path.glob(".*building*"))
    # a picture missing in one model is left out, and listed
    _png(runs["edsr"] / "sr" / "Set5" / "camera.png", 9)
    out = create_study(db, runs, hr_dir=hr)
    assert out["dropped"] == ["Set5/camera (missing in bicubic, srcnn)"] and out["keys"] == 4
    with Study(db) as s:
        assert s.dropped == out["dropped"]


def test_symlinks_refused(tmp_path, eval_dirs):
    runs, hr = eval_dirs
    secret = tmp_path / "outside.png"
    _png(secret, 3)
    link = runs["edsr"] / "sr" / "Set5" / "camera.png"
    os.symlink(secret, link)
    with pytest.raises(SRLabError, match=r"symbolic link in model folder .*camera\.png"):
        create_study(tmp_path / "l.db", runs)
    link.unlink()
    os.symlink(tmp_path / "HR", runs["edsr"] / "sr" / "linked")  # a linked folder
    with pytest.raises(SRLabError, match=r"symbolic link .*linked"):
        find_sr_images(runs["edsr"])
    (runs["edsr"] / "sr" / "linked").unlink()
    os.symlink(secret, hr / "baby.png.tmp")
    os.replace(hr / "baby.png.tmp", hr / "bird.png")  # an HR file replaced by a link
    with pytest.raises(SRLabError, match="symbolic link in HR folder"):
        create_study(tmp_path / "l.db", runs, hr_dir=hr)
    assert not (tmp_path / "l.db").exists()


def _vote_some(db, raters=3, per_rater=7):
    with Study(db) as s:
        for k in range(raters):
            r = s.invite(f"r{k}")[0]
            for pos in range(1, per_rater + 1):
                s.vote(r, pos, 1 + (pos + k) % 5)
        return s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0]


def test_overwrite_with_bad_input_keeps_every_vote(tmp_path, eval_dirs):
    runs, hr = eval_dirs
    db = tmp_path / "v.db"
    create_study(db, runs, hr_dir=hr, seed=1)
    assert _vote_some(db) == 21
    _png(tmp_path / "bad_hr" / "x.png", 1)
    corrupt = tmp_path / "corrupt"
    for n in NAMES:
        (corrupt / "sr" / "Set5").mkdir(parents=True, exist_ok=True)
        data = (runs["edsr"] / "sr" / "Set5" / f"{n}.png").read_bytes()
        # truncated: its header reads fine, so this fails late, while the new study is written
        (corrupt / "sr" / "Set5" / f"{n}.png").write_bytes(data[:200] if n == "head" else data)
    before = _sha(db)
    listing = sorted(os.listdir(tmp_path))
    attempts = [
        dict(models={**runs, "typo": tmp_path / "eval_edsrr"}),  # a mistyped model folder
        dict(models=runs, hr_dir=tmp_path / "HRR"),  # a mistyped --hr
        dict(models=runs, hr_dir=tmp_path / "bad_hr"),  # the wrong HR folder
        dict(models={**runs, "c": corrupt}),  # a truncated image
    ]
    for kw in attempts:
        kw.setdefault("hr_dir", hr)
        with pytest.raises(SRLabError):
            create_study(db, overwrite=True, **kw)
        assert _sha(db) == before and sorted(os.listdir(tmp_path)) == listing
    with Study(db) as s:
        assert s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 21
    # a good overwrite: the new study replaces the old, which is kept with every vote
    out = create_study(db, runs, hr_dir=hr, overwrite=True)
    assert out["backup"] == str(db) + ".bak"
    with Study(db) as s:
        assert s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 0
    with Study(out["backup"]) as s:
        assert s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 21


def test_overwrite_refuses_a_file_that_is_not_a_study(tmp_path, eval_dirs):
    runs, _ = eval_dirs
    for name, data in (("notes.txt", b"precious notes"), ("empty.db", b"")):
        f = tmp_path / name
        f.write_bytes(data)
        with pytest.raises(SRLabError, match="not an srlab MOS study"):
            create_study(f, runs, overwrite=True)
        assert f.read_bytes() == data
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    before = _sha(other)
    with pytest.raises(SRLabError, match="not an srlab MOS study"):
        create_study(other, runs, overwrite=True)
    assert _sha(other) == before


@pytest.mark.parametrize(
    "content, message",
    [(b"", "is an empty file"), (b"hello", "not an SQLite database"), (None, "is a directory")],
)
def test_foreign_files_untouched(tmp_path, content, message):
    p = tmp_path / "thing"
    if content is None:
        p.mkdir()
    else:
        p.write_bytes(content)
    with pytest.raises(SRLabError, match=message):
        Study(p)
    if content is not None:
        assert p.read_bytes() == content  # a 0-byte file is not turned into a database
    assert sorted(os.listdir(tmp_path)) == ["thing"]


def test_invited_order_with_controls(tmp_path, eval_dirs):
    runs, hr = eval_dirs
    db = tmp_path / "qc.db"
    create_study(db, runs, hr_dir=hr, seed=7, anchors=2, repeats=3)
    with Study(db) as s:
        control = s.con.execute("SELECT id FROM models WHERE name = ?", (CONTROL_MODEL,))
        cid = control.fetchone()[0]
        model_of = dict(s.con.execute("SELECT id, model_id FROM images"))
        a, code = s.invite("alice")
        b = s.invite("bob")[0]
        items = s.items(a)
        assert len(items) == 12 + 2 + 3 and s.num_images() == 12
        rated = [i for _, i, role in items if role == "rate"]
        assert sorted(rated) == sorted(i for i, m in model_of.items() if m != cid)
        anchors = [i for _, i, role in items if role == "anchor"]
        assert len(anchors) == 2 and all(model_of[i] == cid for i in anchors)
        for pos, iid, role in items:
            if role == "repeat":  # shown again, at least 4 items later
                first = next(p for p, i, r in items if i == iid and r == "rate")
                assert pos >= first + 4
        assert s.order(a) != s.order(b)
        assert s.rater_by_code(code) == a
        assert s.rater_by_code(code.upper().replace("-", " ")) == a  # as typed
        assert s.rater_by_code("alice") is None and s.rater_by_code("") is None
    with Study(db) as s:  # stored: the same order when the study is reopened
        assert s.items(a) == items


def test_vote_only_for_the_item_shown(study_db):
    with Study(study_db) as s:
        r = s.invite("carol")[0]
        assert s.next_position(r) == 1 and s.progress(r) == (0, 12)
        with pytest.raises(VoteError, match="not been shown") as e:
            s.vote(r, 2, 4)  # a later item, not shown yet
        assert e.value.status == 409
        assert s.vote(r, 1, 4) is True
        assert s.vote(r, 1, 4) is False  # refresh / double click
        assert s.vote(r, "1", "2") is False  # changed mind: replaced, not added
        assert tuple(s.con.execute("SELECT COUNT(*), MAX(score) FROM votes").fetchone()) == (1, 2)
        assert s.next_position(r) == 2 and s.progress(r) == (1, 12)
        assert s.item_png(r, 2) is not None and s.item_png(r, 3) is None  # not shown yet
        for pos in range(2, 13):
            s.vote(r, pos, 3)
        assert s.next_position(r) is None and s.progress(r) == (12, 12)
        assert s.item_png(r, 12) is not None


@pytest.mark.parametrize(
    "score", [0, 6, -1, "3.5", "", "abc", " ", True, 2.0, None, "1e1", "99999", "<b>4</b>"]
)
def test_score_outside_scale_refused(study_db, score):
    with Study(study_db) as s:
        r = s.invite("dave")[0]
        with pytest.raises(VoteError) as e:
            s.vote(r, 1, score)
        assert str(e.value) in ("the score must be an integer", "the score must be within 1-5")
        assert s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 0


# "\u0661" is ARABIC-INDIC DIGIT ONE, which str.isdigit() takes for a digit
@pytest.mark.parametrize(
    "pos",
    [0, 13, -1, "1 OR 1=1", "../../etc/passwd", "", "0x1", "\u0661", 2**63, "9223372036854775808"],
)
def test_forged_position_refused(study_db, pos):
    with Study(study_db) as s:
        r = s.invite("eve")[0]
        with pytest.raises(VoteError, match="unknown item"):
            s.vote(r, pos, 3)
        assert s.item_png(r, pos) is None
        assert s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 0


def test_zero_to_five_scale(tmp_path, eval_dirs):
    runs, hr = eval_dirs
    db = tmp_path / "z.db"
    create_study(db, runs, hr_dir=hr, scale=(0, 5))
    with Study(db) as s:
        r = s.invite("zed")[0]
        assert s.vote(r, 1, 0) is True
        with pytest.raises(VoteError):
            s.vote(r, 2, 6)


def test_names_normalised(study_db):
    nfc, nfd = "Jos\u00e9", "Jose\u0301"
    assert normalize_name(nfd) == nfc and normalize_name(" a \t\u2028 b ") == "a b"
    with Study(study_db) as s:
        s.invite(nfc)
        for twin in (nfd, "JOS\u00c9", f" {nfc} "):  # one person, one rater
            with pytest.raises(SRLabError, match="already invited"):
                s.invite(twin)
        for bad in ("", "   ", "x" * 81, "a\u200bb", "adm\u202eni", "a\x00b", "\ufeffz"):
            with pytest.raises(SRLabError):
                s.invite(bad)
        assert len(s.raters()) == 1
    with pytest.raises(SRLabError, match="model name"):
        normalize_name("m\u200d", "model name")


def test_sessions_revoked(study_db):
    with Study(study_db) as s:
        r, code = s.invite("fay")
        t1, t2 = s.open_session(r), s.open_session(r)
        assert s.rater_by_token(t1) == r == s.rater_by_token(t2)
        s.close_session(t1)
        assert s.rater_by_token(t1) is None and s.rater_by_token(t2) == r
        s.revoke("FAY")
        assert s.rater_by_token(t2) is None and s.rater_by_code(code) is None
        stored = s.con.execute("SELECT code_hash, token_hash FROM raters, sessions").fetchall()
        assert all(code not in row and t2 not in row for row in map(tuple, stored))
