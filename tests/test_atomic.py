"""One atomic writer for the package (mechscope/atomic.py): one file mode, nothing left behind on error,
and no other module renaming temp files into place by itself."""

from __future__ import annotations

import ast
import os
import stat
from pathlib import Path

import pytest

from mechscope import atomic

SRC = Path(__file__).resolve().parents[1] / "src" / "mechscope"
# calls that make a temporary or rename something into place: only mechscope/atomic.py may make them
FORBIDDEN = {("os", "replace"), ("os", "rename"), ("os", "renames"), ("os", "link"), ("shutil", "move"),
             ("tempfile", "mkstemp"), ("tempfile", "mkdtemp"), ("tempfile", "NamedTemporaryFile")}


def writer_calls(path: Path) -> list[str]:
    """`module.function` calls in FORBIDDEN, imports of those names, and any `.rename(...)`/`.replace(...)` call on
    a Path (a call whose receiver is not a string literal and that passes one positional argument)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in {"os", "shutil", "tempfile"}:
            found += [f"{node.lineno}: from {node.module} import {a.name}" for a in node.names
                      if (node.module, a.name) in FORBIDDEN]
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        attr, owner = node.func.attr, node.func.value
        if isinstance(owner, ast.Name) and (owner.id, attr) in FORBIDDEN:
            found.append(f"{node.lineno}: {owner.id}.{attr}")
        elif attr in {"rename", "replace"} and len(node.args) == 1 and not node.keywords \
                and not isinstance(owner, ast.Constant):
            found.append(f"{node.lineno}: .{attr}(...)")
    return found


def test_no_module_but_atomic_renames_files_into_place():
    offenders = {str(p.relative_to(SRC)): calls for p in sorted(SRC.rglob("*.py"))
                 if p.name != "atomic.py" and (calls := writer_calls(p))}
    assert offenders == {}, "write through mechscope.atomic instead"


def test_the_grep_sees_a_writer(tmp_path):
    planted = tmp_path / "x.py"
    planted.write_text("import os, tempfile\nfrom pathlib import Path\n"
                       "def f(p):\n    fd, t = tempfile.mkstemp()\n    os.replace(t, p)\n    Path(t).rename(p)\n"
                       "    s = 'a'.replace('a', 'b')\n")
    assert writer_calls(planted) == ["4: tempfile.mkstemp", "5: os.replace", "6: .rename(...)"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_every_writer_gives_a_plain_files_mode(tmp_path, umask_022):
    import torch

    atomic.write_bytes(tmp_path / "a.bin", b"x")
    atomic.write_text(tmp_path / "b.txt", "x")
    atomic.write_json(tmp_path / "c.json", {"x": 1})
    atomic.write_jsonl(tmp_path / "d.jsonl", [{"x": 1}])
    atomic.write_safetensors(tmp_path / "e.safetensors", {"t": torch.zeros(2)})
    # a library that makes its own file at the temp path (np.save, safetensors.save_file) still gets the policy
    atomic.atomic_write(tmp_path / "f.bin", lambda tmp: (tmp.unlink(), os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY,
                                                                                         0o600))))
    with atomic.atomic_folder(tmp_path / "g") as folder:
        (folder / "x").write_text("1")
    modes = {p.name: oct(_mode(p)) for p in sorted(tmp_path.iterdir())}
    assert modes == {"a.bin": "0o644", "b.txt": "0o644", "c.json": "0o644", "d.jsonl": "0o644",
                     "e.safetensors": "0o644", "f.bin": "0o644", "g": "0o755"}


def test_an_error_leaves_neither_temp_nor_target(tmp_path):
    (tmp_path / "keep.txt").write_text("old")

    def fail(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic.atomic_write(tmp_path / "new.txt", fail)
    with pytest.raises(KeyboardInterrupt):
        atomic.atomic_write(tmp_path / "keep.txt", fail)
    with pytest.raises(RuntimeError):
        with atomic.atomic_folder(tmp_path / "folder") as f:
            (f / "x").write_text("half")
            raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    assert (tmp_path / "keep.txt").read_text() == "old"


def test_exclusive_writes_and_folders_never_replace(tmp_path):
    atomic.write_text(tmp_path / "a.txt", "first")
    with pytest.raises(FileExistsError):
        atomic.write_text(tmp_path / "a.txt", "second", exclusive=True)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("old")
    with pytest.raises(FileExistsError):
        with atomic.atomic_folder(tmp_path / "d") as f:
            (f / "x").write_text("new")
    with atomic.atomic_folder(tmp_path / "d", replace=True) as f:
        (f / "x").write_text("new")
    assert (tmp_path / "a.txt").read_text() == "first"
    assert (tmp_path / "d" / "x").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "d"]


def test_leftovers_are_what_a_killed_write_leaves(tmp_path):
    tmp = atomic.temp_path(tmp_path / "a.json")
    folder = atomic.temp_folder(tmp_path, "entry")
    (tmp_path / "real.json").write_text("{}")
    assert atomic.leftovers(tmp_path) == sorted([tmp, folder])
    assert atomic.leftovers(tmp_path, older_than=3600) == []
    for p in atomic.leftovers(tmp_path):
        atomic.remove(p)
    assert [p.name for p in tmp_path.iterdir()] == ["real.json"]
