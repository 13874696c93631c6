"""The rating app through Flask's test client: invitation codes, sessions, the order enforced,
refused and escaped input, CSRF/Origin/Host checks, images blind and only by position."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from srlab.mos import Study, create_study
from srlab.mos.app import COOKIE, create_app

from .conftest import MODELS, invite, shown_pos
from .test_db import _chunks

XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "';alert(1)//", "{{7*7}}"]


@pytest.fixture
def app(study_db):
    a = create_app(study_db)
    a.testing = True
    return a


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def _start(client, code):
    csrf = _csrf(client.get("/").get_data(as_text=True))
    return client.post("/start", data={"code": code, "csrf": csrf})


def _signed_in(app, study_db, name="alice"):
    c = app.test_client()
    r = _start(c, invite(study_db, name))
    assert r.status_code == 303 and r.headers["Location"].endswith("/rate")
    return c


def _vote(c, pos=None, score=3, **extra):
    html = c.get("/rate").get_data(as_text=True)
    data = {"pos": shown_pos(html) if pos is None else pos, "score": score, "csrf": _csrf(html)}
    return c.post("/vote", data={**data, **extra})


def _votes(study_db) -> int:
    with Study(study_db) as s:
        return s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0]


def test_rater_flow_hides_models_and_resumes(app, study_db, tmp_path):
    c = app.test_client()
    assert b'name="code"' in c.get("/").data
    assert c.get("/rate").status_code == 303  # not signed in: back to the code form
    code = invite(study_db, "alice")
    assert _start(c, code).status_code == 303
    for k in range(1, 6):
        html = c.get("/rate").get_data(as_text=True)
        assert f"Image {k} / 12" in html and shown_pos(html) == k
        for secret in (*MODELS, str(tmp_path), "Set5", ".png", code):
            assert secret not in html  # no model name, no path, no file name, no code
        assert 'id="toggle"' in html  # the HR reference toggle
        assert _vote(c, score=1 + k % 5).status_code == 303
    # another browser, same code: continues at image 6
    c2 = app.test_client()
    _start(c2, code)
    assert "Image 6 / 12" in c2.get("/rate").get_data(as_text=True)
    # another rater starts at 1
    c3 = app.test_client()
    _start(c3, invite(study_db, "bob"))
    assert "Image 1 / 12" in c3.get("/rate").get_data(as_text=True)
    for _ in range(7):
        _vote(c2)
    done = c2.get("/rate").get_data(as_text=True)
    assert 'id="done"' in done and "all 12 images" in done


def test_impersonation_by_name_fails(app, study_db):
    alice = _signed_in(app, study_db, "alice")
    _vote(alice)
    mallory = app.test_client()
    for form in ({"name": "alice"}, {"code": "alice"}, {"code": ""}, {"code": "a" * 20}):
        csrf = _csrf(mallory.get("/").get_data(as_text=True))
        r = mallory.post("/start", data={**form, "csrf": csrf})
        assert r.status_code == 403 and COOKIE not in r.headers.get("Set-Cookie", "")
        assert b"not valid" in r.data
    assert mallory.get("/rate").status_code == 303  # still nobody
    # a stranger cannot create raters at all: only the owner's invitations exist
    with Study(study_db) as s:
        assert [r["name"] for r in s.raters()] == ["alice"]


def test_logout_kills_the_token(app, study_db):
    c = _signed_in(app, study_db)
    token = c.get_cookie(COOKIE).value
    html = c.get("/rate").get_data(as_text=True)
    r = c.post("/logout", data={"csrf": _csrf(html)})
    assert r.status_code == 303 and c.get_cookie(COOKIE) is None
    thief = app.test_client()  # someone who copied the cookie before the logout
    thief.set_cookie(COOKIE, token)
    assert thief.get("/rate").status_code == 303
    stolen = {"pos": 1, "score": 3, "csrf": _csrf(html)}  # even with the page's CSRF token
    assert thief.post("/vote", data=stolen).status_code == 401
    assert thief.get("/image/1").status_code == 401
    # revoking a rater ends their sessions and their code
    c2 = app.test_client()
    code = invite(study_db, "bob")
    _start(c2, code)
    with Study(study_db) as s:
        s.revoke("bob")
    assert c2.get("/rate").status_code == 303 and _start(c2, code).status_code == 403


def test_double_submit_counted_once(app, study_db):
    c = _signed_in(app, study_db)
    html = c.get("/rate").get_data(as_text=True)
    form = {"pos": shown_pos(html), "score": 4, "csrf": _csrf(html)}
    for _ in range(3):  # double click + a refresh re-posting the form
        assert c.post("/vote", data=form).status_code == 303
    r = c.post("/vote", data=form, headers={"Accept": "application/json"})
    assert r.get_json() == {"ok": True, "new": False}
    assert _votes(study_db) == 1
    assert "Image 2 / 12" in c.get("/rate").get_data(as_text=True)


def test_vote_only_for_the_image_shown(app, study_db):
    c = _signed_in(app, study_db)
    r = _vote(c, pos=5)  # a later image, not shown yet
    assert r.status_code == 409 and b"not been shown" in r.data
    assert c.get("/image/2").status_code == 404  # nor can it be looked at in advance
    assert c.get("/image/1").status_code == 200
    assert _votes(study_db) == 0


@pytest.mark.parametrize(
    "form",
    [
        {"score": "6"},
        {"score": "0"},
        {"score": "4.5"},
        {"score": ""},
        {"score": None},
        {"pos": "9999", "score": "3"},
        {"pos": "-1", "score": "3"},
        {"pos": "9223372036854775808", "score": "3"},
        {"pos": "1; DROP TABLE votes", "score": "3"},
        {"pos": "../study.db", "score": "3"},
        {"pos": None, "score": "3"},
        *({"pos": x, "score": "3"} for x in XSS),
        *({"score": x} for x in XSS),
    ],
)
def test_bad_votes_refused_and_never_echoed(app, study_db, form):
    c = _signed_in(app, study_db)
    html = c.get("/rate").get_data(as_text=True)
    data = {"pos": shown_pos(html), "csrf": _csrf(html), **form}
    r = c.post("/vote", data={k: v for k, v in data.items() if v is not None})
    assert r.status_code == 400, r.data
    body = r.get_data(as_text=True)
    assert "Vote refused" in body and r.mimetype == "text/html"
    for v in form.values():
        if v and not v.isdigit():
            assert v not in body  # the input is not echoed, escaped or not
    assert "<script>alert" not in body and "onerror" not in body
    assert _votes(study_db) == 0


@pytest.mark.parametrize("payload", XSS)
def test_xss_payloads_come_back_escaped(app, study_db, payload):
    c = app.test_client()
    for url in (f"/{payload}", f"/image/{payload}", f"/?code={payload}"):
        body = c.get(url).get_data(as_text=True)
        assert "<script>alert" not in body and "<img src=x" not in body
    csrf = _csrf(c.get("/").get_data(as_text=True))
    body = c.post("/start", data={"code": payload, "csrf": csrf}).get_data(as_text=True)
    assert payload not in body and "<script>alert" not in body
    with Study(study_db) as s:  # an owner-given name is shown escaped
        s.invite(payload.replace("{", "x"))
        code = s.invite("x" + payload)[1]
    _start(c, code)
    body = c.get("/rate").get_data(as_text=True)
    assert "<script>alert" not in body and "<img src=x" not in body


def test_csrf_origin_and_host_checks(app, study_db):
    c = _signed_in(app, study_db)
    html = c.get("/rate").get_data(as_text=True)
    good = {"pos": shown_pos(html), "score": 3, "csrf": _csrf(html)}
    assert c.post("/vote", data={**good, "csrf": ""}).status_code == 403  # no token
    assert c.post("/vote", data={**good, "csrf": "0" * 64}).status_code == 403  # forged
    other = _signed_in(app, study_db, "bob")  # bob's token does not work for alice
    bob_csrf = _csrf(other.get("/rate").get_data(as_text=True))
    assert c.post("/vote", data={**good, "csrf": bob_csrf}).status_code == 403
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost:1"},  # another port is another origin
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        assert c.post("/vote", data=good, headers=headers).status_code == 403, headers
    assert _votes(study_db) == 0
    assert c.post("/vote", data=good, headers={"Origin": "http://localhost"}).status_code == 303
    # DNS rebinding: an attacker's host name pointing at 127.0.0.1 is refused
    assert c.get("/rate", headers={"Host": "evil.example:8000"}).status_code == 400
    assert c.get("/healthz", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    assert c.get("/healthz", headers={"Host": "[::1]:8000"}).status_code == 200
    named = create_app(study_db, allowed_hosts=["mos.lab.example"]).test_client()
    assert named.get("/healthz", headers={"Host": "mos.lab.example"}).status_code == 200
    # the start form needs its own token too (login CSRF)
    assert app.test_client().post("/start", data={"code": "x"}).status_code == 403


def test_cookies_and_headers(app, study_db):
    c = app.test_client()
    r = c.get("/")
    assert "SameSite=Strict" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    r = _start(c, invite(study_db, "alice"))
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(COOKIE) and "SameSite=Strict" in cookie and "HttpOnly" in cookie
    r = c.get("/rate")
    csp = r.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert f'<script nonce="{nonce}">' in r.get_data(as_text=True)
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Cache-Control"] == "no-store"


def test_body_limit(app, study_db):
    c = _signed_in(app, study_db)
    html = c.get("/rate").get_data(as_text=True)
    r = c.post(
        "/vote",
        data={"pos": shown_pos(html), "score": 3, "csrf": _csrf(html), "pad": "x" * 100_000},
    )
    assert r.status_code == 413 and _votes(study_db) == 0


@pytest.mark.parametrize("include_hr", [False, True])
def test_images_blind_and_only_by_position(tmp_path, eval_dirs, include_hr):
    runs, hr = eval_dirs
    # one model's folder holds BMP files, another JPEG: all are served as the same PNG
    for name in ("baby", "bird", "butterfly", "head"):
        src = runs["srcnn"] / "sr" / "Set5" / f"{name}.png"
        with Image.open(src) as im:
            im.save(src.with_suffix(".bmp"))
            im.save(runs["edsr"] / "sr" / "Set5" / f"{name}.jpg", quality=90)
        src.unlink()
        (runs["edsr"] / "sr" / "Set5" / f"{name}.png").unlink()
    db = tmp_path / "blind.db"
    create_study(db, runs, hr_dir=hr, include_hr=include_hr, anchors=2, repeats=2)
    app = create_app(db)
    c = app.test_client()
    _start(c, invite(db, "alice"))
    n = 12 + 4 * include_hr + 2 + 2
    header_sets = set()
    for k in range(1, n + 1):
        html = c.get("/rate").get_data(as_text=True)
        assert f"Image {k} / {n}" in html and shown_pos(html) == k and 'id="toggle"' in html
        for url in (f"/image/{k}", f"/reference/{k}"):
            r = c.get(url)
            assert r.status_code == 200 and r.mimetype == "image/png"
            assert _chunks(r.data) == [b"IHDR", b"IDAT", b"IEND"]  # no metadata of any kind
            with Image.open(io.BytesIO(r.data)) as im:
                assert im.size == (24, 24) and im.mode == "RGB" and not im.info
            # werkzeug's Headers iterate as (name, value) pairs
            header_sets.add(tuple(sorted(n for n, _ in r.headers if n != "Content-Length")))
        assert _vote(c).status_code == 303
    assert len(header_sets) == 1  # the very same headers for every image and reference
    assert not any(h in ("Last-Modified", "ETag", "Content-Disposition") for h in header_sets.pop())
    assert 'id="done"' in c.get("/rate").get_data(as_text=True)
    # nothing by path, nothing of another rater, nothing without a session
    other = app.test_client()
    assert other.get("/image/1").status_code == 401
    _start(other, invite(db, "bob"))
    assert other.get("/image/1").status_code == 200 and other.get("/image/2").status_code == 404
    for url in (
        f"/image/{n + 1}",
        "/image/0",
        "/image/-1",
        "/image/1.0",
        "/image/9223372036854775808",
        "/image/99999999999999999999999999",
        "/image/../blind.db",
        "/image/..%2fblind.db",
        "/image/%2e%2e/%2e%2e/secret.txt",
        f"/image/{tmp_path}/secret.txt",
        "/reference/../../secret.txt",
        "/reference/abc",
        "/static/../blind.db",
        "/blind.db",
    ):
        r = c.get(url)
        assert r.status_code in (404, 405), url
        assert b"SQLite format" not in r.data and b"Traceback" not in r.data


def test_no_reference_without_hr(tmp_path, eval_dirs):
    runs, _ = eval_dirs
    db = tmp_path / "nohr.db"
    create_study(db, runs)
    c = create_app(db).test_client()
    _start(c, invite(db, "alice"))
    html = c.get("/rate").get_data(as_text=True)
    assert 'id="toggle"' not in html
    assert c.get("/reference/1").status_code == 404
