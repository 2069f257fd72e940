"""Atomic writes: the one home of temp-file-then-rename in mechscope.

Every file or folder mechscope writes is made under a temporary name in the folder it ends up in and
renamed into place when complete, so a reader (or a crash, or Ctrl-C) sees the old thing, the new thing
or nothing, never half of one. One policy for all of them:

* temporary names start with ``.tmp-`` (`TEMP_PREFIX`), so leftovers of a killed process are easy to
  recognise, skip and remove (`is_leftover`, `remove_leftovers`);
* a file gets the mode a plain ``open(path, "w")`` would give it (``0o666`` less the umask), a folder
  ``0o777`` less the umask, however the temporary was made;
* on any error (``KeyboardInterrupt`` included) the temporary is removed and the target is untouched.

Only this module calls ``os.replace``, ``os.rename``, ``os.link`` or ``tempfile.mkstemp``/``mkdtemp``
(tests/test_atomic.py checks the package for it).

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_json(folder / "a.json", {"x": 1}).read_text()
'{\\n "x": 1\\n}\\n'
>>> with atomic_folder(folder / "entry") as tmp:
...     _ = write_text(tmp / "b.txt", "hi")
>>> sorted(p.name for p in folder.iterdir())
['a.json', 'entry']
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_PREFIX = ".tmp-"


def _umask() -> int:
    try:  # Linux: read it without changing it (changing it races with other threads)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode every file mechscope writes gets: what ``open(path, "w")`` would give (0o644 under umask 022)."""
    return 0o666 & ~_umask()


def folder_mode() -> int:
    """The mode every folder mechscope writes gets (0o755 under umask 022)."""
    return 0o777 & ~_umask()


def temp_path(path: str | Path) -> Path:
    """A fresh, empty temporary file beside `path` (same folder, so the rename is atomic); mode `file_mode()`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, file_mode())
    return Path(tmp)


def atomic_write(path: str | Path, write: Callable[[Path], object], *, exclusive: bool = False) -> Path:
    """Call ``write(tmp)`` with a temporary path beside `path`, then rename it to `path`; returns `path`.

    The temporary ends in the same suffix as `path` (libraries that add one, such as ``np.save``, see theirs).
    With `exclusive`, an existing `path` is never replaced: `FileExistsError` is raised instead.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(p, lambda tmp: tmp.write_text("hi")).read_text()
    'hi'
    >>> try:
    ...     atomic_write(p, lambda tmp: tmp.write_text("again"), exclusive=True)
    ... except FileExistsError:
    ...     print("kept", p.read_text())
    kept hi
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        write(tmp)
        os.chmod(tmp, file_mode())  # a library may have replaced the file with its own mode
        if exclusive:
            os.link(tmp, path)  # atomic, and refuses to replace an existing file
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_bytes(path: str | Path, data: bytes, *, exclusive: bool = False) -> Path:
    """Write `data` to `path` atomically.

    >>> import tempfile, pathlib
    >>> write_bytes(pathlib.Path(tempfile.mkdtemp()) / "a.bin", b"x").read_bytes()
    b'x'
    """
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), exclusive=exclusive)


def write_text(path: str | Path, text: str, *, exclusive: bool = False) -> Path:
    """Write `text` to `path` atomically, as UTF-8 with the newlines as given."""
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return atomic_write(path, write, exclusive=exclusive)


def write_json(path: str | Path, doc, *, indent: int | None = 1, default=None, exclusive: bool = False) -> Path:
    """Write one JSON document (UTF-8, a newline at the end) atomically."""
    text = json.dumps(doc, indent=indent, ensure_ascii=False, default=default) + "\n"
    return write_text(path, text, exclusive=exclusive)


def write_jsonl(path: str | Path, rows: list[dict]) -> Path:
    """Write one JSON object a line, atomically.

    >>> import tempfile, pathlib
    >>> write_jsonl(pathlib.Path(tempfile.mkdtemp()) / "a.jsonl", [{"text": "hi"}]).read_text()
    '{"text": "hi"}\\n'
    """
    return write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def temp_folder(parent: str | Path, name: str = "") -> Path:
    """A fresh, empty temporary folder in `parent`, mode `folder_mode()`."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{name}{'.' if name else ''}", dir=parent))
    os.chmod(tmp, folder_mode())
    return tmp


@contextmanager
def atomic_folder(path: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Fill a temporary folder beside `path`; when the block ends without error it becomes `path`.

    Without `replace` an existing `path` raises `FileExistsError` (also when another process made it
    meanwhile); with it, the old folder is swapped out and removed after the new one is in place.
    On any error the temporary folder is removed and `path` is untouched.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> with atomic_folder(target) as tmp:
    ...     _ = (tmp / "x.txt").write_text("1")
    >>> [p.name for p in target.iterdir()]
    ['x.txt']
    """
    path = Path(path)
    tmp = temp_folder(path.parent, path.name)
    try:
        yield tmp
        publish_folder(tmp, path, replace=replace)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def publish_folder(tmp: str | Path, path: str | Path, *, replace: bool = False) -> None:
    """Rename the complete folder `tmp` to `path` (see `atomic_folder`)."""
    tmp, path = Path(tmp), Path(path)
    if not replace:
        if path.exists():
            raise FileExistsError(f"{path} exists")
        os.rename(tmp, path)  # fails if a non-empty `path` appeared meanwhile
        return
    old = None
    if path.exists():
        old = path.parent / f"{TEMP_PREFIX}{path.name}.old-{os.getpid()}-{time.monotonic_ns()}"
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def move(src: str | Path, dest: str | Path) -> None:
    """Rename `src` to `dest` in one step (same file system), replacing a file at `dest`."""
    os.replace(src, dest)


def is_leftover(path: str | Path) -> bool:
    """Whether `path` is a temporary an interrupted write left behind (its name starts with `TEMP_PREFIX`).

    >>> is_leftover("/s/artifacts/.tmp-abc"), is_leftover("/s/artifacts/circuit/abc")
    (True, False)
    """
    return Path(path).name.startswith(TEMP_PREFIX)


def leftovers(folder: str | Path, older_than: float = 0.0) -> list[Path]:
    """The temporaries directly in `folder` last touched more than `older_than` seconds ago."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now = time.time()
    found = []
    for p in sorted(folder.iterdir()):
        if not is_leftover(p):
            continue
        try:
            if now - p.lstat().st_mtime >= older_than:
                found.append(p)
        except FileNotFoundError:
            continue
    return found


def remove(path: str | Path) -> None:
    """Remove a file or folder, whichever it is; nothing if it is gone."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_safetensors(path: str | Path, tensors: dict, metadata: dict[str, str] | None = None) -> Path:
    """Write a ``dict[str, Tensor]`` as safetensors (metadata strings only) atomically."""
    from safetensors.torch import save

    return write_bytes(path, save(tensors, metadata=metadata))
