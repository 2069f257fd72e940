"""`mechscope version`, `mechscope compare` and `mechscope store` on a tiny model, in process."""

import json
import sys
import zipfile

import pytest
from typer.testing import CliRunner

from mechscope.__main__ import app, main


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MECHSCOPE_HOME", str(tmp_path / "store"))
    return tmp_path


def run(*args):
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_make_list_compare_export_remove(home):
    made = json.loads(run("version", "make", "--base", "random:llama-tiny", "--quantize", "q8_0", "--name", "tiny-q8",
                          "--json"))
    assert made["operation"] == "quantize" and made["metrics"]["size_bytes"] < made["metrics"]["base_size_bytes"]
    run("version", "make", "--base", "tiny-q8", "--prune", "2:4", "--name", "tiny-q8-24", "--modules", "*mlp*")
    listed = json.loads(run("version", "list", "--json"))
    assert [v["lineage"] for v in listed] == [["random:llama-tiny", "tiny-q8"],
                                               ["random:llama-tiny", "tiny-q8", "tiny-q8-24"]]
    assert all({"created", "mechscope_version", "params", "metrics", "base"} <= set(v) for v in listed)

    doc = json.loads(run("compare", "random:llama-tiny", "tiny-q8-24", "--task", "ioi", "--n", "6",
                         "--circuits", "base", "--circuit-method", "eap", "--circuit-edges", "10", "--no-latency",
                         "--out", str(home / "cmp.json"), "--json"))
    assert [r["name"] for r in doc["versions"]] == ["tiny-q8-24"]
    for r in doc["versions"]:
        for key in ("name", "operation", "size_bytes", "task_metric", "top1_agreement", "kl", "layer_similarity",
                    "circuit_faithfulness_of_base", "circuit_jaccard"):
            assert key in r
        assert len(r["layer_similarity"]) == 2 and r["circuit_faithfulness_of_base"] is not None
    assert json.loads((home / "cmp.json").read_text())["versions"] == doc["versions"]

    kinds = sorted(e["kind"] for e in json.loads(run("store", "list", "--json")))
    assert kinds == ["circuit", "comparison", "version", "version"]
    run("store", "export", "--out", str(home / "all.zip"))
    with zipfile.ZipFile(home / "all.zip") as z:
        assert any(n.endswith("examples.parquet") for n in z.namelist())
    with pytest.raises(Exception, match="is the base of tiny-q8-24"):
        CliRunner().invoke(app, ["version", "rm", "tiny-q8"], catch_exceptions=False)
    run("version", "rm", "tiny-q8-24")
    run("version", "rm", "tiny-q8")
    assert json.loads(run("version", "list", "--json")) == []


@pytest.mark.parametrize("args, words", [
    (["compare", "random:llama-tiny", "no-such-version", "--task", "ioi"], "no version named 'no-such-version'"),
    (["version", "make", "--base", "random:llama-tiny", "--name", "x"], "give exactly one of"),
    (["version", "make", "--base", "random:llama-tiny", "--prune", "half", "--name", "x"], "is not understood"),
])
def test_bad_input_is_one_line_and_exit_2(home, monkeypatch, capsys, args, words):
    monkeypatch.setattr(sys, "argv", ["mechscope", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    assert exit_info.value.code == 2 and captured.out == ""
    lines = [line for line in captured.err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], captured.err


@pytest.mark.slow  # generation with and without steering on the base and a version: about a minute on 2 cores
def test_compare_with_a_steering_file(home):
    import mechscope as ms
    from mechscope.steer import SteeringFile, load_concept
    from mechscope.steer.vectors import DiffMean

    c = load_concept("wedding")
    model = ms.load("random:llama-tiny")
    steering = DiffMean(layers="1").fit(model, c.source[:4], c.target[:4])
    SteeringFile.from_method(steering, concept="wedding", lexicon=c.lexicon).save(home / "wedding.safetensors")
    run("version", "make", "--base", "random:llama-tiny", "--quantize", "int8", "--name", "tiny-i8")
    doc = json.loads(run("compare", "random:llama-tiny", "tiny-i8", "--task", "ioi", "--n", "4", "--circuits", "none",
                         "--no-latency", "--no-record", "--steer", str(home / "wedding.safetensors"), "--json"))
    for s in (doc["base"]["steering"], doc["versions"][0]["steering"]):
        assert {"effect", "unsteered_effect", "delta_ppl", "kl", "top1_agreement", "strength"} <= set(s)
        assert s["method"] == "diffmean"
