"""`mechscope data map|augment`: the JSON documents, the files written, one-line errors with exit status 2."""

import json

import pytest


def test_map_json_has_the_issue_keys_and_writes_files(cli, tmp_path):
    code, out, err = cli("data", "map", "everyday.jsonl", "--reference", "everyday_reference.jsonl",
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


def test_augment_json_counts_and_output_rows(cli, tmp_path):
    out_path = tmp_path / "new.jsonl"
    code, out, err = cli("data", "augment", "everyday.jsonl", "--method", "interpolate", "--between", "0,30",
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
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, content, args, expected, error_line):
    path = tmp_path / ("p.csv" if content.startswith(b"prompt") else "p.txt")
    path.write_bytes(content)
    code, out, err = cli("data", "map", str(path), "--embed", "words", "--out", str(tmp_path / "m"), *args)
    assert code == 2 and out == ""
    assert expected in error_line(err)
    assert not (tmp_path / "m").exists()


def test_reference_from_another_space_is_one_line(cli, tmp_path, error_line):
    code, _, err = cli("data", "map", "everyday_reference.jsonl", "--embed", "words", "--out",
                             str(tmp_path / "ref"), "--json")
    assert code == 0, err
    code, _, err = cli("data", "map", "everyday.jsonl", "--reference", str(tmp_path / "ref" / "map.parquet"),
                             "--embed", "model:random:llama-tiny@1", "--out", str(tmp_path / "m"))
    assert code == 2 and "holds embeddings in space 'words'" in error_line(err)
