"""The MOS study database: one self-contained SQLite file holding the images, raters and votes.

Tables (``PRAGMA foreign_keys=ON``, ``journal_mode=WAL``, ``synchronous=FULL``):

- ``meta(key, value)``: ``schema``, ``scale_min``, ``scale_max``, ``seed``, ``created``,
  ``secret`` (signs the CSRF tokens), ``anchors``, ``repeats``, ``dropped`` (JSON).
- ``blobs(id, sha256, width, height, png)``: every image, decoded once at ``create`` and
  re-encoded as a plain PNG (RGB, IHDR/IDAT/IEND only: no metadata, no colour profile), so each
  served image has the same format and headers whatever the model folder held, and later
  changes to the source folders cannot change a running study.
- ``models(id, name, control)``: the models compared (names are never shown to raters);
  ``control = 1`` marks the hidden HR anchor, which is left out of the MOS table.
- ``refs(id, key, source, blob_id)``: the HR reference of each picture (cropped to the SR size).
- ``images(id, model_id, key, source, blob_id, ref_id, is_hr)``: one rateable picture;
  ``source`` (the original file) stays server-side.
- ``raters(id, name, name_key, code_hash, created, revoked)``: raters exist only by invitation
  (``srlab-mos invite``): the owner hands out a random code, the database keeps its SHA-256.
- ``sessions(token_hash, rater_id, created, revoked)``: a browser signed in with a code; logging
  out revokes the session, revoking a rater revokes all of theirs.
- ``rater_order(rater_id, position, image_id, role)``: each rater's own random sequence, drawn at
  invitation (seeded by the study seed and the rater id) and stored. ``role``: ``rate`` (each
  rateable image once), ``anchor`` (a hidden HR reference) or ``repeat`` (an image shown again,
  to measure the rater's consistency). Raters address items by position only.
- ``votes(rater_id, position, score, created, updated)`` with ``UNIQUE(rater_id, position)``: a
  refresh, a double click or a retried request leaves one vote; a new vote is accepted only for
  the position the server is showing the rater (the first without a vote).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import secrets
import sqlite3
import time
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SRLabError

__all__ = [
    "IMAGE_EXTENSIONS",
    "Rater",
    "Study",
    "VoteError",
    "connect",
    "create_study",
    "find_sr_images",
    "normalize_name",
    "parse_scale",
]

# Same list as srlab.data.io (not imported from there: it pulls torch into the web server).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
SCHEMA_VERSION = "2"
MAX_NAME_LEN = 80
MAX_MODCROP = 16  # an HR image may exceed its SR size by < 16 px (the mod-crop of srlab-eval)
CONTROL_MODEL = "HR (hidden anchor)"
SQLITE_MAGIC = b"SQLite format 3\x00"
_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE blobs (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    png BLOB NOT NULL
);
CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    control INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE refs (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    blob_id INTEGER NOT NULL REFERENCES blobs(id)
);
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id),
    key TEXT NOT NULL,
    source TEXT NOT NULL,
    blob_id INTEGER NOT NULL REFERENCES blobs(id),
    ref_id INTEGER REFERENCES refs(id),
    is_hr INTEGER NOT NULL DEFAULT 0,
    UNIQUE (model_id, key)
);
CREATE TABLE raters (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    code_hash TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    revoked REAL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    rater_id INTEGER NOT NULL REFERENCES raters(id),
    created REAL NOT NULL,
    revoked REAL
);
CREATE TABLE rater_order (
    rater_id INTEGER NOT NULL REFERENCES raters(id),
    position INTEGER NOT NULL,
    image_id INTEGER NOT NULL REFERENCES images(id),
    role TEXT NOT NULL CHECK (role IN ('rate', 'anchor', 'repeat')),
    PRIMARY KEY (rater_id, position)
);
CREATE TABLE votes (
    id INTEGER PRIMARY KEY,
    rater_id INTEGER NOT NULL REFERENCES raters(id),
    position INTEGER NOT NULL,
    score INTEGER NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    UNIQUE (rater_id, position),
    FOREIGN KEY (rater_id, position) REFERENCES rater_order(rater_id, position)
)
"""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _insert(con: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> int:
    """Run one ``INSERT`` and return the new row's id."""
    rowid = con.execute(sql, params).lastrowid
    if rowid is None:  # pragma: no cover - SQLite sets it after every successful INSERT
        raise sqlite3.DatabaseError(f"no row id after {sql!r}")
    return rowid


def check_study_file(path: str | os.PathLike[str]) -> Path:
    """``path`` if it looks like an SQLite file; else :class:`SRLabError` (one sentence).

    Reads 16 bytes and never writes: an empty or foreign file is left exactly as it was.
    """
    p = Path(path)
    if p.is_dir():
        raise SRLabError(f"{p} is a directory, not an srlab MOS study file")
    if not p.is_file():
        raise SRLabError(f"study database not found: {p}")
    try:
        with open(p, "rb") as f:
            head = f.read(16)
    except OSError as e:
        raise SRLabError(f"cannot read {p}: {e.strerror}") from None
    if not head:
        raise SRLabError(f"{p} is an empty file, not an srlab MOS study")
    if head != SQLITE_MAGIC:
        raise SRLabError(f"{p} is not an srlab MOS study (not an SQLite database)")
    return p


def connect(path: str | os.PathLike[str], must_exist: bool = True) -> sqlite3.Connection:
    """Open the study database with the settings every writer relies on.

    Autocommit mode (``isolation_level=None``): writes use explicit ``BEGIN IMMEDIATE`` ...
    ``COMMIT`` (see :func:`transaction`), so a killed server leaves either the whole vote or
    nothing. ``busy_timeout`` makes concurrent writers wait for each other instead of failing.
    An existing file is checked first (:func:`check_study_file`) and its journal mode is not
    touched (``create`` sets WAL), so opening a foreign file never rewrites it.
    """
    p = Path(path)
    if must_exist:
        check_study_file(p)
    con = sqlite3.connect(p, timeout=30.0, isolation_level=None, check_same_thread=False)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA busy_timeout = 30000")
    con.execute("PRAGMA synchronous = FULL")
    return con


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any error.

    ``IMMEDIATE`` takes the write lock at once, so there is no upgrade deadlock.
    """
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def normalize_name(text: object, what: str = "rater name", max_len: int = MAX_NAME_LEN) -> str:
    """Normalise a name: NFC, runs of white space as one space.

    Control, format (zero-width, bidi overrides), private-use and unassigned characters are
    refused, so two names that look alike are one name.
    """
    if not isinstance(text, str):
        raise SRLabError(f"a {what} must be text")
    t = " ".join(unicodedata.normalize("NFC", text).split())
    for c in t:
        if unicodedata.category(c) in _BAD_CATEGORIES:
            raise SRLabError(
                f"a {what} may not contain control or invisible characters (U+{ord(c):04X})"
            )
    if not t or len(t) > max_len:
        raise SRLabError(f"a {what} has 1 to {max_len} characters")
    return t


# --------------------------------------------------------------------------- building a study


def _images_under(root: Path, what: str) -> dict[str, Path]:
    """``{relative path without suffix (posix): file}`` of the images under ``root``.

    Never follows a link: a symbolic link anywhere under ``root`` is refused (it could make any
    readable file part of the study); hidden files are skipped; two images of one picture
    (``camera.png`` and ``camera.jpg``) are refused, since which one is rated would be a guess.
    """
    out: dict[str, Path] = {}
    dupes: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        for name in sorted(dirnames + filenames):
            if (d / name).is_symlink():
                raise SRLabError(
                    f"symbolic link in {what}: {d / name} (copy the file in; links are refused)"
                )
        dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
        for name in sorted(filenames):
            f = d / name
            if name.startswith(".") or f.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            if not f.is_file() or not os.path.realpath(f).startswith(str(root) + os.sep):
                raise SRLabError(f"not a regular file inside {what}: {f}")
            key = f.relative_to(root).with_suffix("").as_posix()
            if key in out:
                dupes.append(f"{key} ({out[key].suffix}, {f.suffix})")
            out[key] = f
    if dupes:
        raise SRLabError(f"two images for one picture in {what}: {', '.join(dupes[:10])}")
    return out


def find_sr_images(path: str | os.PathLike[str]) -> dict[str, Path]:
    """The SR images of one model, by ``<set>/<name>``-style relative path without the suffix.

    ``path`` is an ``srlab-eval`` run folder (its ``sr/`` sub-folder is used:
    ``sr/<set>/<name>.png``, or ``sr/<set>/x<s>/<name>.png`` for a multi-scale model) or directly
    a folder of SR images.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise SRLabError(f"SR folder not found: {root}")
    if (root / "sr").is_dir():
        root = root / "sr"
    root = root.resolve()
    images = _images_under(root, f"model folder {root}")
    if not images:
        raise SRLabError(f"no images under {root} (expected the sr/<set>/<name>.png of srlab-eval)")
    return images


_SCALE_PART = re.compile(r"^x\d+$")


def _match_ref(
    key: str, refs: Mapping[str, Path], by_stem: Mapping[str, list[Path]]
) -> Path | None:
    """The HR file of an SR image key.

    Tried in turn: the same relative path, then without an ``x<s>`` part, then without the set
    folder, then the unique file of the same name anywhere under the HR folder.
    """
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


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise SRLabError(f"not a readable image: {path} ({e})") from None


def _encode_png(path: Path, crop: tuple[int, int] | None = None) -> tuple[bytes, int, int]:
    """Decode ``path`` completely and re-encode it as a fresh RGB PNG without metadata chunks.

    A corrupt or truncated file is refused; ``crop``: keep the top-left (w, h) (mod-crop).
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise SRLabError(f"not a readable image: {path} ({e})") from None
    if crop is not None and rgb.size != crop:
        rgb = rgb.crop((0, 0, *crop))
    clean = Image.frombytes("RGB", rgb.size, rgb.tobytes())  # a new image: no info carried over
    buf = io.BytesIO()
    clean.save(buf, format="PNG", compress_level=6)
    return buf.getvalue(), clean.width, clean.height


def _remove_db_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _check_is_study(db: Path) -> None:
    """:class:`SRLabError` unless ``db`` is an srlab MOS study (of any schema version)."""
    con = connect(db)
    try:
        con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0]
    except (sqlite3.DatabaseError, TypeError):
        raise SRLabError(f"{db} exists and is not an srlab MOS study; not replacing it") from None
    finally:
        con.close()


def _retire(db: Path) -> Path:
    """Check that ``db`` is a study, fold its WAL into the main file and keep it as ``<db>.bak``.

    The backup is a hard link, or a copy where links are not possible; ``db`` stays in place.
    """
    _check_is_study(db)
    con = connect(db)
    try:
        busy = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    finally:
        con.close()
    if busy:
        raise SRLabError(f"{db} is in use (stop its server before --overwrite)")
    bak = db.with_name(db.name + ".bak")
    tmp = db.with_name(f".{db.name}.bak-{secrets.token_hex(4)}")
    try:
        os.link(db, tmp)
    except OSError:
        import shutil

        shutil.copy2(db, tmp)
    os.replace(tmp, bak)
    return bak


def create_study(
    db_path: str | os.PathLike[str],
    models: Mapping[str, str | os.PathLike[str]],
    hr_dir: str | os.PathLike[str] | None = None,
    scale: tuple[int, int] = (1, 5),
    seed: int | None = None,
    include_hr: bool = False,
    overwrite: bool = False,
    anchors: int = 0,
    repeats: int = 0,
) -> dict[str, Any]:
    """Build a study database from the SR outputs of several models.

    Args:
        db_path: the study file to create.
        models: model name -> ``srlab-eval`` run folder (or a folder of SR images).
        hr_dir: folder of the HR references (matched to SR images by relative path or file name);
            ``None``: no reference toggle.
        scale: ``(low, high)`` score range, e.g. ``(1, 5)`` or the article's ``(0, 5)``.
        include_hr: also rate the HR images themselves, as model ``HR`` (in the MOS table).
        anchors: hidden HR anchors per rater (control items, not in the MOS table; needs
            ``hr_dir``).
        repeats: images shown a second time to each rater (consistency control).
        seed: study seed for the raters' orders (default: random).
        overwrite: replace an existing study; it is kept as ``<db>.bak``.

    Only pictures present for **every** model are used (the others are returned as
    ``dropped``); all models' images of one picture must have one size, and the HR image that
    size or up to ``MAX_MODCROP - 1`` px more (it is then cropped, as ``srlab-eval`` mod-crops).
    Nothing is written until every input has been checked, the study is built under a
    temporary name, and an existing study is only replaced by a complete new one.

    Returns ``{"models", "keys", "images", "anchors", "repeats", "dropped", "identical",
    "backup"}``.
    """
    if len(models) < 1:
        raise SRLabError("a study needs at least one --model NAME=DIR")
    lo, hi = scale
    if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo < hi):
        raise SRLabError(f"invalid score scale {scale}")
    if anchors < 0 or repeats < 0:
        raise SRLabError("--anchors and --repeats must be >= 0")
    if (include_hr or anchors) and hr_dir is None:
        raise SRLabError("--include-hr and --anchors need --hr")
    names: dict[str, str] = {}
    for name in models:
        n = normalize_name(name, "model name", 60)
        if n in names.values() or n == CONTROL_MODEL or (n == "HR" and include_hr):
            raise SRLabError(f"model name used twice or reserved: {n}")
        names[name] = n
    db = Path(db_path)
    if db.is_dir():
        raise SRLabError(f"{db} is a directory; --study names the study file to create")
    exists = db.exists() or db.is_symlink()
    if exists and not overwrite:
        raise SRLabError(f"study database already exists: {db} (use --overwrite to replace it)")
    if exists:
        _check_is_study(db)  # overwrite only a study, never some other file
    if not db.parent.is_dir():
        raise SRLabError(f"folder not found: {db.parent}")

    # ---- every check first: nothing is written before the inputs are known to be right
    per_model = {names[name]: find_sr_images(path) for name, path in models.items()}
    all_keys = set().union(*(set(v) for v in per_model.values()))
    keys = sorted(set.intersection(*(set(v) for v in per_model.values())))
    dropped = [
        f"{k} (missing in {', '.join(m for m, v in per_model.items() if k not in v)})"
        for k in sorted(all_keys - set(keys))
    ]
    if not keys:
        raise SRLabError("the models share no image (compare the names under their sr/ folders)")
    size: dict[str, tuple[int, int]] = {}
    for k in keys:
        sizes = {m: _image_size(v[k]) for m, v in per_model.items()}
        if len(set(sizes.values())) > 1:
            detail = ", ".join(f"{m} {w}x{h}" for m, (w, h) in sizes.items())
            raise SRLabError(f"the SR images of {k} differ in size: {detail}")
        size[k] = next(iter(sizes.values()))

    ref_of: dict[str, Path] = {}
    if hr_dir is not None:
        hr_root = Path(hr_dir).expanduser()
        if not hr_root.is_dir():
            raise SRLabError(f"HR folder not found: {hr_root}")
        hr_root = hr_root.resolve()
        refs = _images_under(hr_root, f"HR folder {hr_root}")
        by_stem: dict[str, list[Path]] = {}
        for k, f in refs.items():
            by_stem.setdefault(k.split("/")[-1], []).append(f)
        missing = []
        for k in keys:
            ref = _match_ref(k, refs, by_stem)
            if ref is None:
                missing.append(k)
                continue
            (w, h), (sw, sh) = _image_size(ref), size[k]
            if not (sw <= w < sw + MAX_MODCROP and sh <= h < sh + MAX_MODCROP):
                raise SRLabError(
                    f"the HR image {ref} ({w}x{h}) does not match the SR size of {k} ({sw}x{sh})"
                )
            ref_of[k] = ref
        if missing:
            raise SRLabError(f"no HR reference under {hr_root} for: {', '.join(missing[:10])}")

    seed = secrets.randbits(31) if seed is None else int(seed)
    rows = [(name, k, imgs[k]) for name, imgs in per_model.items() for k in keys]
    random.Random(seed).shuffle(rows)

    # ---- build under a temporary name in the same folder, then swap in
    tmp = db.parent / f".{db.name}.{secrets.token_hex(4)}.building"
    identical: list[str] = []
    try:
        con = connect(tmp, must_exist=False)
        try:
            blob_of: dict[str, int] = {}

            def blob(path: Path, crop: tuple[int, int]) -> tuple[int, str]:
                png, w, h = _encode_png(path, crop)
                digest = hashlib.sha256(png).hexdigest()
                if digest not in blob_of:
                    blob_of[digest] = _insert(
                        con,
                        "INSERT INTO blobs(sha256, width, height, png) VALUES (?, ?, ?, ?)",
                        (digest, w, h, png),
                    )
                return blob_of[digest], digest

            with transaction(con):
                for stmt in _SCHEMA.split(";"):
                    con.execute(stmt)
                con.executemany(
                    "INSERT INTO meta(key, value) VALUES (?, ?)",
                    [
                        ("schema", SCHEMA_VERSION),
                        ("scale_min", str(lo)),
                        ("scale_max", str(hi)),
                        ("seed", str(seed)),
                        ("created", str(time.time())),
                        ("secret", secrets.token_hex(32)),
                        ("anchors", str(anchors)),
                        ("repeats", str(repeats)),
                        ("dropped", json.dumps(dropped)),
                    ],
                )
                model_id = {
                    name: _insert(con, "INSERT INTO models(name) VALUES (?)", (name,))
                    for name in per_model
                }
                ref_id: dict[str, int] = {}
                ref_blob: dict[str, int] = {}
                for k in keys:
                    if k in ref_of:
                        ref_blob[k], _ = blob(ref_of[k], size[k])
                        ref_id[k] = _insert(
                            con,
                            "INSERT INTO refs(key, source, blob_id) VALUES (?, ?, ?)",
                            (k, str(ref_of[k]), ref_blob[k]),
                        )
                seen: dict[tuple[str, str], str] = {}
                for name, k, path in rows:
                    bid, digest = blob(path, size[k])
                    other = seen.setdefault((k, digest), name)
                    if other != name:
                        identical.append(f"{k} ({other} = {name})")
                    con.execute(
                        "INSERT INTO images(model_id, key, source, blob_id, ref_id) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (model_id[name], k, str(path), bid, ref_id.get(k)),
                    )
                extra = (["HR"] if include_hr else []) + ([CONTROL_MODEL] if anchors else [])
                for name in extra:
                    mid = _insert(
                        con,
                        "INSERT INTO models(name, control) VALUES (?, ?)",
                        (name, int(name == CONTROL_MODEL)),
                    )
                    con.executemany(
                        "INSERT INTO images(model_id, key, source, blob_id, ref_id, is_hr) "
                        "VALUES (?, ?, ?, ?, ?, 1)",
                        [(mid, k, str(ref_of[k]), ref_blob[k], ref_id[k]) for k in keys],
                    )
            con.execute("PRAGMA journal_mode = WAL")
        finally:
            con.close()
        bak = _retire(db) if exists else None
        for suffix in ("-wal", "-shm"):  # stale files of the old study must not meet the new one
            Path(str(db) + suffix).unlink(missing_ok=True)
        os.replace(tmp, db)
    except BaseException:
        _remove_db_files(tmp)
        raise
    return {
        "models": len(per_model) + int(include_hr),
        "keys": len(keys),
        "images": len(rows) + (len(keys) if include_hr else 0),
        "anchors": anchors,
        "repeats": repeats,
        "dropped": dropped,
        "identical": sorted(identical),
        "backup": str(bak) if bak else None,
    }


# --------------------------------------------------------------------------- using a study


@dataclass(frozen=True)
class Rater:
    """A rater of the study: their row id and (normalised) name."""

    id: int
    name: str


class VoteError(ValueError):
    """A refused request of a rater; the message never repeats the rater's input.

    ``status``: the HTTP status the web app answers with.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _code_key(code: object) -> str | None:
    """An invitation code as typed (any case, dashes, spaces) -> its canonical form."""
    if not isinstance(code, str) or len(code) > 100:
        return None
    c = re.sub(r"[\s-]", "", code).lower()
    return c if re.fullmatch(r"[a-z2-7]{20}", c) else None


def _new_code() -> str:
    """100 random bits as ``xxxxx-xxxxx-xxxxx-xxxxx`` (base32: no 0/1/8/9 to misread)."""
    import base64

    c = base64.b32encode(secrets.token_bytes(15)).decode().lower()[:20]
    return "-".join(c[i : i + 5] for i in range(0, 20, 5))


def _position(value: object) -> int | None:
    """A 1-based position from a form or URL (ASCII digits, range-checked) or ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1 <= value <= 1_000_000 else None
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,7}", value):
        return _position(int(value))
    return None


class Study:
    """Access to one study database (one connection; open one per thread or request)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.con = connect(self.path)
        try:
            meta = dict(self.con.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError:
            self.con.close()
            raise SRLabError(f"{self.path} is not an srlab MOS study") from None
        if meta.get("schema") != SCHEMA_VERSION:
            self.con.close()
            hint = (
                "; report still reads it, create a new study to rate" if meta.get("schema") else ""
            )
            raise SRLabError(
                f"{self.path} is not an srlab MOS study of this version "
                f"(schema {meta.get('schema')}, expected {SCHEMA_VERSION}){hint}"
            )
        self.scale_min = int(meta["scale_min"])
        self.scale_max = int(meta["scale_max"])
        self.seed = int(meta["seed"])
        self.secret = meta["secret"].encode()
        self.anchors = int(meta["anchors"])
        self.repeats = int(meta["repeats"])
        self.dropped = json.loads(meta["dropped"])

    def close(self) -> None:
        """Close the database connection."""
        self.con.close()

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # raters ---------------------------------------------------------------------------------
    def num_images(self) -> int:
        """Rateable images (each rater sees each once, plus their anchors and repeats)."""
        return self.con.execute(
            "SELECT COUNT(*) FROM images i JOIN models m ON m.id = i.model_id WHERE m.control = 0"
        ).fetchone()[0]

    def invite(self, name: str) -> tuple[Rater, str]:
        """A new rater and their invitation code (shown once: only its hash is stored).

        The rater gets their own stored random order of rateable images, hidden anchors and
        repeats.
        """
        name = normalize_name(name)
        code = _new_code()
        key = _code_key(code)
        assert key is not None  # _new_code makes canonical codes
        with transaction(self.con):
            if self.con.execute(
                "SELECT 1 FROM raters WHERE name_key = ?", (name.casefold(),)
            ).fetchone():
                raise SRLabError(f"a rater named {name!r} is already invited")
            rid = _insert(
                self.con,
                "INSERT INTO raters(name, name_key, code_hash, created) VALUES (?, ?, ?, ?)",
                (name, name.casefold(), _sha(key), time.time()),
            )
            self.con.executemany(
                "INSERT INTO rater_order(rater_id, position, image_id, role) VALUES (?, ?, ?, ?)",
                [(rid, pos, iid, role) for pos, (iid, role) in enumerate(self._draw(rid), 1)],
            )
        return Rater(rid, name), code

    def _draw(self, rid: int) -> list[tuple[int, str]]:
        rng = random.Random(f"{self.seed}:{rid}")
        rated = [
            r[0]
            for r in self.con.execute(
                "SELECT i.id FROM images i JOIN models m ON m.id = i.model_id "
                "WHERE m.control = 0 ORDER BY i.id"
            )
        ]
        anchor_ids = [
            r[0]
            for r in self.con.execute(
                "SELECT i.id FROM images i JOIN models m ON m.id = i.model_id "
                "WHERE m.control = 1 ORDER BY i.id"
            )
        ]
        rng.shuffle(rated)
        seq = [(i, "rate") for i in rated]
        for a in rng.sample(anchor_ids, min(self.anchors, len(anchor_ids))):
            seq.insert(rng.randint(0, len(seq)), (a, "anchor"))
        # a repeat comes at least 3 items after its first showing where the study allows it
        for r in rng.sample(rated[:-1] or rated, min(self.repeats, len(rated))):
            first = seq.index((r, "rate"))
            seq.insert(rng.randint(min(first + 4, len(seq)), len(seq)), (r, "repeat"))
        return seq

    def raters(self) -> list[dict[str, Any]]:
        """Every rater: ``{"id", "name", "revoked", "votes", "items"}``, in invitation order."""
        rows = self.con.execute(
            "SELECT r.id, r.name, r.revoked, "
            "(SELECT COUNT(*) FROM votes v WHERE v.rater_id = r.id), "
            "(SELECT COUNT(*) FROM rater_order o WHERE o.rater_id = r.id) "
            "FROM raters r ORDER BY r.id"
        ).fetchall()
        return [
            {"id": i, "name": n, "revoked": rv is not None, "votes": v, "items": t}
            for i, n, rv, v, t in rows
        ]

    def revoke(self, name: str) -> Rater:
        """Revoke a rater: their code and every session stop working.

        Their votes are kept; the report leaves revoked raters out.
        """
        key = normalize_name(name).casefold()
        now = time.time()
        with transaction(self.con):
            row = self.con.execute(
                "SELECT id, name FROM raters WHERE name_key = ?", (key,)
            ).fetchone()
            if row is None:
                raise SRLabError(f"no rater named {name!r} in {self.path}")
            self.con.execute(
                "UPDATE raters SET revoked = COALESCE(revoked, ?) WHERE id = ?", (now, row[0])
            )
            self.con.execute(
                "UPDATE sessions SET revoked = COALESCE(revoked, ?) WHERE rater_id = ?",
                (now, row[0]),
            )
        return Rater(*row)

    def rater_by_code(self, code: object) -> Rater | None:
        """The (not revoked) rater whose invitation code this is, typed in any case or spacing."""
        key = _code_key(code)
        if key is None:
            return None
        row = self.con.execute(
            "SELECT id, name FROM raters WHERE code_hash = ? AND revoked IS NULL", (_sha(key),)
        ).fetchone()
        return Rater(*row) if row else None

    def open_session(self, rater: Rater) -> str:
        """A new session token for a browser (the cookie value; only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        with transaction(self.con):
            self.con.execute(
                "INSERT INTO sessions(token_hash, rater_id, created) VALUES (?, ?, ?)",
                (_sha(token), rater.id, time.time()),
            )
        return token

    def rater_by_token(self, token: str | None) -> Rater | None:
        """The rater of a live session token (the cookie value), or ``None``."""
        if not token or not isinstance(token, str) or len(token) > 100:
            return None
        row = self.con.execute(
            "SELECT r.id, r.name FROM sessions s JOIN raters r ON r.id = s.rater_id "
            "WHERE s.token_hash = ? AND s.revoked IS NULL AND r.revoked IS NULL",
            (_sha(token),),
        ).fetchone()
        return Rater(*row) if row else None

    def close_session(self, token: str | None) -> None:
        """Log out: the token is dead from now on, whoever holds a copy of it."""
        if token and isinstance(token, str):
            with transaction(self.con):
                self.con.execute(
                    "UPDATE sessions SET revoked = COALESCE(revoked, ?) WHERE token_hash = ?",
                    (time.time(), _sha(token)),
                )

    def order(self, rater: Rater) -> list[int]:
        """The image ids of the rater's sequence, by position (anchors and repeats included)."""
        return [
            r[0]
            for r in self.con.execute(
                "SELECT image_id FROM rater_order WHERE rater_id = ? ORDER BY position", (rater.id,)
            )
        ]

    def items(self, rater: Rater) -> list[tuple[int, int, str]]:
        """``(position, image_id, role)`` of the rater's sequence."""
        return [
            tuple(r)
            for r in self.con.execute(
                "SELECT position, image_id, role FROM rater_order WHERE rater_id = ? "
                "ORDER BY position",
                (rater.id,),
            )
        ]

    def next_position(self, rater: Rater) -> int | None:
        """The position the rater is shown: the first without a vote (``None``: done)."""
        row = self.con.execute(
            "SELECT o.position FROM rater_order o LEFT JOIN votes v "
            "ON v.rater_id = o.rater_id AND v.position = o.position "
            "WHERE o.rater_id = ? AND v.id IS NULL ORDER BY o.position LIMIT 1",
            (rater.id,),
        ).fetchone()
        return row[0] if row else None

    def progress(self, rater: Rater) -> tuple[int, int]:
        """(votes given, items in the rater's sequence)."""
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
            raise VoteError("the score must be an integer")
        if isinstance(score, str):
            if not re.fullmatch(r"\s*-?[0-9]{1,3}\s*", score):
                raise VoteError("the score must be an integer")
            score = int(score)
        if not isinstance(score, int):
            raise VoteError("the score must be an integer")
        if not self.scale_min <= score <= self.scale_max:
            raise VoteError(f"the score must be within {self.scale_min}-{self.scale_max}")
        return score

    def vote(self, rater: Rater, position: object, score: object) -> bool:
        """Record ``score`` for the item at ``position`` of the rater's sequence.

        One transaction. A new vote is accepted only for the position the server shows (the
        first without a vote); re-sending an earlier one replaces its score (a refresh, a second
        tab). Returns True for a new vote, False for a replaced one.
        """
        score = self.check_score(score)
        pos = _position(position)
        if pos is None:
            raise VoteError("unknown item")
        now = time.time()
        with transaction(self.con):
            if not self.con.execute(
                "SELECT 1 FROM rater_order WHERE rater_id = ? AND position = ?", (rater.id, pos)
            ).fetchone():
                raise VoteError("unknown item")
            cur = self.con.execute(
                "UPDATE votes SET score = ?, updated = ? WHERE rater_id = ? AND position = ?",
                (score, now, rater.id, pos),
            )
            if cur.rowcount == 1:
                return False
            if pos != self.next_position(rater):
                raise VoteError("this item has not been shown to you yet", status=409)
            self.con.execute(
                "INSERT INTO votes(rater_id, position, score, created, updated) "
                "VALUES (?, ?, ?, ?, ?)",
                (rater.id, pos, score, now, now),
            )
            return True

    # images ---------------------------------------------------------------------------------
    def item_png(self, rater: Rater, position: object, reference: bool = False) -> bytes | None:
        """The PNG of the rater's item (or of its HR reference) if the server has shown it to them.

        Shown means a position up to the one being shown; ``None`` otherwise.
        """
        pos = _position(position)
        if pos is None:
            return None
        shown = self.next_position(rater)
        if shown is not None and pos > shown:
            return None
        join = (
            "JOIN refs r ON r.id = i.ref_id JOIN blobs b ON b.id = r.blob_id"
            if reference
            else ("JOIN blobs b ON b.id = i.blob_id")
        )
        row = self.con.execute(
            f"SELECT b.png FROM rater_order o JOIN images i ON i.id = o.image_id {join} "
            "WHERE o.rater_id = ? AND o.position = ?",
            (rater.id, pos),
        ).fetchone()
        return bytes(row[0]) if row else None

    def has_references(self) -> bool:
        """Whether the study holds HR references (the rating page then offers the HR toggle)."""
        return self.con.execute("SELECT COUNT(*) FROM refs").fetchone()[0] > 0
