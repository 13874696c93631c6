"""The MOS study database: one SQLite file holding the images, the raters and their votes.

Tables (``PRAGMA foreign_keys=ON``, ``journal_mode=WAL``, ``synchronous=FULL``):

- ``meta(key, value)``: ``scale_min``, ``scale_max``, ``seed``, ``created``, ``schema``.
- ``models(id, name)``: the models compared (names are never shown to raters).
- ``refs(id, key, path)``: the HR reference of each image key (``<set>/<name>``).
- ``images(id, model_id, key, path, ref_id)``: one rated picture; ``path`` stays server-side,
  URLs name images only by ``id``. Ids are assigned in a shuffled order, so an id says nothing
  about the model.
- ``raters(id, name, token, created)``: ``token`` is the cookie value that identifies a rater.
- ``rater_order(rater_id, position, image_id)``: each rater's own random order, drawn once when
  the rater is created (seeded by the study seed and the rater id) and stored, so a rater who
  comes back continues where they stopped.
- ``votes(rater_id, image_id, score, created, updated)`` with ``UNIQUE(rater_id, image_id)``: a
  refresh, a double click or a retried request re-submits the same pair and leaves one vote
  (the latest score), so nothing is counted twice; every write is one transaction.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import SRLabError

__all__ = [
    "IMAGE_EXTENSIONS",
    "Study",
    "Rater",
    "connect",
    "create_study",
    "find_sr_images",
]

# Same list as srlab.data.io (not imported from there: it pulls torch into the web server).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
SCHEMA_VERSION = "1"
MAX_NAME_LEN = 80

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE refs (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, path TEXT NOT NULL);
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id),
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    ref_id INTEGER REFERENCES refs(id),
    UNIQUE (model_id, key)
);
CREATE TABLE raters (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
CREATE TABLE rater_order (
    rater_id INTEGER NOT NULL REFERENCES raters(id),
    position INTEGER NOT NULL,
    image_id INTEGER NOT NULL REFERENCES images(id),
    PRIMARY KEY (rater_id, position),
    UNIQUE (rater_id, image_id)
);
CREATE TABLE votes (
    id INTEGER PRIMARY KEY,
    rater_id INTEGER NOT NULL REFERENCES raters(id),
    image_id INTEGER NOT NULL REFERENCES images(id),
    score INTEGER NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    UNIQUE (rater_id, image_id)
);
"""


def connect(path: str | os.PathLike, must_exist: bool = True) -> sqlite3.Connection:
    """Open the study database with the settings every writer relies on.

    Autocommit mode (``isolation_level=None``): writes use explicit ``BEGIN IMMEDIATE`` ...
    ``COMMIT`` (see :func:`transaction`), so a killed server leaves either the whole vote or
    nothing. ``busy_timeout`` makes concurrent writers wait for each other instead of failing.
    """
    p = Path(path)
    if must_exist and not p.is_file():
        raise SRLabError(f"study database not found: {p}")
    con = sqlite3.connect(p, timeout=30.0, isolation_level=None, check_same_thread=False)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA busy_timeout = 30000")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")
    return con


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` (takes the write lock at once, so no upgrade deadlock) ... COMMIT,
    or ROLLBACK on any error."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# --------------------------------------------------------------------------- building a study


def _images_under(root: Path) -> dict[str, Path]:
    """``{relative path without suffix (posix): file}`` of the images under ``root``."""
    out: dict[str, Path] = {}
    for f in sorted(root.rglob("*")):
        if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS:
            out[f.relative_to(root).with_suffix("").as_posix()] = f.resolve()
    return out


def find_sr_images(path: str | os.PathLike) -> dict[str, Path]:
    """The SR images of one model: ``path`` is an ``srlab-eval`` run folder (its ``sr/``
    sub-folder is used: ``sr/<set>/<name>.png``, or ``sr/<set>/x<s>/<name>.png`` for a
    multi-scale model) or directly a folder of SR images. Keys are ``<set>/<name>``-style
    relative paths without the suffix."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise SRLabError(f"SR folder not found: {root}")
    if (root / "sr").is_dir():
        root = root / "sr"
    images = _images_under(root)
    if not images:
        raise SRLabError(f"no images under {root} (expected the sr/<set>/<name>.png of srlab-eval)")
    return images


_SCALE_PART = re.compile(r"^x\d+$")


def _match_ref(
    key: str, refs: Mapping[str, Path], by_stem: Mapping[str, list[Path]]
) -> Path | None:
    """The HR file of an SR image key: same relative path, then without an ``x<s>`` part, then
    without the set folder, then the unique file of the same name anywhere under the HR folder."""
    parts = key.split("/")
    no_scale = [p for p in parts if not _SCALE_PART.match(p)]
    for cand in ("/".join(parts), "/".join(no_scale), "/".join(no_scale[1:])):
        if cand in refs:
            return refs[cand]
    same = by_stem.get(parts[-1], [])
    return same[0] if len(same) == 1 else None


def parse_scale(text: str) -> tuple[int, int]:
    """``"1-5"`` or ``"0-5"`` -> ``(low, high)``."""
    m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", str(text))
    if not m or int(m.group(1)) >= int(m.group(2)) or int(m.group(2)) > 100:
        raise SRLabError(f"scale must look like 1-5 or 0-5, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def create_study(
    db_path: str | os.PathLike,
    models: Mapping[str, str | os.PathLike],
    hr_dir: str | os.PathLike | None = None,
    scale: tuple[int, int] = (1, 5),
    seed: int | None = None,
    include_hr: bool = False,
    overwrite: bool = False,
) -> dict[str, int]:
    """Build a study database from the SR outputs of several models.

    Args:
        models: model name -> ``srlab-eval`` run folder (or a folder of SR images).
        hr_dir: folder of the HR references (matched to SR images by relative path or file name);
            ``None``: no reference toggle.
        scale: ``(low, high)`` score range, e.g. ``(1, 5)`` or the article's ``(0, 5)``.
        include_hr: also rate the HR images themselves, as model ``HR`` (the upper anchor).
        seed: study seed for the image ids and the raters' orders (default: random).

    Only image keys present for **every** model are used, so each model is rated on the same
    pictures. Returns counts ``{"models", "keys", "images"}``.
    """
    if len(models) < 1:
        raise SRLabError("a study needs at least one --model NAME=DIR")
    lo, hi = scale
    if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo < hi):
        raise SRLabError(f"invalid score scale {scale}")
    db = Path(db_path)
    if db.exists():
        if not overwrite:
            raise SRLabError(f"study database already exists: {db} (use --overwrite to replace it)")
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    per_model = {name: find_sr_images(path) for name, path in models.items()}
    keys = sorted(set.intersection(*(set(v) for v in per_model.values())))
    if not keys:
        raise SRLabError("the models share no image (compare the names under their sr/ folders)")

    ref_of: dict[str, Path] = {}
    if hr_dir is not None:
        hr_root = Path(hr_dir).expanduser()
        if not hr_root.is_dir():
            raise SRLabError(f"HR folder not found: {hr_root}")
        refs = _images_under(hr_root)
        by_stem: dict[str, list[Path]] = {}
        for k, f in refs.items():
            by_stem.setdefault(k.split("/")[-1], []).append(f)
        missing = []
        for k in keys:
            f = _match_ref(k, refs, by_stem)
            if f is None:
                missing.append(k)
            else:
                ref_of[k] = f
        if missing:
            raise SRLabError(f"no HR reference under {hr_root} for: {', '.join(missing[:10])}")
    if include_hr:
        if hr_dir is None:
            raise SRLabError("--include-hr needs --hr")
        if "HR" in per_model:
            raise SRLabError("a model is already named HR")
        per_model["HR"] = dict(ref_of)

    seed = secrets.randbits(31) if seed is None else int(seed)
    rng = random.Random(seed)
    rows = [(name, k, imgs[k]) for name, imgs in per_model.items() for k in keys]
    rng.shuffle(rows)  # ids then reveal nothing about the model

    db.parent.mkdir(parents=True, exist_ok=True)
    con = connect(db, must_exist=False)
    try:
        with transaction(con):
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    con.execute(stmt)
            con.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)",
                [
                    ("schema", SCHEMA_VERSION),
                    ("scale_min", str(lo)),
                    ("scale_max", str(hi)),
                    ("seed", str(seed)),
                    ("created", str(time.time())),
                ],
            )
            model_id = {}
            for name in per_model:
                model_id[name] = con.execute(
                    "INSERT INTO models(name) VALUES (?)", (name,)
                ).lastrowid
            ref_id = {}
            for k in keys:
                if k in ref_of:
                    ref_id[k] = con.execute(
                        "INSERT INTO refs(key, path) VALUES (?, ?)", (k, str(ref_of[k]))
                    ).lastrowid
            con.executemany(
                "INSERT INTO images(model_id, key, path, ref_id) VALUES (?, ?, ?, ?)",
                [(model_id[n], k, str(p), ref_id.get(k)) for n, k, p in rows],
            )
    finally:
        con.close()
    return {"models": len(per_model), "keys": len(keys), "images": len(rows)}


# --------------------------------------------------------------------------- using a study


@dataclass(frozen=True)
class Rater:
    id: int
    name: str
    token: str


class VoteError(ValueError):
    """A refused vote: score outside the scale, or an image that is not in the study."""


class Study:
    """Access to one study database (one connection; open one per thread or request)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.con = connect(self.path)
        meta = dict(self.con.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("schema") != SCHEMA_VERSION:
            raise SRLabError(f"{self.path} is not an srlab MOS study (schema {meta.get('schema')})")
        self.scale_min = int(meta["scale_min"])
        self.scale_max = int(meta["scale_max"])
        self.seed = int(meta["seed"])

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # raters ---------------------------------------------------------------------------------
    def num_images(self) -> int:
        return self.con.execute("SELECT COUNT(*) FROM images").fetchone()[0]

    def rater_by_token(self, token: str | None) -> Rater | None:
        if not token:
            return None
        row = self.con.execute(
            "SELECT id, name, token FROM raters WHERE token = ?", (token,)
        ).fetchone()
        return Rater(*row) if row else None

    def get_or_create_rater(self, name: str) -> Rater:
        """The rater of this name (a returning rater resumes), or a new one with their own
        stored random order (seeded by the study seed and the rater id)."""
        name = " ".join(str(name).split())
        if not name or len(name) > MAX_NAME_LEN:
            raise VoteError(f"a rater name has 1 to {MAX_NAME_LEN} characters")
        with transaction(self.con):
            row = self.con.execute(
                "SELECT id, name, token FROM raters WHERE name = ?", (name,)
            ).fetchone()
            if row:
                return Rater(*row)
            token = secrets.token_urlsafe(24)
            rid = self.con.execute(
                "INSERT INTO raters(name, token, created) VALUES (?, ?, ?)",
                (name, token, time.time()),
            ).lastrowid
            ids = [r[0] for r in self.con.execute("SELECT id FROM images ORDER BY id")]
            random.Random(f"{self.seed}:{rid}").shuffle(ids)
            self.con.executemany(
                "INSERT INTO rater_order(rater_id, position, image_id) VALUES (?, ?, ?)",
                [(rid, pos, iid) for pos, iid in enumerate(ids)],
            )
        return Rater(rid, name, token)

    def order(self, rater: Rater) -> list[int]:
        return [
            r[0]
            for r in self.con.execute(
                "SELECT image_id FROM rater_order WHERE rater_id = ? ORDER BY position", (rater.id,)
            )
        ]

    def next_image(self, rater: Rater) -> int | None:
        """The first image of the rater's order they have not voted on (``None``: done)."""
        row = self.con.execute(
            "SELECT o.image_id FROM rater_order o LEFT JOIN votes v "
            "ON v.rater_id = o.rater_id AND v.image_id = o.image_id "
            "WHERE o.rater_id = ? AND v.id IS NULL ORDER BY o.position LIMIT 1",
            (rater.id,),
        ).fetchone()
        return row[0] if row else None

    def progress(self, rater: Rater) -> tuple[int, int]:
        """(votes given, images in the rater's order)."""
        done = self.con.execute(
            "SELECT COUNT(*) FROM votes WHERE rater_id = ?", (rater.id,)
        ).fetchone()[0]
        total = self.con.execute(
            "SELECT COUNT(*) FROM rater_order WHERE rater_id = ?", (rater.id,)
        ).fetchone()[0]
        return done, total

    # votes ----------------------------------------------------------------------------------
    def check_score(self, score: object) -> int:
        """The score as an int, or :class:`VoteError` (not an integer, or outside the scale)."""
        if isinstance(score, bool):
            raise VoteError("score must be an integer")
        if isinstance(score, str):
            if not re.fullmatch(r"\s*-?[0-9]{1,3}\s*", score):
                raise VoteError(f"score must be an integer, got {score!r}")
            score = int(score)
        if not isinstance(score, int):
            raise VoteError(f"score must be an integer, got {score!r}")
        if not self.scale_min <= score <= self.scale_max:
            raise VoteError(f"score {score} outside the scale {self.scale_min}-{self.scale_max}")
        return score

    def vote(self, rater: Rater, image_id: object, score: object) -> bool:
        """Record ``score`` for ``image_id`` in one transaction. Returns True for a new vote,
        False when the rater had already voted on it (the score is replaced, never added)."""
        score = self.check_score(score)
        text = str(image_id)
        # ASCII digits only (int() would also take "١" or " 1_0")
        if isinstance(image_id, bool) or not re.fullmatch(r"[0-9]{1,18}", text):
            raise VoteError(f"unknown image id {image_id!r}")
        iid = int(text)
        now = time.time()
        with transaction(self.con):
            ok = self.con.execute(
                "SELECT 1 FROM rater_order WHERE rater_id = ? AND image_id = ?", (rater.id, iid)
            ).fetchone()
            if not ok:
                raise VoteError(f"unknown image id {image_id!r}")
            cur = self.con.execute(
                "INSERT INTO votes(rater_id, image_id, score, created, updated) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(rater_id, image_id) DO NOTHING",
                (rater.id, iid, score, now, now),
            )
            if cur.rowcount == 1:
                return True
            self.con.execute(
                "UPDATE votes SET score = ?, updated = ? WHERE rater_id = ? AND image_id = ?",
                (score, now, rater.id, iid),
            )
            return False

    # files ----------------------------------------------------------------------------------
    def image_file(self, image_id: int) -> Path | None:
        row = self.con.execute("SELECT path FROM images WHERE id = ?", (image_id,)).fetchone()
        return Path(row[0]) if row else None

    def reference_file(self, image_id: int) -> Path | None:
        row = self.con.execute(
            "SELECT r.path FROM images i JOIN refs r ON r.id = i.ref_id WHERE i.id = ?", (image_id,)
        ).fetchone()
        return Path(row[0]) if row else None

    def has_references(self) -> bool:
        return self.con.execute("SELECT COUNT(*) FROM refs").fetchone()[0] > 0
