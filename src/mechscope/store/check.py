"""`mechscope store check`: is every entry whole, and what did a crash leave behind?

For every row of the store it checks that the row parses (kind, name, JSON fields, artifact path), that its
folder exists, and that every file recorded when the entry was added is there with the same size and SHA-256
(and no file was added); JSON files must parse and safetensors headers must read. Then it lists what no row
refers to: entry folders whose row never committed (a write killed between rename and commit, or a remove
killed between the two) and temporaries of interrupted writes (`mechscope.atomic.TEMP_PREFIX`), in the
artifact folders and the data maps folder. ``repair`` removes those leftovers (once older than `grace`
seconds, so a write in progress is left alone) and the entries found broken, row first.

>>> import tempfile
>>> from mechscope.store import Store
>>> store = Store(tempfile.mkdtemp())
>>> _ = store.add("circuit", "c1", {"circuit.json": b"{}"})
>>> report = check_store(store)
>>> report["entries"], report["clean"]
(1, True)
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from mechscope.atomic import is_leftover, remove
from mechscope.errors import MechscopeError
from mechscope.store.db import KINDS, Store, file_hashes

MAPS_FOLDER = "data-maps"  # the web app's data maps (ui/data_maps.py FOLDER), under the store's folder


def check_store(store: Store, *, repair: bool = False, grace: float = 60.0) -> dict:
    """Check the store (see the module docstring); with `repair`, remove leftovers and broken entries.

    Returns ``{"store", "entries", "problems": [{"entry", "problem"}], "orphans": [path], "leftovers": [path],
    "removed": [what], "clean"}``; `clean` is true when there are no problems, orphans or leftovers (after the
    repair, when repairing).
    """
    problems: list[dict] = []
    rows: list[dict] = []
    if store.db_path.exists():
        try:
            con = sqlite3.connect(f"file:{store.db_path}?mode=ro", uri=True, timeout=60)
            con.row_factory = sqlite3.Row
            verdict = con.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                problems.append({"entry": str(store.db_path), "problem": f"SQLite says: {verdict}"})
            rows = [dict(r) for r in con.execute("SELECT * FROM entries").fetchall()]
            con.close()
        except sqlite3.DatabaseError as exc:
            problems.append({"entry": str(store.db_path), "problem": f"not a readable SQLite store ({exc})"})
    recorded = _recorded(store)
    broken: list[dict] = []
    known: set[str] = set()
    for row in rows:
        label = f"{row.get('kind')}/{row.get('name')}"
        found = _row_problems(store, row, recorded.get(row.get("id"), None))
        known.add(str(row.get("artifact")))
        if found:
            problems += [{"entry": label, "problem": p} for p in found]
            broken.append(row)
    orphans, leftovers = _unreferenced(store, known)
    removed: list[str] = []
    if repair:
        now = time.time()
        for row in broken:
            store.forget(str(row.get("id")))  # the row first: an entry whose row is gone is not listed
            if _inside(store, row.get("artifact")):
                remove(store.root / str(row.get("artifact")))
            removed.append(f"{row.get('kind')}/{row.get('name')}")
        for p in orphans + leftovers:
            try:
                if now - p.lstat().st_mtime >= grace:
                    remove(p)
                    removed.append(str(p.relative_to(store.root)))
            except FileNotFoundError:
                continue
        if broken:
            problems = [p for p in problems if p["entry"] == str(store.db_path)]
        orphans, leftovers = _unreferenced(store, {e.artifact for e in store.entries()})
    rel = lambda ps: [str(p.relative_to(store.root)) for p in ps]  # noqa: E731
    return {"store": str(store.root), "entries": len(rows), "problems": problems, "orphans": rel(orphans),
            "leftovers": rel(leftovers), "removed": removed,
            "clean": not problems and not orphans and not leftovers}


def _recorded(store: Store) -> dict:
    try:
        return store.recorded_files()
    except (sqlite3.DatabaseError, MechscopeError):
        return {}


def _inside(store: Store, artifact) -> bool:
    """Whether a row's artifact path names a folder inside the store's artifacts (never remove anything else)."""
    parts = Path(str(artifact or "")).parts
    return len(parts) == 3 and parts[0] == "artifacts" and ".." not in parts and parts[1] in KINDS


def _row_problems(store: Store, row: dict, recorded: dict | None) -> list[str]:
    problems = []
    if row.get("kind") not in KINDS:
        problems.append(f"unknown kind {row.get('kind')!r}")
    for key in ("params", "metrics"):
        try:
            if not isinstance(json.loads(row.get(key) or "{}"), dict):
                problems.append(f"its {key} are not a JSON object")
        except (json.JSONDecodeError, TypeError):
            problems.append(f"its {key} are not valid JSON")
    artifact = str(row.get("artifact") or "")
    parts = Path(artifact).parts
    if len(parts) != 3 or parts[0] != "artifacts" or parts[1] != row.get("kind") or parts[2] != row.get("id"):
        problems.append(f"its artifact path {artifact!r} is not artifacts/<kind>/<id>")
        return problems
    folder = store.root / artifact
    if not folder.is_dir():
        return problems + [f"its folder {artifact} is missing"]
    if recorded is None:
        return problems  # added before the store kept hashes: its files cannot be compared
    actual = file_hashes(folder)
    for rel, (size, digest) in sorted(recorded.items()):
        if rel not in actual:
            problems.append(f"file {rel} is missing")
        elif actual[rel][0] != size:
            problems.append(f"file {rel} has {actual[rel][0]} bytes, {size} were written")
        elif actual[rel][1] != digest:
            problems.append(f"file {rel} changed since it was written (SHA-256 differs)")
        else:  # as written: does it parse (a writer that wrote nonsense)?
            problems += _content_problems(folder / rel, rel)
    problems += [f"file {rel} was not written with the entry" for rel in sorted(set(actual) - set(recorded))]
    return problems


def _content_problems(path: Path, rel: str) -> list[str]:
    try:
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".safetensors":
            _safetensors_header(path)
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        return [f"file {rel} does not parse ({' '.join(str(exc).split())[:80]})"]
    return []


def _safetensors_header(path: Path) -> dict:
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        if not 0 < n <= min(100 * 2**20, path.stat().st_size - 8):
            raise ValueError("bad safetensors header length")
        return json.loads(f.read(n))


def _unreferenced(store: Store, known: set[str]) -> tuple[list[Path], list[Path]]:
    artifacts = store.root / "artifacts"
    orphans, leftovers = [], []
    if artifacts.is_dir():
        for p in sorted(artifacts.iterdir()):
            if is_leftover(p):
                leftovers.append(p)
        for kind in KINDS:
            for p in sorted((artifacts / kind).glob("*")) if (artifacts / kind).is_dir() else []:
                if is_leftover(p):
                    leftovers.append(p)
                elif str(p.relative_to(store.root)) not in known:
                    orphans.append(p)
    maps = store.root / MAPS_FOLDER
    if maps.is_dir():
        leftovers += [p for p in sorted(maps.iterdir()) if is_leftover(p)]
        leftovers += [p for f in sorted(maps.glob("*/augmentations")) for p in sorted(f.iterdir()) if is_leftover(p)]
    leftovers += [p for p in sorted(store.root.glob("*")) if is_leftover(p)] if store.root.is_dir() else []
    return orphans, leftovers
