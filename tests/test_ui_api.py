"""The web app's JSON API (in process, FastAPI's test client), its jobs run in process, and `mechscope serve`'s
command line: tokens, one-line errors, the printed URL."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from test_ui_store import ui_store

TOKEN = "test-token-123"


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    return ui_store(tmp_path_factory)


@pytest.fixture(scope="module")
def client(store_root):
    from mechscope.ui.app import create_app

    return TestClient(create_app(store_root, token=TOKEN),
                      headers={"X-Mechscope-Token": TOKEN}, base_url="http://127.0.0.1")


def test_every_request_needs_the_token(store_root):
    from mechscope.ui.app import create_app

    bare = TestClient(create_app(store_root, token=TOKEN), base_url="http://127.0.0.1")
    assert bare.get("/api/store").status_code == 403
    assert bare.get("/api/store", headers={"X-Mechscope-Token": "wrong-token"}).status_code == 403
    page = bare.get("/")
    assert page.status_code == 403 and "needs the token" in page.text
    assert bare.get(f"/?token={TOKEN}").status_code == 200 and "assets/app.js" in bare.get(f"/?token={TOKEN}").text
    assert bare.get(f"/api/store?token={TOKEN}").status_code == 200


def test_unknown_names_are_one_line_404s(client):
    for path, words in [("/api/circuits/ioi-eapp", "did you mean 'ioi-eap'"),
                        ("/api/steering/nothing", "no steering named 'nothing'"),
                        ("/api/comparisons/cmp", "no comparison named 'cmp'"),
                        ("/api/entries/version/tiny-q9", "did you mean 'tiny-q8'"),
                        ("/api/entries/versions/tiny-q8", "unknown kind 'versions'"),
                        ("/api/entries/version/tiny-q8/files/%2E%2E/%2E%2E/%2E%2E/store.sqlite", "has no file"),
                        ("/api/jobs/123", "no job '123'"),
                        ("/api/nothing-here", "no API endpoint")]:
        r = client.get(path)
        assert r.status_code in (400, 404), (path, r.status_code)
        message = r.json()["error"]
        assert words in message and "\n" not in message, (path, message)


def test_an_empty_store_lists_nothing(tmp_path):
    from mechscope.ui.app import create_app

    empty = TestClient(create_app(tmp_path / "empty", token=TOKEN),
                      headers={"X-Mechscope-Token": TOKEN}, base_url="http://127.0.0.1")
    doc = empty.get("/api/store").json()
    assert doc["entries"] == [] and doc["tree"] == []
    assert "the store at" in empty.get("/api/circuits/x").json()["error"]


def test_files_of_an_entry_are_served(client, store_root):
    from mechscope.store import Store

    doc = client.get("/api/entries/version/tiny-q8").json()
    names = {f["name"] for f in doc["files"]}
    assert names == {"manifest.json", "weights.safetensors"}
    assert doc["documents"]["manifest.json"]["name"] == "tiny-q8"
    store = Store(store_root)
    raw = client.get("/api/entries/version/tiny-q8/files/weights.safetensors").content
    assert raw == (store.path(store.get("version", "tiny-q8")) / "weights.safetensors").read_bytes()


def test_the_circuit_endpoint_matches_select_at_every_size(client, store_root):
    """At each slider position the edges alive are exactly `select` on the recorded scores."""
    import mechscope as ms
    from mechscope.discover import Circuit
    from mechscope.discover.faithfulness import select
    from mechscope.store import Store
    from mechscope.ui.circuit_data import alive_at, load_scores

    store = Store(store_root)
    folder = store.path(store.get("circuit", "ioi-eap"))
    circuit, scores = Circuit.load(folder / "circuit.json"), load_scores(folder / "scores.safetensors")
    graph = ms.Graph.from_model(ms.load(circuit.model_spec))
    view = client.get("/api/circuits/ioi-eap").json()
    for pos in range(0, len(view["sizes"]), 7):
        kept = select(graph, scores, edges=view["sizes"][pos], selection="top")
        expected = {graph.edge_at(g, r, c).name for g, k in kept.items() for r, c in k.nonzero().tolist()}
        assert {e["name"] for e in view["edges"] if alive_at(e, pos)} == expected


def test_the_circuit_diff_counts_the_edges_of_both(client, store_root):
    from mechscope.discover import Circuit
    from mechscope.store import Store

    store = Store(store_root)
    a, b = (set(Circuit.load(store.path(store.get("circuit", n)) / "circuit.json").edges) for n in ("ioi-eap",
                                                                                                    "ioi-eap-ig"))
    diff = client.get("/api/circuits/ioi-eap/diff/ioi-eap-ig").json()
    assert (diff["both"], diff["only_a"], diff["only_b"]) == (len(a & b), len(a - b), len(b - a))
    assert diff["jaccard"] == pytest.approx(len(a & b) / len(a | b))
    assert {e["name"] for e in diff["edges"] if e["side"] == "b"} == b - a


def test_jobs_record_their_results_and_report_progress(tmp_path, monkeypatch):
    """The worker's jobs, run in process: each calls mechscope's API and records in the store."""
    from mechscope.store import Store
    from mechscope.ui import worker

    monkeypatch.setenv("MECHSCOPE_HOME", str(tmp_path / "store"))
    reports = []

    def report(done, total, message):
        reports.append((done, total, message))

    result = worker.discover_job({"model": "random:gpt2-tiny", "task": "ioi", "method": "eap", "edges": "10",
                                  "n": "8", "name": "job-circuit"}, report)
    entry = Store().get("circuit", "job-circuit")
    assert result["name"] == "job-circuit" and entry.metrics["edges"] == result["edges_kept"]
    assert reports[-1][0] == reports[-1][1] and any("eap on ioi" in m for _, _, m in reports)

    result = worker.steer_fit_job({"model": "random:llama-tiny", "method": "diffmean", "concept": "wedding",
                                   "layers": "1", "n_sentences": 4, "evaluate": True, "strengths": ["0", "2"],
                                   "n_prompts": 1, "n_neutral": 2, "max_new_tokens": 2, "name": "job-steer"}, report)
    folder = Store().path(Store().get("steering", "job-steer"))
    assert (folder / "steering.safetensors").exists() and result["kind"] == "steering"
    assert [r["strength"] for r in __import__("json").loads((folder / "manifest.json").read_text())
            ["evaluation"]["sweep"]] == [0.0, 2.0]

    with pytest.raises(Exception, match="at least one version"):
        worker.compare_job({"base": "random:llama-tiny", "versions": []}, report)
    with pytest.raises(Exception, match="no steering named"):
        worker.generate_job({"steering": "nope", "prompts": ["Hi"]}, report)


def test_the_worker_speaks_one_line_errors_on_its_protocol():
    out = subprocess.run([sys.executable, "-m", "mechscope.ui.worker", "discover", '{"edges": "many"}'],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and len(out.stdout.strip().splitlines()) == 1
    error = json.loads(out.stdout)["error"]
    assert error.startswith("parameter 'edges' of discover method eap-ig must be a valid integer") and "'many'" in error


def _serve(capsys, monkeypatch, *args):
    from mechscope.__main__ import main

    monkeypatch.setattr(sys, "argv", ["mechscope", "serve", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_serve_prints_its_url_and_refuses_bad_input_in_one_line(capsys, monkeypatch):
    code, out, _ = _serve(capsys, monkeypatch, "--print-url", "--token", "abcdefgh12", "--port", "9001")
    assert code == 0 and out.strip() == "http://127.0.0.1:9001/?token=abcdefgh12"
    code, out, err = _serve(capsys, monkeypatch, "--token", "no spaces", "--print-url")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--token must be" in err
    from mechscope.ui.server import bind

    taken = bind("127.0.0.1", 0)
    try:
        code, out, err = _serve(capsys, monkeypatch, "--port", str(taken.getsockname()[1]))
    finally:
        taken.close()
    assert code == 2 and "is in use; pass another --port" in err and len(err.strip().splitlines()) == 1


def test_serve_binds_loopback_unless_told_and_then_warns(capsys, monkeypatch):
    import mechscope.ui.server as server

    calls = []
    monkeypatch.setattr(server, "run", lambda store, host, port, token, announce: calls.append((host, port)))
    code, _, err = _serve(capsys, monkeypatch, "--port", "0")
    assert code == 0 and calls[-1] == ("127.0.0.1", 0) and "warning" not in err
    code, _, err = _serve(capsys, monkeypatch, "--port", "0", "--host", "0.0.0.0")
    assert code == 0 and calls[-1] == ("0.0.0.0", 0) and "warning: binding 0.0.0.0" in err


def test_importing_mechscope_stays_light_and_show_is_lazy():
    code = ("import sys, mechscope; assert 'mechscope.ui' not in sys.modules and 'fastapi' not in sys.modules; "
            "assert callable(mechscope.show); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


def test_the_job_forms_are_built_from_the_method_registry(client):
    from mechscope.runs import methods

    doc = client.get("/api/methods").json()
    assert [m["name"] for m in doc["kinds"]["discover"]] == [m.name for m in methods("discover")]
    eap_ig = next(m for m in doc["kinds"]["discover"] if m["name"] == "eap-ig")
    steps = next(p for p in eap_ig["params"] if p["name"] == "steps")
    assert (steps["type"], steps["default"], steps["minimum"]) == ("int", 5, 1)
    assert "ioi" in doc["tasks"]


def test_sweep_tables_are_served_from_the_store(tmp_path):
    from mechscope.runs import run_sweep
    from mechscope.runs.executors import InProcess
    from mechscope.runs.sweep import grid, write_table
    from mechscope.runs.sweep import sweeps_dir
    from mechscope.store import Store
    from mechscope.ui.app import create_app

    store = Store(tmp_path)
    rows = run_sweep(grid(["random:gpt2-tiny"], ["ioi"], ["eap"], {"edges": [10], "curve": [False]}, [0], n=8),
                     InProcess(), store)
    write_table(rows, sweeps_dir(store) / "s1.parquet")
    client = TestClient(create_app(tmp_path, token=TOKEN), headers={"X-Mechscope-Token": TOKEN},
                        base_url="http://127.0.0.1")
    assert [(s["name"], s["cells"], s["done"]) for s in client.get("/api/sweeps").json()["sweeps"]] == [("s1", 1, 1)]
    served = client.get("/api/sweeps/s1").json()["rows"]
    assert served[0]["faithfulness"] == pytest.approx(rows[0]["faithfulness"]) and served[0]["name"] == rows[0]["name"]
    missing = client.get("/api/sweeps/s2")
    assert missing.status_code == 404 and missing.json()["error"] == "no sweep named 's2'; the store has s1"
