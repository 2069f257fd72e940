"""The run kinds under `evaluate`, `test-circuit`, `bench groundtruth`, `version make` and `describe build`, and the
web app's circuit views: each run gives the numbers of the library call it wraps, and hypothesis-test seeds and
ground-truth cells agree between the in-process executor and a local process pool."""

import json

import pytest

import mechscope as ms
from mechscope.runs import RunSpec, execute, get_method
from mechscope.runs.executors import InProcess, LocalPool
from mechscope.runs.registry import ParameterError
from mechscope.store import Store

TINY = "random:gpt2-tiny"


@pytest.fixture(scope="module")
def circuit_file(tmp_path_factory):
    """A small eap circuit of ioi on the tiny GPT-2, saved as `mechscope discover --out` saves it."""
    from mechscope.discover import circuit_from_scores, score_edges

    graph = ms.Graph.from_model(ms.load(TINY))
    task = ms.load_task("ioi", n=16)
    scores = score_edges(graph, task.split("train"), "eap")
    circuit = circuit_from_scores(graph, task, scores, "eap", edges=12, curve=False)
    path = tmp_path_factory.mktemp("circuit") / "c.json"
    circuit.save(path)
    return path


def test_a_discovery_record_runs_the_function_discover_methods_holds(monkeypatch):
    import mechscope.discover

    seen = []
    monkeypatch.setitem(mechscope.discover.METHODS, "eap", lambda graph, enc, **p: seen.append(p) or "scores")
    assert get_method("discover", "eap").run("g", "enc", ablation="zero") == "scores"
    assert seen == [{"ablation": "zero"}]


def test_an_evaluate_run_is_evaluate_circuit_and_hashes_the_file(circuit_file, tmp_path):
    from mechscope.discover import Circuit, evaluate_circuit

    spec = RunSpec("evaluate", "circuit-faithfulness", TINY, params={"circuit": str(circuit_file), "split": "all"})
    result = execute(spec, store=Store(tmp_path / "store"))
    circuit = Circuit.load(circuit_file)
    direct = evaluate_circuit(ms.Graph.from_model(ms.load(TINY)), circuit, ms.load_task("ioi", n=16), split="all")
    assert result.value["faithfulness"] == pytest.approx(direct["faithfulness"], abs=1e-6)
    assert result.value["spread"]["values"] == pytest.approx(direct["spread"]["values"], abs=1e-6)
    assert result.row["run_hash"] == spec.hash() and result.row["kind"] == "evaluation"
    assert not (tmp_path / "store").exists()  # an evaluation is not kept in the store
    # the circuit file's bytes are part of the hash
    copy = tmp_path / "c.json"
    copy.write_text(circuit_file.read_text())
    moved = RunSpec("evaluate", "circuit-faithfulness", TINY, params={"circuit": str(copy), "split": "all"})
    before = moved.hash()
    doc = json.loads(copy.read_text())
    doc["edges"].popitem()
    copy.write_text(json.dumps(doc))
    assert moved.hash() != before


def test_hypothesis_parameters_are_checked_by_name():
    from mechscope.hypothesis import TESTS

    record = get_method("hypothesis", "circuit-tests")
    assert record.validate({"circuit": "c.json"}).tests == list(TESTS)
    with pytest.raises(ParameterError) as info:
        record.validate({"circuit": "c.json", "split": "dev"})
    assert info.value.param == "split" and "--" not in str(info.value)
    with pytest.raises(ParameterError, match="circuit' of hypothesis method circuit-tests is missing"):
        record.validate({})


def _test_spec(circuit_file, seed):
    return RunSpec("hypothesis", "circuit-tests", TINY, seed=seed,
                   params={"circuit": str(circuit_file), "tests": ["equivalence", "independence", "sufficiency"],
                           "n_random": 4, "n_permutations": 49})


@pytest.fixture
def zoo_cache(tmp_path, monkeypatch):
    """A zoo cache of its own holding handbuilt-first, beside this machine's cached models (a fresh worker process
    loads the random models' tokenizer from there instead of converting SmolLM2 again)."""
    from mechscope.models.loading import cache_dir

    real = cache_dir()
    for entry in (real.iterdir() if real.is_dir() else ()):
        if entry.name != "groundtruth":
            (tmp_path / entry.name).symlink_to(entry)
    monkeypatch.setenv("MECHSCOPE_CACHE", str(tmp_path))  # a pool's workers inherit it
    [(_, _, error)] = InProcess().compute([RunSpec("groundtruth", "build", "handbuilt-first")])
    assert error is None
    return tmp_path


def _cells(circuit_file):
    return [_test_spec(circuit_file, 0), _test_spec(circuit_file, 1),
            RunSpec("groundtruth", "recovery", "handbuilt-first", params={"discover_method": "eap"}),
            RunSpec("groundtruth", "recovery", "handbuilt-first", params={"discover_method": "eap-ig"})]


def test_test_seeds_and_zoo_cells_are_the_library_calls(circuit_file, zoo_cache):
    from mechscope.discover import Circuit
    from mechscope.hypothesis import test_circuit
    from mechscope.hypothesis.groundtruth.score import score_method
    from mechscope.hypothesis.groundtruth.zoo import load_zoo_model

    here = {i: (out, error) for i, out, error in InProcess().compute(_cells(circuit_file))}
    assert [error for _, error in here.values()] == [None] * 4
    model = ms.load(TINY)
    enc = ms.load_task("ioi", n=16).split("test").encode(model.tokenizer)
    for seed in (0, 1):  # a run's seed is the library's seed
        direct = test_circuit(ms.Graph.from_model(model), Circuit.load(circuit_file), enc, ("sufficiency",),
                              n_random=4, seed=seed)
        assert here[seed][0]["sufficiency"]["random_losses"] == pytest.approx(list(direct["sufficiency"].random_losses))
    assert here[0][0]["sufficiency"]["random_losses"] != here[1][0]["sufficiency"]["random_losses"]
    assert here[0][0]["circuit"]["seed"] == 0 and here[1][0]["circuit"]["n"] == len(enc)
    for i, method in ((2, "eap"), (3, "eap-ig")):
        row = score_method(load_zoo_model("handbuilt-first"), method)
        assert {k: v for k, v in here[i][0].items() if k != "seconds"} == {k: v for k, v in row.items() if k != "seconds"}


def test_test_seeds_and_zoo_cells_agree_in_process_and_in_a_pool(circuit_file, zoo_cache):
    cells = _cells(circuit_file)
    here = {i: out for i, out, error in InProcess().compute(cells) if error is None}
    pool = {i: (out, error) for i, out, error in LocalPool(workers=1).compute(cells)}
    assert sorted(here) == sorted(pool) == [0, 1, 2, 3] and all(e is None for _, e in pool.values()), pool
    for i in (0, 1):
        for name in ("equivalence", "independence", "sufficiency"):
            a, b = here[i][name], pool[i][0][name]
            assert a["p_value"] == pytest.approx(b["p_value"], abs=1e-6)
            assert a["statistic"] == pytest.approx(b["statistic"], abs=1e-6)
            assert a.get("random_losses") == pytest.approx(b.get("random_losses"), abs=1e-6)
    for i in (2, 3):
        a, b = dict(here[i]), dict(pool[i][0])
        a.pop("seconds"), b.pop("seconds")
        assert a == pytest.approx(b, abs=1e-6)


def test_a_version_run_is_make_version_recorded_with_its_provenance(tmp_path, monkeypatch):
    from mechscope.compare import make_version
    from mechscope.store.versions import load_version

    monkeypatch.setenv("MECHSCOPE_HOME", str(tmp_path))
    spec = RunSpec("version", "prune", "random:llama-tiny",
                   params={"name": "tiny-24", "sparsity": 0.5, "n_m": [2, 4], "modules": "*mlp*"})
    result = execute(spec)
    entry = Store().get("version", "tiny-24")
    assert result.row == {"kind": "version", "name": "tiny-24", "id": entry.id}
    assert entry.params["run_hash"] == spec.hash() and entry.params["run"]["method"] == "prune"
    direct = make_version(ms.load("random:llama-tiny"), "tiny-24", "prune",
                          {"method": "magnitude", "sparsity": 0.5, "n_m": [2, 4], "modules": "*mlp*"})
    made = load_version(Store(), "tiny-24")
    assert made.fingerprint == direct.fingerprint and made.params == direct.params
    assert entry.metrics["size_bytes"] < entry.metrics["base_size_bytes"]
    with pytest.raises(ParameterError, match="which a version already has") as info:
        execute(spec)
    assert info.value.param == "name"


def test_a_describe_build_run_is_build_benchmark(tmp_path):
    from mechscope.describe.bench import Benchmark, build_benchmark

    spec = RunSpec("describe", "find-functions", seed=3, params={"size": 1, "out": str(tmp_path / "run")})
    doc = execute(spec, store=Store(tmp_path / "store")).value
    direct = build_benchmark(seed=3, size=1, out=tmp_path / "direct")
    assert Benchmark.load(doc["path"]).items == direct.items
    assert sum(doc["categories"].values()) == len(direct.items) and doc["seed"] == 3


def test_the_slider_spans_are_select_at_each_size():
    from mechscope.discover import score_edges
    from mechscope.discover.faithfulness import select
    from mechscope.runs.views import size_spans

    graph = ms.Graph.from_model(ms.load(TINY))
    scores = score_edges(graph, ms.load_task("ioi", n=8), "eap")
    sizes = [1, 3, 10, 40]
    spans, after = size_spans(graph, scores, sizes, "signed")
    for pos, n in enumerate(sizes):
        kept = select(graph, scores, edges=n, selection="signed")
        alive = {key for key, s in spans.items() if any(a <= pos and (b is None or pos < b) for a, b in s)}
        expected = {(g, r, c) for g, k in kept.items() for r, c in k.nonzero().tolist()}
        assert alive == expected and after[pos] == len(expected)


def test_test_circuit_over_seeds_prints_one_document_per_seed(circuit_file):
    import typer
    from typer.testing import CliRunner

    from mechscope.cli.hypothesis import test_circuit_command

    app = typer.Typer()
    app.command("test-circuit")(test_circuit_command)
    app.command("other")(lambda: None)
    args = ["test-circuit", str(circuit_file), "--tests", "sufficiency", "--n-random", "4", "--json"]
    run = CliRunner().invoke(app, [*args, "--seeds", "2,0"])
    assert run.exit_code == 0, run.output
    docs = json.loads(run.stdout)
    assert [d["circuit"]["seed"] for d in docs] == [2, 0]
    for doc, seed in zip(docs, (2, 0)):
        one = json.loads(CliRunner().invoke(app, [*args, "--seed", str(seed)]).stdout)
        assert doc == one
    bad = CliRunner().invoke(app, [*args, "--seeds", "0,x"])
    assert isinstance(bad.exception, ms.MechscopeError) and "--seeds takes whole numbers" in str(bad.exception)
