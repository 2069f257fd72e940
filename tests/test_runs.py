"""The run layer: registry records, spec hashes, execute with provenance, executors that agree, sweeps that resume."""

import json
import os
import subprocess
import sys

import pytest

from mechscope.runs import RunSpec, execute, get_method, methods, run_sweep
from mechscope.runs.execute import find_run
from mechscope.runs.executors import InProcess, LocalPool
from mechscope.runs.registry import ParameterError
from mechscope.runs.sweep import grid
from mechscope.store import Store

TINY = "random:gpt2-tiny"


def spec(method="eap", **params):
    return RunSpec("discover", method, TINY, "ioi", n=8, params={"curve": False, **params})


def test_every_discovery_method_is_one_record_with_typed_parameters():
    names = [m.name for m in methods("discover")]
    assert names == ["eap", "eap-ig", "exact", "acdc", "node", "edge-pruning", "eap-ig-bootstrap", "marginal-gain"]
    described = {p["name"]: p for p in get_method("discover", "eap-ig").describe()["params"]}
    assert described["steps"]["default"] == 5 and described["steps"]["minimum"] == 1
    assert described["selection"]["choices"] == ["top", "signed", "greedy"]
    assert "edges" not in {p["name"] for p in get_method("discover", "acdc").describe()["params"]}


@pytest.mark.parametrize("method, params, param, words", [
    ("eap-ig", {"steps": 0}, "steps", "greater than or equal to 1; got 0"),
    ("eap", {"edges": -5}, "edges", "got -5"),
    ("eap", {"stesp": 3}, "stesp", "is not taken"),
    ("eap", {"edges": 5, "threshold": 0.1}, "threshold", "cannot be given with edges"),
    ("acdc", {"edges": 5}, "edges", "is not taken"),
    ("eap", {"selection": "best"}, "selection", "'top', 'signed' or 'greedy'"),
])
def test_parameter_errors_name_the_parameter_not_a_flag(method, params, param, words):
    with pytest.raises(ParameterError) as info:
        get_method("discover", method).validate(params)
    assert info.value.param == param and words in str(info.value) and "--" not in str(info.value)


def test_an_unknown_method_is_named_with_the_closest():
    with pytest.raises(ParameterError, match="did you mean 'eap-ig'"):
        get_method("discover", "eapig")


def test_the_hash_is_of_the_normalized_spec_and_of_a_task_file(tmp_path):
    base = spec("eap-ig")
    assert base.hash() == spec("eap-ig", steps=5).hash() == RunSpec.from_dict(json.loads(json.dumps(
        base.to_dict()))).hash()
    assert len({base.hash(), spec("eap-ig", steps=4).hash(), spec("eap").hash(),
                RunSpec("discover", "eap-ig", TINY, "ioi", n=8, params={"curve": False}, seed=1).hash()}) == 4
    task = tmp_path / "t.jsonl"
    task.write_text(json.dumps({"clean": "When Mary and John went, John gave it to", "corrupt":
                                "When Mary and John went, Anne gave it to", "answers": [" Mary"],
                                "wrong_answers": [" John"]}) + "\n")
    before = RunSpec("discover", "eap", TINY, str(task)).hash()
    task.write_text(task.read_text().replace("Mary", "Kate"))
    assert RunSpec("discover", "eap", TINY, str(task)).hash() != before


def test_execute_equals_the_discovery_api_and_records_its_provenance(tmp_path):
    from mechscope.discover import circuit_from_scores, score_edges
    from mechscope.graph import Graph
    from mechscope.models import load
    from mechscope.tasks import load_task

    store = Store(tmp_path)
    s = spec("eap-ig", steps=3, edges=12, selection="signed")
    result = execute(s, store=store)
    # the same science called directly
    graph, task = Graph.from_model(load(TINY)), load_task("ioi", n=8)
    scores = score_edges(graph, task.split("train"), "eap-ig", steps=3)
    direct = circuit_from_scores(graph, task, scores, "eap-ig", edges=12, selection="signed", curve=False, steps=3)
    circuit, _ = result.value
    assert circuit.edges == direct.edges
    assert result.row["faithfulness"] == pytest.approx(direct.evaluation.faithfulness, abs=1e-6)
    entry = find_run(store, s)
    assert entry.name == result.row["name"] and entry.params["run_hash"] == s.hash() == result.hash
    assert entry.params["run"]["params"]["steps"] == 3 and entry.params["run"]["params"]["ablation"] == "resample"
    again = execute(s, store=store, skip_recorded=True)
    assert again.skipped and again.row["name"] == result.row["name"] and len(store.entries("circuit")) == 1


def test_a_run_without_a_size_keeps_the_smallest_curve_point_reaching_0_8(tmp_path):
    result = execute(RunSpec("discover", "eap", TINY, "ioi", n=8), store=Store(tmp_path))
    circuit, _ = result.value
    reaching = [p for p in circuit.evaluation.curve if p["faithfulness"] >= 0.8 and p["edges"] > 0]
    expected = min(p["edges"] for p in reaching) if reaching else max(circuit.evaluation.curve,
                                                                      key=lambda p: p["faithfulness"])["edges"]
    assert circuit.params["edges"] == expected


def test_a_run_without_a_size_is_the_circuit_the_old_two_runner_path_chose(monkeypatch):
    """The run layer takes discover's choice from the curve with one runner; the circuit and its faithfulness
    are those of the former path (a first circuit at 1% of the edges with its curve, then the chosen size
    evaluated again with a second runner), written out here."""
    import mechscope.discover as discover
    from mechscope.discover import PatchedRunner, circuit_from_scores
    from mechscope.graph import Graph
    from mechscope.models import load
    from mechscope.runs.execute import compute
    from mechscope.tasks import load_task

    built = []

    class Counted(PatchedRunner):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(discover, "PatchedRunner", Counted)
        circuit, scores = compute(RunSpec("discover", "eap", TINY, "ioi", n=8))
    assert len(built) == 1  # one runner: the curve's; the chosen circuit is a point of it
    graph, task = Graph.from_model(load(TINY)), load_task("ioi", n=8)
    first = circuit_from_scores(graph, task, scores, "eap", edges=max(1, round(0.01 * graph.n_edges)))
    reaching = [p["edges"] for p in first.evaluation.curve if p["faithfulness"] >= 0.8 and p["edges"] > 0]
    chosen = min(reaching) if reaching else max((p for p in first.evaluation.curve if p["edges"] > 0),
                                                key=lambda p: p["faithfulness"])["edges"]
    old = circuit_from_scores(graph, task, scores, "eap", edges=chosen, curve=False)
    assert circuit.edges.keys() == old.edges.keys()
    assert all(abs(circuit.edges[e] - old.edges[e]) <= 1e-6 for e in old.edges)
    assert circuit.evaluation.faithfulness == pytest.approx(old.evaluation.faithfulness, abs=1e-6)
    assert circuit.evaluation.spread["median"] == pytest.approx(old.evaluation.spread["median"], abs=1e-6)
    assert [p["edges"] for p in circuit.evaluation.curve] == [p["edges"] for p in first.evaluation.curve]
    assert all(abs(a["faithfulness"] - b["faithfulness"]) <= 1e-6 for a, b in zip(circuit.evaluation.curve, first.evaluation.curve))
    assert circuit.evaluation.areas == pytest.approx(first.evaluation.areas, abs=1e-6)
    assert circuit.params["edges"] == chosen and circuit.params["size"]["edges"] == chosen


@pytest.mark.parametrize("method, units", [("node", "n_sources"), ("eap", "n_train"), ("exact", "n_edges")])
def test_progress_counts_the_methods_own_work_units(method, units):
    from mechscope.graph import Graph
    from mechscope.models import load
    from mechscope.runs.execute import compute
    from mechscope.tasks import load_task

    graph = Graph.from_model(load(TINY))
    expected = {"n_sources": graph.n_sources, "n_edges": graph.n_edges,
                "n_train": len(load_task("ioi", n=8).split("train"))}[units]
    seen = []
    compute(spec(method, edges=5), lambda done, total, message: seen.append((done, total, message)))
    scoring = [(d, t) for d, t, m in seen if m.startswith(method)]
    assert {t for _, t in scoring} == {expected} and scoring[-1][0] == expected
    assert [d for d, _ in scoring] == sorted(d for d, _ in scoring)


def test_a_sweep_grid_applies_each_parameter_to_the_methods_that_take_it():
    cells = grid([TINY], ["ioi", "induction"], ["eap", "eap-ig"], {"steps": [2, 3], "edges": [10]}, [0, 1], n=8)
    assert len(cells) == 2 * (1 + 2) * 2
    assert all("steps" not in c.params for c in cells if c.method == "eap")
    with pytest.raises(ParameterError, match="taken by none of the methods"):
        grid([TINY], ["ioi"], ["eap"], {"steps": [2]})


def test_executors_agree_and_a_sweep_resumes(tmp_path):
    cells = grid([TINY, "random:llama-tiny"], ["ioi"], ["eap"], {"edges": [10], "curve": [False]}, [0], n=8)
    here = run_sweep(cells, InProcess(), Store(tmp_path / "a"))
    pool = run_sweep(cells, LocalPool(workers=2), Store(tmp_path / "b"))
    assert [r["status"] for r in here + pool] == ["done"] * 4
    for a, b in zip(here, pool):
        assert (a["hash"], a["edges_kept"], a["name"]) == (b["hash"], b["edges_kept"], b["name"])
        assert a["faithfulness"] == pytest.approx(b["faithfulness"], abs=1e-6)
    again = run_sweep(cells, InProcess(), Store(tmp_path / "a"))
    assert [r["status"] for r in again] == ["skipped"] * 2
    assert [r["faithfulness"] for r in again] == [r["faithfulness"] for r in here]


@pytest.mark.slow
def test_ray_gives_the_same_results(tmp_path):
    pytest.importorskip("ray")
    from mechscope.runs.executors import RayExecutor

    cells = grid([TINY], ["ioi", "induction"], ["eap", "eap-ig"], {"edges": [10], "curve": [False]}, [0], n=8)
    here = run_sweep(cells, InProcess(), Store(tmp_path / "a"))
    ray = run_sweep(cells, RayExecutor(workers=2), Store(tmp_path / "b"))
    for a, b in zip(here, ray):
        assert a["hash"] == b["hash"] and a["faithfulness"] == pytest.approx(b["faithfulness"], abs=1e-6)


def mechscope(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mechscope", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def test_the_cli_names_flags_and_a_second_sweep_skips_every_cell(tmp_path):
    env = {"MECHSCOPE_HOME": str(tmp_path / "store")}
    bad = mechscope("discover", "--model", TINY, "--method", "eap-ig", "--steps", "0", "--n", "4", env=env)
    assert bad.returncode == 2 and "--steps must be greater than or equal to 1; got 0" in bad.stderr
    assert "Traceback" not in bad.stderr
    wrong = mechscope("discover", "--model", TINY, "--method", "acdc", "--edges", "5", "--n", "4", env=env)
    assert wrong.returncode == 2 and "--edges is not an option of discover method acdc" in wrong.stderr
    args = ("sweep", "--models", TINY, "--tasks", "ioi", "--methods", "eap,eap-ig", "--n", "8", "-p", "edges=10",
            "-p", "curve=false", "--out", str(tmp_path / "t.parquet"), "--json")
    first = mechscope(*args, env=env)
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["done"] == 2 and {r["method"] for r in doc["rows"]} == {"eap", "eap-ig"}
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "t.parquet").to_pylist()
    assert [r["name"] for r in table] == [r["name"] for r in doc["rows"]]
    second = json.loads(mechscope(*args, env=env).stdout)
    assert second["skipped"] == 2 and second["done"] == 0
    assert [r["faithfulness"] for r in second["rows"]] == [r["faithfulness"] for r in doc["rows"]]


def test_a_steering_run_fits_sweeps_and_records_like_the_steering_api(tmp_path):
    import torch

    from mechscope.models import load
    from mechscope.steer import SteeringFile, load_concept
    from mechscope.steer.vectors import DiffMean

    store = Store(tmp_path)
    s = RunSpec("steer", "diffmean", "random:llama-tiny", "wedding",
                params={"layers": "1", "n_sentences": 4, "strengths": [0, 2], "n_prompts": 1, "n_neutral": 2,
                        "max_new_tokens": 2})
    result = execute(s, store=store)
    entry = find_run(store, s)
    assert entry.kind == "steering" and entry.name == result.row["name"] and entry.params["run_hash"] == s.hash()
    sf = SteeringFile.load(store.path(entry) / "steering.safetensors")
    assert [r["strength"] for r in sf.manifest["evaluation"]["sweep"]] == [0.0, 2.0]
    c = load_concept("wedding")
    llama = load("random:llama-tiny")
    direct = DiffMean(layers="1").fit(llama, c.source[:4], c.target[:4])
    from mechscope.steer.evaluate import evaluate_prompting

    ev = sf.manifest["evaluation"]  # the baselines beside the sweep: prompting, and prompting plus steering
    kw = dict(lexicon=c.lexicon, max_new_tokens=2, seed=0)
    alone = evaluate_prompting(llama, c.instruction, c.prompts[:1], c.neutral[:2], **kw)
    assert ev["prompting"]["method"] == "prompting" and ev["prompting"]["delta_ppl"] == pytest.approx(
        alone["delta_ppl"], abs=1e-6)
    chosen = ev["chosen_strength"]
    if chosen:
        both = evaluate_prompting(llama, c.instruction, c.prompts[:1], c.neutral[:2], steering=direct,
                                  strength=chosen, **kw)
        assert ev["prompting_steering"]["method"] == "prompting+diffmean"
        assert ev["prompting_steering"]["kl"] == pytest.approx(both["kl"], abs=1e-5) and both["kl"] != alone["kl"]
    else:
        assert "prompting_steering" not in ev
    for site, state in direct.state_.items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                assert torch.allclose(sf.method.state_[site][key], value, atol=1e-6)


def test_a_zoo_model_builds_as_a_run(tmp_path, monkeypatch):
    monkeypatch.setenv("MECHSCOPE_CACHE", str(tmp_path))
    [(i, row, error)] = list(InProcess().compute([RunSpec("groundtruth", "build", "handbuilt-first")]))
    assert error is None and row["name"] == "handbuilt-first" and row["holds"] and row["true_edges"] > 0
    assert (tmp_path / "groundtruth" / "handbuilt-first" / "truth.json").exists()
    [(_, _, error)] = list(InProcess().compute([RunSpec("groundtruth", "build", "handbuilt-frist")]))
    assert "did you mean 'handbuilt-first'" in error
