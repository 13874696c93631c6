"""The rating app through Flask's test client: the rater flow, refused votes, no path reaches
the file system."""

from __future__ import annotations

import re

import pytest

from srlab.mos import Study
from srlab.mos.app import COOKIE, create_app

from .conftest import MODELS


@pytest.fixture
def app(study_db):
    a = create_app(study_db)
    a.testing = True
    return a


def _start(client, name="alice"):
    r = client.post("/start", data={"name": name})
    assert r.status_code == 303 and r.headers["Location"].endswith("/rate")
    return r


def _shown_id(html: str) -> int:
    return int(re.search(r'name="image_id" value="(\d+)"', html).group(1))


def test_rater_flow_hides_models_and_resumes(app, study_db, eval_dirs, tmp_path):
    c = app.test_client()
    assert b'name="name"' in c.get("/").data
    assert c.get("/rate").status_code == 303  # no rater yet: back to the name form
    _start(c)
    seen = []
    for k in range(1, 6):
        html = c.get("/rate").get_data(as_text=True)
        assert f"Image {k} / 12" in html
        for secret in (*MODELS, str(tmp_path), "Set5", ".png"):
            assert secret not in html  # no model name, no path, no file name
        assert 'id="toggle"' in html  # the HR reference toggle
        iid = _shown_id(html)
        seen.append(iid)
        r = c.post("/vote", data={"image_id": iid, "score": 1 + k % 5})
        assert r.status_code == 303
    with Study(study_db) as s:
        alice = s.get_or_create_rater("alice")
        assert seen == s.order(alice)[:5]
    # another browser, same name: continues at image 6
    c2 = app.test_client()
    _start(c2, "alice")
    html = c2.get("/rate").get_data(as_text=True)
    assert "Image 6 / 12" in html and _shown_id(html) not in seen
    # a different rater has their own order and starts at 1
    c3 = app.test_client()
    _start(c3, "bob")
    assert "Image 1 / 12" in c3.get("/rate").get_data(as_text=True)
    for _ in range(7):
        iid = _shown_id(c2.get("/rate").get_data(as_text=True))
        c2.post("/vote", data={"image_id": iid, "score": 3})
    done = c2.get("/rate").get_data(as_text=True)
    assert 'id="done"' in done and "all 12 images" in done


def test_double_submit_counted_once(app, study_db):
    c = app.test_client()
    _start(c)
    iid = _shown_id(c.get("/rate").get_data(as_text=True))
    for _ in range(3):  # double click + a refresh re-posting the form
        assert c.post("/vote", data={"image_id": iid, "score": 4}).status_code == 303
    r = c.post("/vote", data={"image_id": iid, "score": 4}, headers={"Accept": "application/json"})
    assert r.get_json() == {"ok": True, "new": False}
    with Study(study_db) as s:
        assert s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 1
    assert "Image 2 / 12" in c.get("/rate").get_data(as_text=True)


@pytest.mark.parametrize(
    "form",
    [
        {"image_id": "{iid}", "score": "6"},
        {"image_id": "{iid}", "score": "0"},
        {"image_id": "{iid}", "score": "4.5"},
        {"image_id": "{iid}", "score": ""},
        {"image_id": "{iid}"},
        {"image_id": "9999", "score": "3"},
        {"image_id": "-1", "score": "3"},
        {"image_id": "1; DROP TABLE votes", "score": "3"},
        {"image_id": "../study.db", "score": "3"},
        {"score": "3"},
    ],
)
def test_bad_votes_refused(app, study_db, form):
    c = app.test_client()
    _start(c)
    iid = _shown_id(c.get("/rate").get_data(as_text=True))
    data = {k: v.format(iid=iid) for k, v in form.items()}
    r = c.post("/vote", data=data)
    assert r.status_code == 400, r.data
    with Study(study_db) as s:
        assert s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 0


def test_vote_needs_a_rater(app):
    c = app.test_client()
    assert c.post("/vote", data={"image_id": 1, "score": 3}).status_code == 401
    c.set_cookie(COOKIE, "forged-token")
    assert c.post("/vote", data={"image_id": 1, "score": 3}).status_code == 401


def test_bad_name_refused(app):
    r = app.test_client().post("/start", data={"name": "   "})
    assert r.status_code == 400 and b'id="error"' in r.data


def test_images_only_by_id(app, study_db, tmp_path):
    c = app.test_client()
    with Study(study_db) as s:
        iid, path = s.con.execute("SELECT id, path FROM images LIMIT 1").fetchone()
        ref = s.reference_file(iid)
        n = s.num_images()
    r = c.get(f"/image/{iid}")
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert r.data == open(path, "rb").read()
    assert "Content-Disposition" not in r.headers  # no file name leaks
    assert c.get(f"/reference/{iid}").data == ref.read_bytes()
    (tmp_path / "secret.txt").write_text("top secret")
    for url in (
        f"/image/{n + 1}",
        "/image/0",
        "/image/-1",
        "/image/1.0",
        "/image/../study.db",
        "/image/..%2fstudy.db",
        "/image/%2e%2e/%2e%2e/secret.txt",
        f"/image/{tmp_path}/secret.txt",
        "/image/" + str(path),
        "/reference/../../secret.txt",
        "/reference/abc",
        "/static/../study.db",
        "/study.db",
        "/secret.txt",
        "/image/1/../../secret.txt",
    ):
        r = c.get(url)
        assert r.status_code in (404, 405), url
        assert b"top secret" not in r.data and b"SQLite format" not in r.data


def test_no_reference_without_hr(tmp_path, eval_dirs):
    from srlab.mos import create_study

    runs, _ = eval_dirs
    db = tmp_path / "nohr.db"
    create_study(db, runs)
    c = create_app(db).test_client()
    _start(c)
    html = c.get("/rate").get_data(as_text=True)
    assert 'id="toggle"' not in html
    assert c.get(f"/reference/{_shown_id(html)}").status_code == 404
