"""Bounded load test on 127.0.0.1: concurrent raters, each in two racing tabs, against a real
waitress server; every vote is counted exactly once."""

from __future__ import annotations

import threading

from srlab.mos import Study

from .conftest import Client, invite, shown_pos

RATERS = 8


def _score(rater: int, image_id: int) -> int:
    return 1 + (rater * 7 + image_id * 3) % 5


def test_concurrent_raters_every_vote_once(live_server, study_db):
    errors: list[str] = []
    posts = [0]
    lock = threading.Lock()

    def tab(client: Client, rater: int) -> None:
        for _ in range(100):  # bound: 12 images, a few wasted rounds when the tabs race
            status, html = client.request("/rate")
            if status != 200:
                errors.append(f"GET /rate {status}")
                return
            if 'id="done"' in html:
                return
            pos = shown_pos(html)
            for _ in range(2):  # every vote double-clicked
                status, body = client.request("/vote", {"pos": pos, "score": _score(rater, pos)})
                with lock:
                    posts[0] += 1
                if status != 303:
                    errors.append(f"POST /vote {status} {body[:80]}")
        errors.append("rater did not finish")

    threads = []
    for r in range(RATERS):
        c = Client(live_server.url)
        assert c.start(invite(study_db, f"rater{r}")) == 303
        for _ in range(2):  # two tabs of the same rater share the cookie
            threads.append(threading.Thread(target=tab, args=(c, r)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:5]

    with Study(study_db) as s:
        n = s.num_images()
        rows = s.con.execute(
            "SELECT r.name, v.position, v.score FROM votes v JOIN raters r ON r.id = v.rater_id"
        ).fetchall()
        assert len(rows) == RATERS * n < posts[0]  # far more posts than votes, none twice
        assert len({(name, pos) for name, pos, _ in rows}) == len(rows)
        for name, pos, score in rows:
            assert score == _score(int(name[5:]), pos)
        assert s.con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
