"""End to end, as a person would: headless Chromium (Debian's ``chromium``) driven by
Playwright's Python client rates a small study, comes back after closing the page, uses the
reference toggle, double-clicks, and the report counts each vote once."""

from __future__ import annotations

import os
import shutil

import pytest

from srlab.mos import Study, write_report

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


def test_rate_study_in_chromium(live_server, study_db, tmp_path):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            ctx = browser.new_context()
            page = ctx.new_page()
            page.set_default_timeout(15000)
            page.goto(live_server.url + "/")
            page.fill("#name", "browser rater")
            page.click("#start")
            page.wait_for_selector("#progress")
            assert "Image 1 / 12" in page.inner_text("#progress")

            # the image loads; the reference toggle swaps it and back
            assert page.evaluate("document.getElementById('shown').naturalWidth") == 24
            page.click("#toggle")
            page.wait_for_function("document.getElementById('shown').naturalWidth === 26")
            assert page.inner_text("#which") == "showing: reference"
            page.keyboard.press("r")
            page.wait_for_function("document.getElementById('shown').naturalWidth === 24")

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
            ctx.close()

            # comes back later in a fresh browser: the same name resumes at image 6
            page = browser.new_context().new_page()
            page.set_default_timeout(15000)
            page.goto(live_server.url + "/")
            page.fill("#name", "browser rater")
            page.click("#start")
            for k in range(6, 13):
                assert f"Image {k} / 12" in page.inner_text("#progress")
                with page.expect_navigation():
                    page.click("#score-5")
            page.wait_for_selector("#done")
        finally:
            browser.close()

    with Study(study_db) as s:
        assert s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 12
        scores = [
            r[0]
            for r in s.con.execute(
                "SELECT v.score FROM votes v JOIN rater_order o ON o.rater_id = v.rater_id "
                "AND o.image_id = v.image_id ORDER BY o.position"
            )
        ]
    assert scores == [1, 4, 3, 4, 5] + [5] * 7
    md = write_report(study_db, tmp_path / "report")["md"].read_text()
    assert md.count("| 1 | 4 | 4 |") == 3  # each model: 1 rater, 4 votes, 4 images
