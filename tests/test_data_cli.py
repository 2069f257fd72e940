"""`mechscope data map|augment`: the JSON documents, the files written, one-line errors with exit status 2."""

import json
import sys

import pytest

from mechscope.__main__ import main


def mechscope(capsys, *args) -> tuple[int, str, str]:
    argv = sys.argv
    sys.argv = ["mechscope", "data", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_map_json_has_the_issue_keys_and_writes_files(capsys, tmp_path):
    code, out, err = mechscope(capsys, "map", "everyday.jsonl", "--reference", "everyday_reference.jsonl",
                               "--embed", "words", "--regions", "3", "--out", str(tmp_path / "m"), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["n"] == 168 and doc["n_reference"] == 104
    assert all({"id", "size", "label"} <= set(c) for c in doc["clusters"])
    assert len(doc["empty_regions"]) == 3
    assert all({"center_neighbors", "radius"} <= set(r) for r in doc["empty_regions"])
    assert doc["coverage"] == pytest.approx(1 - len(doc["uncovered"]) / 104, abs=1e-4)
    assert all(0 <= i < 104 for i in doc["uncovered"])
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"map.parquet", "map.json", "reference.parquet"}


def test_augment_json_counts_and_output_rows(capsys, tmp_path):
    out_path = tmp_path / "new.jsonl"
    code, out, err = mechscope(capsys, "augment", "everyday.jsonl", "--method", "interpolate", "--between", "0,30",
                               "--n", "2", "--generator", "random:llama-tiny", "--embed", "words",
                               "--max-candidates", "6", "--out", str(out_path), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["generated"] == 6 and doc["kept"] + sum(doc["rejected"].values()) == 6
    rows = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert len(rows) == doc["kept"]
    assert all({"text", "method", "source_ids"} <= set(r) and r["source_ids"] == [0, 30] for r in rows)


@pytest.mark.parametrize("content, args, expected", [
    (b"", [], "is empty"),
    (b"prompt\nhello\n", [], "no text column 'text' (columns: prompt); pass --text-column NAME"),
    ("caf\u00e9\n".encode("latin-1"), [], "is not UTF-8"),
    (b"one\ntwo\nthree\n", [], "a map needs at least 10"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, content, args, expected):
    path = tmp_path / ("p.csv" if content.startswith(b"prompt") else "p.txt")
    path.write_bytes(content)
    code, out, err = mechscope(capsys, "map", str(path), "--embed", "words", "--out", str(tmp_path / "m"), *args)
    assert code == 2 and out == ""
    assert expected in _error_line(err)
    assert not (tmp_path / "m").exists()


def test_reference_from_another_space_is_one_line(capsys, tmp_path):
    code, _, err = mechscope(capsys, "map", "everyday_reference.jsonl", "--embed", "words", "--out",
                             str(tmp_path / "ref"), "--json")
    assert code == 0, err
    code, _, err = mechscope(capsys, "map", "everyday.jsonl", "--reference", str(tmp_path / "ref" / "map.parquet"),
                             "--embed", "model:random:llama-tiny@1", "--out", str(tmp_path / "m"))
    assert code == 2 and "holds embeddings in space 'words'" in _error_line(err)
