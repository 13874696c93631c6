"""Fixtures of the MOS tests: a tiny srlab-eval layout of three models, a study, invited raters,
a live waitress server on 127.0.0.1, and a urllib "browser" that keeps cookies and CSRF tokens."""

from __future__ import annotations

import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("flask", reason="srlab-mos needs the 'mos' extra (flask, waitress)")
pytest.importorskip("waitress", reason="srlab-mos needs the 'mos' extra (flask, waitress)")

MODELS = ("bicubic", "srcnn", "edsr")
NAMES = ("baby", "bird", "butterfly", "head")


def _png(path: Path, seed: int, size: int = 24) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def eval_dirs(tmp_path) -> tuple[dict[str, Path], Path]:
    """``({model: run folder with sr/Set5/<name>.png + metrics.json}, HR folder)``."""
    runs = {}
    for m, model in enumerate(MODELS):
        run = tmp_path / f"eval_{model}"
        for i, name in enumerate(NAMES):
            _png(run / "sr" / "Set5" / f"{name}.png", 100 * m + i)
            _png(run / "compare" / "Set5" / f"{name}.png", 7)
        (run / "metrics.json").write_text("{}")
        runs[model] = run
    hr = tmp_path / "HR"
    for i, name in enumerate(NAMES):
        _png(hr / f"{name}.png", 1000 + i, size=26)  # not mod-cropped, as a real HR folder
    return runs, hr


@pytest.fixture
def study_db(tmp_path, eval_dirs) -> Path:
    """3 models x 4 pictures with HR references; no controls: 12 items per rater."""
    from srlab.mos import create_study

    runs, hr = eval_dirs
    db = tmp_path / "study.db"
    create_study(db, runs, hr_dir=hr, seed=123)
    return db


def invite(db: Path, name: str) -> str:
    """A new rater's invitation code."""
    from srlab.mos import Study

    with Study(db) as s:
        return s.invite(name)[1]


class LiveServer:
    """The app under waitress (srlab's settings) on 127.0.0.1, a free port, in a thread."""

    def __init__(self, db: Path, threads: int = 8, **overrides) -> None:
        from srlab.mos.app import make_server

        self.server = make_server(db, host="127.0.0.1", port=0, threads=threads, **overrides)
        self.port = self.server.effective_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        # waitress's own run() loops forever; closing its sockets under it races with poll()
        from waitress.wasyncore import loop

        while not self._stop.is_set():
            loop(timeout=0.05, map=self.server._map, count=1, use_poll=True)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        self.server.close()


@pytest.fixture
def live_server(study_db):
    srv = LiveServer(study_db)
    yield srv
    srv.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
_POS = re.compile(r'name="pos" value="(\d+)"')


def shown_pos(html: str) -> int:
    return int(_POS.search(html).group(1))


class Client:
    """A rater's browser, in urllib: keeps the cookies and the page's CSRF token, does not
    follow redirects; every request is bounded by a timeout."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.csrf = ""
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def request(
        self, path: str, data: dict | None = None, headers: dict | None = None
    ) -> tuple[int, str]:
        if data is not None and "csrf" not in data:
            data = {**data, "csrf": self.csrf}
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as r:
                status, text = r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode(errors="replace")
        m = _CSRF.search(text)
        if m:
            self.csrf = m.group(1)
        return status, text

    def start(self, code: str) -> int:
        self.request("/")
        return self.request("/start", {"code": code})[0]

    def session(self) -> str | None:
        return next((c.value for c in self.jar if c.name == "srlab_mos_session"), None)
