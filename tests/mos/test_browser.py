"""End to end, as a person would: headless Chromium (Debian's ``chromium``) driven by
Playwright's Python client signs in with an invitation code, rates a small study, comes back
after closing the page, uses the reference toggle, double-clicks, signs out (the old cookie is
then dead); a page of another origin cannot vote for the rater, and XSS payloads do not run."""

from __future__ import annotations

import http.server
import os
import shutil
import threading

import pytest

from srlab.mos import Study, write_report

from .conftest import invite

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright's Python client is not installed (pip install playwright)",
)
CHROMIUM = (
    os.environ.get("SRLAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no chromium executable (apt-get install chromium, or set SRLAB_CHROMIUM)",
    ),
]
XSS = '<img src=x onerror="alert(1)">'


def _page(browser):
    page = browser.new_context().new_page()
    page.set_default_timeout(15000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return page, dialogs


def _wait_js(page, expression: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression until it is true. Not ``page.wait_for_function``: its
    polling evaluates a string in the page, which the app's CSP (no 'unsafe-eval') refuses
    whenever the condition is not already true at the first check."""
    import time

    end = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(50)


def _sign_in(page, url, code):
    page.goto(url + "/")
    page.fill("#code", code)
    page.click("#start")
    page.wait_for_selector("#progress")


def test_rate_study_in_chromium(live_server, study_db, tmp_path):
    code = invite(study_db, "browser rater")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page, dialogs = _page(browser)
            _sign_in(page, live_server.url, code)
            assert "Image 1 / 12" in page.inner_text("#progress")

            # the image loads; the reference toggle swaps it and back (same size: mod-cropped)
            assert page.evaluate("document.getElementById('shown').naturalWidth") == 24
            page.click("#toggle")
            _wait_js(
                page,
                "(() => { const i = document.getElementById('shown'); return "
                "i.src.endsWith('/reference/1') && i.complete && i.naturalWidth === 24; })()",
            )
            assert page.inner_text("#which") == "showing: reference"
            page.keyboard.press("r")
            _wait_js(page, "document.getElementById('shown').src.endsWith('/image/1')")

            # five votes: clicks (one a double click) and keys
            for k in range(1, 6):
                assert f"Image {k} / 12" in page.inner_text("#progress")
                with page.expect_navigation():
                    if k == 2:
                        page.dblclick("#score-4")
                    elif k % 2:
                        page.click(f"#score-{k}")
                    else:
                        page.keyboard.press(str(k))
                page.wait_for_selector("#progress")
            page.reload()  # a refresh re-sends nothing (post/redirect/get)
            assert "Image 6 / 12" in page.inner_text("#progress")
            page.context.close()

            # comes back later in a fresh browser: the same code resumes at image 6
            page, dialogs2 = _page(browser)
            page.goto(f"{live_server.url}/?code={code}")  # the link `invite --url` prints
            page.click("#start")
            for k in range(6, 13):
                page.wait_for_selector("#progress")
                assert f"Image {k} / 12" in page.inner_text("#progress")
                with page.expect_navigation():
                    page.click("#score-5")
            page.wait_for_selector("#done")
            cookie = next(c for c in page.context.cookies() if c["name"] == "srlab_mos_session")
            assert cookie["sameSite"] == "Strict" and cookie["httpOnly"]
            with page.expect_navigation():
                page.click("#logout")
            page.wait_for_selector("#code")
            # the token copied before signing out is dead
            thief, _ = _page(browser)
            thief.context.add_cookies([{**cookie}])
            thief.goto(live_server.url + "/rate")
            assert thief.url.endswith("/") and thief.locator("#code").count() == 1
            assert thief.request.get(live_server.url + "/image/1").status == 401
            assert not dialogs and not dialogs2
        finally:
            browser.close()

    with Study(study_db) as s:
        assert s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 12
        scores = [r[0] for r in s.con.execute("SELECT score FROM votes ORDER BY position")]
    assert scores == [1, 4, 3, 4, 5] + [5] * 7
    md = write_report(study_db, tmp_path / "report")["md"].read_text()
    assert md.count("| 1 | 4 | 4 |") == 3  # each model: 1 rater, 4 votes, 4 images


class _Attacker(http.server.BaseHTTPRequestHandler):
    html = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args):
        pass


def test_other_origin_cannot_vote_and_xss_does_not_run(live_server, study_db):
    """A page on another port of 127.0.0.1 (same site, other origin: the SameSite cookie is
    sent) posts a vote form and a fetch for the signed-in rater: both are refused."""
    with Study(study_db) as s:
        code = s.invite("victim " + XSS)[1]
    target = live_server.url
    _Attacker.html = f"""<!doctype html><html><body>
<form id="f" method="post" action="{target}/vote">
<input name="pos" value="1"><input name="score" value="1"><input name="csrf" value="">
</form>
<script>
fetch("{target}/vote", {{method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"Content-Type": "application/x-www-form-urlencoded"}}, body: "pos=1&score=2"}})
  .finally(() => document.getElementById("f").submit());
</script></body></html>""".encode()
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    attacker.timeout = 5
    thread = threading.Thread(target=attacker.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                page, dialogs = _page(browser)
                _sign_in(page, live_server.url, code)  # the victim's name carries a payload
                with page.expect_response(f"{target}/vote") as resp:
                    page.goto(f"http://127.0.0.1:{attacker.server_address[1]}/")
                assert resp.value.status == 403
                page.wait_for_selector("#error")
                for path in ("/?code=" + XSS, "/image/" + XSS, "/<script>alert(2)</script>"):
                    page.goto(live_server.url + path)
                page.goto(live_server.url + "/rate")
                page.wait_for_selector("#progress")
                assert XSS in page.inner_text("body")  # shown as text, not run
                page.wait_for_timeout(300)
                assert not dialogs
            finally:
                browser.close()
    finally:
        attacker.shutdown()
        attacker.server_close()
        thread.join(timeout=5)
    with Study(study_db) as s:
        assert s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 0
