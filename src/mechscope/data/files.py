"""Atomic writes: every file goes to a temp file in the same folder and is renamed into place."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[str], None], suffix: str = "") -> Path:
    """Call ``write(tmp_path)`` and rename the temp file to `path`; nothing is left behind on errors.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(p, lambda tmp: pathlib.Path(tmp).write_text("hi")).read_text()
    'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; give it a normal file's mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_json(path: str | Path, doc) -> Path:
    """Write one JSON document (atomically)."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n",
                                                               encoding="utf-8"))


def write_jsonl(path: str | Path, rows: list[dict]) -> Path:
    """Write one JSON object a line (atomically).

    >>> import tempfile, pathlib
    >>> p = write_jsonl(pathlib.Path(tempfile.mkdtemp()) / "a.jsonl", [{"text": "hi"}])
    >>> p.read_text()
    '{"text": "hi"}\\n'
    """
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
