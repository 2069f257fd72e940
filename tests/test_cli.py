"""The command line: --json prints one JSON document; bad input is one line and exit 2."""

import json
import os
import subprocess
import sys

import pytest


def mechscope(*args, check_rc=None, env=None):
    res = subprocess.run([sys.executable, "-m", "mechscope", *args], capture_output=True, text=True,
                         timeout=600, env={**os.environ, **(env or {})})
    if check_rc is not None:
        assert res.returncode == check_rc, res.stderr
    return res


def test_help_lists_every_command():
    out = mechscope("--help", check_rc=0).stdout
    for cmd in ("demo", "verify", "graph", "task"):
        assert cmd in out


def test_help_lists_serve_once_and_the_demo_ends_with_the_app_url(monkeypatch):
    # the CLI never imports the web app; the entry point adds `serve` and the demo's closing pointer
    from typer.testing import CliRunner

    import mechscope.__main__ as entry
    from mechscope.cli import demo as demo_module

    assert mechscope("--help", check_rc=0).stdout.count(" serve ") == 1
    monkeypatch.setattr(demo_module, "run_demo", lambda model, json_out, **kw: {"store": "/tmp/demo-store"})
    shown = CliRunner().invoke(entry.app, ["demo", "--model", "random:gpt2-tiny"])
    assert shown.exit_code == 0, shown.output
    assert "experiment store (/tmp/demo-store)" in shown.output and "http://127.0.0.1:8765/?token=" in shown.output
    quiet = CliRunner().invoke(entry.app, ["demo", "--model", "random:gpt2-tiny", "--json"])
    assert quiet.exit_code == 0 and quiet.output == ""


def test_graph_json_counts_gpt2_small_edges_like_eap_ig():
    doc = json.loads(mechscope("graph", "random:gpt2-small", "--json", check_rc=0).stdout)
    assert doc["n_edges"] == 32491
    assert doc["edges"] == {"q": 10440, "k": 10440, "v": 10440, "mlp": 1014, "logits": 157}


def test_verify_json_on_tiny_model():
    doc = json.loads(mechscope("verify", "random:neox-tiny", "--json", check_rc=0).stdout)
    for key in ("model", "nodes", "edges", "max_abs_err_unpatched", "max_abs_err_all_patched", "max_abs_err_edge_patch"):
        assert key in doc
    assert doc["passed"] and max(doc[k] for k in doc if k.startswith("max_abs_err")) <= 1e-4


def test_task_show_json_has_accuracy():
    doc = json.loads(mechscope("task", "show", "induction", "--model", "random:gpt2-tiny", "--n", "8", "--json", check_rc=0).stdout)
    assert doc["size"] == 8 and 0.0 <= doc["accuracy"] <= 1.0
    assert {"clean_metric", "corrupt_metric", "top1_accuracy"} <= set(doc)


@pytest.mark.parametrize(
    "args, words",
    [
        (("graph", "random:foo-tiny"), "unknown random model"),
        (("graph", "nonsense"), "unknown model spec"),
        (("graph", "hf:no-such/model-here"), "never downloads"),
        (("task", "show", "ioii", "--model", "random:gpt2-tiny"), "ioi"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, words):
    res = mechscope(*args)
    assert res.returncode == 2
    lines = [line for line in res.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in res.stderr
    assert res.stdout == ""


def test_empty_task_file_is_one_line(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    res = mechscope("task", "show", str(empty), "--model", "random:gpt2-tiny")
    assert res.returncode == 2 and "empty" in res.stderr.lower() and "Traceback" not in res.stderr


def test_discover_json_and_evaluate_round_trip(tmp_path):
    path = tmp_path / "ioi.json"
    doc = json.loads(mechscope("discover", "--model", "random:gpt2-tiny", "--task", "ioi", "--n", "10",
                               "--method", "eap", "--edges", "30", "--out", str(path), "--json", check_rc=0).stdout)
    for key in ("method", "edges_total", "edges_kept", "faithfulness", "curve", "seconds"):
        assert key in doc
    assert doc["edges_total"] == 110 and 0 < doc["edges_kept"] <= 30
    assert all(set(p) == {"edges", "faithfulness"} for p in doc["curve"])
    assert path.exists() and path.with_suffix(".svg").exists() and path.with_suffix(".png").exists()
    again = json.loads(mechscope("evaluate", str(path), "--json", check_rc=0).stdout)
    assert again["faithfulness"] == pytest.approx(doc["faithfulness"], abs=1e-6)
    assert len(doc["spread"]["values"]) == doc["spread"]["n"]


def test_discover_records_the_circuit_and_every_edge_score(tmp_path):
    from safetensors.torch import load_file

    from mechscope.discover import Circuit
    from mechscope.store import Store

    home = tmp_path / "store"
    doc = json.loads(mechscope("discover", "--model", "random:gpt2-tiny", "--task", "ioi", "--n", "10",
                               "--method", "eap", "--edges", "20", "--no-curve", "--name", "ioi-eap", "--json",
                               check_rc=0, env={"MECHSCOPE_HOME": str(home)}).stdout)
    assert doc["record"]["name"] == "ioi-eap"
    store = Store(home)
    entry = store.find("circuit", "ioi-eap")
    circuit = Circuit.load(store.path(entry) / "circuit.json")
    scores = load_file(store.path(entry) / "scores.safetensors")
    assert sum(v.numel() for v in scores.values()) == doc["edges_total"] == 110
    assert circuit.evaluation.faithfulness == pytest.approx(doc["faithfulness"]) and entry.metrics["edges"] == len(circuit.edges)
    # the circuit's edges carry the same scores as the full score tensors
    from mechscope.graph import Graph
    from mechscope.models import load

    graph = Graph.from_model(load("random:gpt2-tiny"))
    for name, score in circuit.edges.items():
        e = graph.edge(name)
        assert float(scores[e.group][e.row, e.col]) == pytest.approx(score)


def test_discover_unknown_method_is_one_line():
    res = mechscope("discover", "--model", "random:gpt2-tiny", "--method", "eapig", "--edges", "5", "--n", "4")
    assert res.returncode == 2 and "did you mean" in res.stderr and "Traceback" not in res.stderr
