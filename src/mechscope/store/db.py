"""The experiment store: one SQLite table of entries, one artifact folder per entry.

Layout under ``$MECHSCOPE_HOME`` (default ``./.mechscope``)::

    store.sqlite                      entries: kind, name, provenance, metrics
    artifacts/<kind>/<id>/...         the entry's files (safetensors, Parquet, JSON)
    artifacts/.tmp-*/                 an entry being written

An entry is written in three steps: its files into a fresh ``.tmp-`` folder,
that folder renamed to its final place, then one SQLite transaction that adds
its row. An entry exists once its row does, and its files are complete by
then; a run killed before the commit leaves at most an unreferenced folder,
which the next writer removes after an hour. Deleting removes the row first,
then the folder.

>>> import tempfile
>>> store = Store(tempfile.mkdtemp())
>>> entry = store.add("circuit", "c1", {"circuit.json": b"{}"}, base="random:gpt2-tiny", metrics={"f": 0.9})
>>> [(e.kind, e.name, e.metrics) for e in store.entries()]
[('circuit', 'c1', {'f': 0.9})]
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from mechscope.atomic import publish_folder, remove, temp_folder
from mechscope.errors import MechscopeError, closest

KINDS = ("version", "circuit", "comparison", "steering")
SCHEMA = 1
STALE_SECONDS = 3600
BUSY_SECONDS = 60  # how long a writer waits for another's transaction before giving up
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
Writer = bytes | Callable[[Path], None]  # file content, or a function that writes the file at a path

_DDL = """
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    base TEXT,
    operation TEXT,
    params TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL,
    mechscope_version TEXT NOT NULL,
    model_fingerprint TEXT,
    task_hash TEXT,
    metrics TEXT NOT NULL DEFAULT '{}',
    artifact TEXT NOT NULL,
    bytes INTEGER NOT NULL DEFAULT 0,
    UNIQUE (kind, name)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    entry_id TEXT NOT NULL,
    path TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (entry_id, path)
);
"""


def home() -> Path:
    """``$MECHSCOPE_HOME``, default ``./.mechscope``."""
    return Path(os.environ.get("MECHSCOPE_HOME", ".mechscope"))


@dataclass(frozen=True)
class Entry:
    """One recorded thing and its provenance; `artifact` is relative to the store's folder."""

    id: str
    kind: str
    name: str
    base: str | None
    operation: str | None
    params: dict
    created: str
    mechscope_version: str
    model_fingerprint: str | None
    task_hash: str | None
    metrics: dict
    artifact: str
    bytes: int = 0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return {**d, **self.extra}


class Store:
    """The store at `root` (default `home()`); created on first write."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else home()

    # paths and connection -----------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.root / "store.sqlite"

    def path(self, entry: Entry) -> Path:
        """The folder holding an entry's files."""
        return self.root / entry.artifact

    def _damaged(self, exc: Exception) -> MechscopeError:
        return MechscopeError(f"{self.db_path}: the store's database cannot be read ({' '.join(str(exc).split())[:80]}); "
                              "`mechscope store check` says what is wrong (move the file away to start a new store)")

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        try:
            return self._open(create)
        except sqlite3.OperationalError as exc:
            if _locked(exc):
                raise MechscopeError(f"{self.db_path}: the store stayed locked by another mechscope process for "
                                     f"{BUSY_SECONDS} s; try again when it has finished") from None
            raise self._damaged(exc) from None
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # a damaged file can return text that is not UTF-8
            raise self._damaged(exc) from None

    def _open(self, create: bool) -> sqlite3.Connection | None:
        if not self.db_path.exists():
            if not create:
                return None
            self.root.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.db_path, timeout=BUSY_SECONDS, isolation_level=None)
        con.row_factory = sqlite3.Row
        try:
            _when_unlocked(lambda: _prepare(con))
        except BaseException:
            con.close()
            raise
        return con

    def connect(self) -> sqlite3.Connection:
        """A connection to the store's database (WAL, busy timeout, tables made); the caller closes it.

        For tables that live beside the entries, such as the web app's job queue.

        >>> import tempfile
        >>> con = Store(tempfile.mkdtemp()).connect()
        >>> con.execute("PRAGMA journal_mode").fetchone()[0]
        'wal'
        >>> con.close()
        """
        return self._connect(create=True)

    # queries --------------------------------------------------------------------------------------
    def entries(self, kind: str | None = None) -> list[Entry]:
        """Every entry (of one kind), oldest first."""
        con = self._connect(create=False)
        if con is None:
            return []
        try:
            with con:
                sql = "SELECT * FROM entries" + (" WHERE kind = ?" if kind else "") + " ORDER BY created, name"
                rows = con.execute(sql, (kind,) if kind else ()).fetchall()
            return [_entry(r) for r in rows]
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:
            raise self._damaged(exc) from None
        finally:
            con.close()

    def find(self, kind: str, name: str) -> Entry | None:
        con = self._connect(create=False)
        if con is None:
            return None
        try:
            with con:
                row = con.execute("SELECT * FROM entries WHERE kind = ? AND name = ?", (kind, name)).fetchone()
            return _entry(row) if row else None
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:
            raise self._damaged(exc) from None
        finally:
            con.close()

    def recorded_files(self) -> dict[str, dict[str, tuple[int, str]]]:
        """``{entry id: {relative path: (bytes, sha256)}}`` as each entry's files were when it was added."""
        con = self._connect(create=False)
        if con is None:
            return {}
        with con:
            rows = con.execute("SELECT entry_id, path, bytes, sha256 FROM files").fetchall()
        con.close()
        out: dict[str, dict[str, tuple[int, str]]] = {}
        for r in rows:
            out.setdefault(r["entry_id"], {})[r["path"]] = (r["bytes"], r["sha256"])
        return out

    def get(self, kind: str, name: str) -> Entry:
        """The entry, or a one-line error naming the closest names."""
        entry = self.find(kind, name)
        if entry is None:
            names = [e.name for e in self.entries(kind)]
            listing = f"; `mechscope {'version' if kind == 'version' else 'store'} list` shows them" if names \
                else f"; the store at {self.root} has no {kind}s yet"
            raise MechscopeError(f"no {kind} named {name!r}{closest(name, names)}{listing}")
        return entry

    # writes ---------------------------------------------------------------------------------------
    def add(self, kind: str, name: str, files: dict[str, Writer], *, base: str | None = None,
            operation: str | None = None, params: dict | None = None, model_fingerprint: str | None = None,
            task_hash: str | None = None, metrics: dict | None = None, replace: bool = False) -> Entry:
        """Record an entry with its files, atomically (see the module docstring).

        Raises if `kind`/`name` exists, unless `replace`.
        """
        from mechscope import __version__

        if kind not in KINDS:
            raise MechscopeError(f"unknown store kind {kind!r}; kinds are {', '.join(KINDS)}")
        check_name(name)
        if not replace and self.find(kind, name) is not None:
            group = "version" if kind == "version" else "store"
            raise MechscopeError(f"a {kind} named {name!r} already exists in {self.root}; pick another name "
                                 f"or remove it with `mechscope {group} rm {name}`")
        artifacts = self.root / "artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        self._collect_garbage()
        entry_id = uuid.uuid4().hex[:16]
        final = artifacts / kind / entry_id
        tmp = temp_folder(artifacts)
        try:
            for filename, content in files.items():
                target = tmp / filename
                if isinstance(content, bytes):
                    target.write_bytes(content)
                else:
                    content(target)
            hashes = file_hashes(tmp)
            size = sum(n for n, _ in hashes.values())
            final.parent.mkdir(parents=True, exist_ok=True)
            publish_folder(tmp, final)
        finally:
            remove(tmp)
        entry = Entry(entry_id, kind, name, base, operation, params or {},
                      datetime.now(timezone.utc).isoformat(timespec="seconds"), __version__, model_fingerprint,
                      task_hash, metrics or {}, str(final.relative_to(self.root)), size)
        old = None
        con = self._connect(create=True)
        try:
            with write_transaction(con):
                old_row = con.execute("SELECT * FROM entries WHERE kind = ? AND name = ?", (kind, name)).fetchone()
                if old_row is not None:
                    if not replace:
                        raise MechscopeError(f"a {kind} named {name!r} was added meanwhile; pick another name")
                    old = _entry(old_row)
                    con.execute("DELETE FROM entries WHERE id = ?", (old.id,))
                    con.execute("DELETE FROM files WHERE entry_id = ?", (old.id,))
                con.execute("INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", _row(entry))
                con.executemany("INSERT INTO files VALUES (?,?,?,?)",
                                [(entry.id, rel, n, digest) for rel, (n, digest) in sorted(hashes.items())])
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
        finally:
            con.close()
        if old is not None:
            shutil.rmtree(self.path(old), ignore_errors=True)
        return entry

    def remove(self, kind: str, name: str) -> Entry:
        """Delete an entry: its row, then its files."""
        entry = self.get(kind, name)
        self.forget(entry.id)
        shutil.rmtree(self.path(entry), ignore_errors=True)
        return entry

    def forget(self, entry_id: str) -> None:
        """Delete an entry's row and file hashes (not its folder), in one transaction."""
        con = self._connect(create=True)
        try:
            with write_transaction(con):
                con.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
                con.execute("DELETE FROM files WHERE entry_id = ?", (entry_id,))
        finally:
            con.close()

    def _collect_garbage(self) -> None:
        """Remove folders no row refers to (a killed write), once they are an hour old."""
        artifacts = self.root / "artifacts"
        known = {e.artifact for e in self.entries()}
        now = time.time()
        candidates = list(artifacts.glob(".tmp-*")) + [p for k in KINDS for p in (artifacts / k).glob("*")]
        for p in candidates:
            rel = str(p.relative_to(self.root))
            try:
                stale = now - p.stat().st_mtime > STALE_SECONDS
            except FileNotFoundError:
                continue
            if rel not in known and stale:
                shutil.rmtree(p, ignore_errors=True)


def _prepare(con: sqlite3.Connection) -> None:
    """Busy timeout, WAL and the tables, on a fresh connection."""
    con.execute(f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}")
    if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        con.execute("PRAGMA journal_mode=WAL")  # once per store: it stays in the file
    has_tables = con.execute("SELECT count(*) FROM sqlite_master WHERE name IN ('entries', 'meta', 'files')"
                             ).fetchone()[0] == 3
    if not has_tables:
        with write_transaction(con):  # writers that start together make the tables one after another
            for statement in _DDL.split(";"):
                if statement.strip():
                    con.execute(statement)
            con.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))


def _when_unlocked(fn: Callable[[], None], seconds: float = BUSY_SECONDS) -> None:
    """Call `fn`, again while SQLite says the database is locked, for up to `seconds`.

    Switching a new store to WAL takes an exclusive lock, and SQLite answers "locked" at once,
    without waiting on the busy timeout, to writers that open the store while another switches it.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not _locked(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _locked(exc: sqlite3.OperationalError) -> bool:
    """SQLite's "database is locked" (or busy): another connection holds the lock."""
    return "locked" in str(exc) or "busy" in str(exc)


@contextmanager
def write_transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on any exception, Ctrl-C included.

    IMMEDIATE takes the write lock at the start, so two writers queue on the busy timeout
    instead of one failing at its first write.

    >>> con = sqlite3.connect(":memory:", isolation_level=None)
    >>> with write_transaction(con):
    ...     _ = con.execute("CREATE TABLE t (x)")
    >>> con.in_transaction
    False
    """
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise


def file_hashes(folder: Path) -> dict[str, tuple[int, str]]:
    """``{relative path: (bytes, sha256 hex)}`` of every file under `folder`.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a.txt").write_bytes(b"abc")
    >>> file_hashes(d)["a.txt"][1][:12]
    'ba7816bf8f01'
    """
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            out[str(p.relative_to(folder))] = (p.stat().st_size, h.hexdigest())
    return out


def check_name(name: str) -> str:
    """A store name: letters, digits, '.', '_', '-'; not a model spec.

    >>> check_name("smollm2-q4")
    'smollm2-q4'
    """
    from mechscope.models import DEFAULT_MODEL

    if not _NAME.match(name) or name == DEFAULT_MODEL:
        raise MechscopeError(f"name {name!r} is not allowed; use letters, digits, '.', '_' and '-' (at most 100), "
                             f"not a model spec, e.g. smollm2-q4")
    return name


def _row(e: Entry) -> tuple:
    return (e.id, e.kind, e.name, e.base, e.operation, json.dumps(e.params), e.created, e.mechscope_version,
            e.model_fingerprint, e.task_hash, json.dumps(e.metrics), e.artifact, e.bytes)


def _entry(row: sqlite3.Row) -> Entry:
    d = dict(row)
    d["params"] = json.loads(d["params"] or "{}")
    d["metrics"] = json.loads(d["metrics"] or "{}")
    if not isinstance(d["params"], dict) or not isinstance(d["metrics"], dict):
        raise ValueError(f"entry {d.get('name')!r} has params or metrics that are not JSON objects")
    return Entry(**d)
