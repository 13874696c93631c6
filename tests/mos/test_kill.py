"""The server is SIGKILLed while raters are voting: the database stays intact, every vote the
server acknowledged is there, and a restarted server lets the raters finish."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import srlab
from srlab.mos import Study

from .conftest import Client, invite, shown_pos

# Starts ``srlab-mos serve`` without running srlab/__init__.py (which imports torch: ~10 s on a
# busy machine); srlab.mos itself needs none of it.
_SERVE = (
    "import sys, types; pkg = types.ModuleType('srlab'); pkg.__path__ = [{path!r}]; "
    "sys.modules['srlab'] = pkg; from srlab.mos.cli import main; "
    "sys.exit(main(['serve', '--study', {db!r}, '--port', '{port}']))"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(db: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    code = _SERVE.format(path=str(Path(srlab.__file__).parent), db=str(db), port=port)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode()}")
        try:
            if Client(url).request("/healthz")[0] == 200:
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def _vote_loop(client: Client, acked: list, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            status, html = client.request("/rate")
            if 'id="done"' in html:
                return
            pos = shown_pos(html)
            status, _ = client.request("/vote", {"pos": pos, "score": 1 + pos % 5})
            if status == 303:
                acked.append((client, pos))
        except (OSError, AttributeError, ValueError):
            return  # server gone


def test_sigkill_mid_vote(study_db):
    proc, url = _start(study_db)
    try:
        clients = [Client(url) for _ in range(4)]
        for i, c in enumerate(clients):
            assert c.start(invite(study_db, f"k{i}")) == 303
        acked: list = []
        stop = threading.Event()
        threads = [threading.Thread(target=_vote_loop, args=(c, acked, stop)) for c in clients]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 10 and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)  # while the threads are still posting
        proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert 10 <= len(acked) < 4 * 12, "the kill did not land mid-study"

    with Study(study_db) as s:  # reopen: WAL recovery
        assert s.con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert s.con.execute("PRAGMA foreign_key_check").fetchall() == []
        votes = {
            (r, p): sc for r, p, sc in s.con.execute("SELECT rater_id, position, score FROM votes")
        }
        ids = {id(c): s.rater_by_token(c.session()).id for c in clients}
    for c, pos in acked:
        assert votes[(ids[id(c)], pos)] == 1 + pos % 5  # every acknowledged vote survived

    # a restarted server: the raters resume and finish, each image once
    proc, url = _start(study_db)
    try:
        for c in clients:
            c.base = url
            _vote_loop(c, [], threading.Event())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    with Study(study_db) as s:
        n = s.num_images()
        assert s.con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 4 * n
        assert s.con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
