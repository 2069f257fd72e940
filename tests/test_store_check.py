"""`store check`: every kind of damage is found, `--repair` removes what a crash left, the store ignores
leftovers, and eight processes writing at once lose nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from mechscope.atomic import temp_folder, temp_path
from mechscope.store import Store
from mechscope.store.check import check_store


def _store(tmp_path) -> Store:
    store = Store(tmp_path / "s")
    store.add("circuit", "c1", {"circuit.json": b'{"a": 1}', "scores.bin": b"0123456789"}, metrics={"f": 1.0})
    store.add("steering", "s1", {"manifest.json": b"{}"})
    store.add("comparison", "k1", {"comparison.json": b"[]"})
    return store


def _problems(report) -> list[str]:
    return [f"{p['entry']}: {p['problem']}" for p in report["problems"]]


def test_a_whole_store_is_clean(tmp_path):
    report = check_store(_store(tmp_path))
    assert report["clean"] and report["entries"] == 3 and report["problems"] == report["orphans"] == []


def test_each_kind_of_damage_is_named(tmp_path):
    store = _store(tmp_path)
    c1, s1, k1 = (store.path(store.get(k, n)) for k, n in [("circuit", "c1"), ("steering", "s1"),
                                                            ("comparison", "k1")])
    (c1 / "scores.bin").write_bytes(b"0123456780")  # same size, other bytes
    (c1 / "circuit.json").write_bytes(b'{"a": 1')  # cut short
    (s1 / "manifest.json").unlink()
    (k1 / "stray.txt").write_text("x")
    assert _problems(check_store(store)) == [
        "circuit/c1: file circuit.json has 7 bytes, 8 were written",
        "circuit/c1: file scores.bin changed since it was written (SHA-256 differs)",
        "steering/s1: file manifest.json is missing",
        "comparison/k1: file stray.txt was not written with the entry",
    ]


def test_a_row_that_does_not_parse_or_lost_its_folder_is_broken(tmp_path):
    store = _store(tmp_path)
    con = sqlite3.connect(store.db_path)
    con.execute("UPDATE entries SET metrics = '{not json' WHERE name = 'c1'")
    con.commit()
    con.close()
    import shutil

    shutil.rmtree(store.path(store.get("steering", "s1")))
    assert _problems(check_store(store)) == ["circuit/c1: its metrics are not valid JSON",
                                             f"steering/s1: its folder {store.get('steering', 's1').artifact} "
                                             "is missing"]


def test_crash_leftovers_are_listed_ignored_and_repaired(tmp_path):
    store = _store(tmp_path)
    artifacts = store.root / "artifacts"
    orphan = artifacts / "circuit" / "0123456789abcdef"  # renamed into place, killed before the row committed
    orphan.mkdir()
    (orphan / "circuit.json").write_text("{}")
    leftover = temp_folder(artifacts)  # killed while writing the files
    (leftover / "half").write_bytes(b"x")
    map_leftover = temp_path(store.root / "data-maps" / "m" / "augmentations" / "a.json")
    report = check_store(store)
    assert not report["clean"] and report["problems"] == []
    assert report["orphans"] == ["artifacts/circuit/0123456789abcdef"]
    assert sorted(report["leftovers"]) == sorted([str(leftover.relative_to(store.root)),
                                                  str(map_leftover.relative_to(store.root))])
    # the store ignores them: the same three entries, and a new write works
    assert sorted(e.name for e in store.entries()) == ["c1", "k1", "s1"]
    store.add("circuit", "c2", {"circuit.json": b"{}"})
    # a repair within the grace period leaves a write that may be in progress alone
    assert check_store(store, repair=True, grace=3600)["removed"] == []
    repaired = check_store(store, repair=True, grace=0)
    assert repaired["clean"] and len(repaired["removed"]) == 3
    assert not orphan.exists() and not leftover.exists() and not map_leftover.exists()
    assert sorted(e.name for e in store.entries()) == ["c1", "c2", "k1", "s1"] and check_store(store)["clean"]


def test_repair_removes_broken_entries_row_first(tmp_path):
    store = _store(tmp_path)
    (store.path(store.get("circuit", "c1")) / "scores.bin").write_bytes(b"bad")
    report = check_store(store, repair=True, grace=0)
    assert report["removed"] == ["circuit/c1"] and report["clean"]
    assert sorted(e.name for e in store.entries()) == ["k1", "s1"]
    assert sorted(p.name for p in (store.root / "artifacts" / "circuit").iterdir()) == []


def test_the_cli_check_exits_1_until_repaired(tmp_path):
    store = _store(tmp_path)
    temp_folder(store.root / "artifacts")
    env = {**os.environ, "MECHSCOPE_HOME": str(store.root)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "mechscope", "store", "check", *a, "--json"],  # noqa: E731
                                    capture_output=True, text=True, env=env, timeout=300)
    first = run()
    assert first.returncode == 1 and len(json.loads(first.stdout)["leftovers"]) == 1
    fixed = run("--repair", "--grace", "0")
    assert fixed.returncode == 0 and json.loads(fixed.stdout)["clean"]


WRITER = """
import sys, time
from mechscope.store import Store
store, who, n, start = Store(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
time.sleep(max(0.0, start - time.time()))  # every writer begins at the same moment
for i in range(n):
    store.add("circuit", f"w{who}-{i}", {"circuit.json": b'{"i": %d}' % i, "x.bin": bytes(1000)},
              metrics={"i": i})
"""


def test_eight_writers_at_once_lose_nothing(tmp_path):
    root, writers, each = tmp_path / "shared", 8, 10
    start = time.time() + 15  # after the slowest interpreter has imported mechscope
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(w), str(each), str(start)],
                              stderr=subprocess.PIPE, text=True) for w in range(writers)]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * writers, errors
    store = Store(root)
    names = sorted(e.name for e in store.entries())
    assert names == sorted(f"w{w}-{i}" for w in range(writers) for i in range(each))
    report = check_store(store)
    assert report["clean"] and report["entries"] == writers * each
    con = sqlite3.connect(store.db_path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


@pytest.mark.parametrize("content", [b"", b"SQLite format 3\x00" + bytes(100), os.urandom(4096)])
def test_a_damaged_database_file_is_a_problem_not_a_crash(tmp_path, content):
    store = Store(tmp_path / "s")
    store.root.mkdir()
    store.db_path.write_bytes(content)
    report = check_store(store)
    if content:
        assert not report["clean"] and report["problems"][0]["entry"] == str(store.db_path)
