"""Fixtures of the MOS tests: a tiny srlab-eval layout of three models, a study, a live server."""

from __future__ import annotations

import http.cookiejar
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
    from srlab.mos import create_study

    runs, hr = eval_dirs
    db = tmp_path / "study.db"
    create_study(db, runs, hr_dir=hr, seed=123)
    return db


class LiveServer:
    """The app under waitress on 127.0.0.1, a free port, in a background thread."""

    def __init__(self, db: Path, threads: int = 8) -> None:
        from waitress import create_server

        from srlab.mos.app import create_app

        self.server = create_server(create_app(db), host="127.0.0.1", port=0, threads=threads)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        # waitress's own run() loops forever; closing its sockets under it races with select()
        from waitress.wasyncore import loop

        while not self._stop.is_set():
            loop(timeout=0.05, map=self.server._map, count=1)

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


class Client:
    """A rater's browser, in urllib: keeps the cookie, does not follow redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=30) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")
