"""A store of real results from tiny models, made once per test session for the web app's tests, and the
checks that the app's data functions report exactly what the store holds.

`ui_store()` (imported by the other test_ui_* modules) fills a folder with: two circuits of IOI on
random:gpt2-tiny (eap and eap-ig, every edge score recorded), a DiffMean steering file fitted on
random:llama-tiny with a strength sweep, three versions of random:llama-tiny (one a version of a
version) and a comparison of two of them with the base, with circuits.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _build(root: Path) -> None:
    import mechscope as ms
    from mechscope import compare
    from mechscope.discover import circuit_from_scores, score_edges
    from mechscope.steer import SteeringFile, evaluate_steering, load_concept
    from mechscope.steer.vectors import DiffMean
    from mechscope.store import (
        Store, load_model, load_version, record_circuit, record_steering, save_comparison, save_version,
    )
    from mechscope.store.records import cached_finder

    store = Store(root)
    gpt2 = ms.load("random:gpt2-tiny")
    graph = ms.Graph.from_model(gpt2)
    task = ms.load_task("ioi", n=16)
    for method, params in (("eap", {}), ("eap-ig", {"steps": 2})):
        scores = score_edges(graph, task.split("train"), method, **params)
        circuit = circuit_from_scores(graph, task, scores, method, edges=24, curve=method == "eap", **params)
        record_circuit(store, circuit, scores, name=f"ioi-{method}")

    llama = ms.load("random:llama-tiny")
    concept = load_concept("wedding")
    steering = DiffMean(layers="1").fit(llama, concept.source[:8], concept.target[:8])
    # scored by toxicity: a random model never writes a wedding word, but every text has a toxicity probability
    sf = SteeringFile.from_method(steering, concept="wedding", lexicon=concept.lexicon, scorer="toxicity")
    evaluation = evaluate_steering(llama, sf, concept.prompts[:2], concept.neutral[:4], strengths=[0, 1, 2, 4],
                                   scorer="toxicity", lexicon=concept.lexicon, max_new_tokens=4, max_ppl_rise=0.05)
    sf.manifest["evaluation"] = {k: v for k, v in evaluation.items() if k not in ("unsteered", "chosen")}
    if evaluation["chosen_strength"] is not None:
        sf.manifest["default_strength"] = evaluation["chosen_strength"]
    path = root.parent / f"{root.name}-wedding.safetensors"
    sf.save(path)
    record_steering(store, path, name="wedding-diffmean", evaluation=evaluation)
    path.unlink()

    save_version(store, compare.make_version(llama, "tiny-q8", "quantize", {"type": "q8_0"},
                                             base="random:llama-tiny"), base_model=llama)
    save_version(store, compare.make_version(llama, "tiny-q4", "quantize", {"type": "q4_0"},
                                             base="random:llama-tiny"), base_model=llama)
    q8 = load_model(store, "tiny-q8")
    save_version(store, compare.make_version(q8, "tiny-q8-pruned", "prune", {"method": "magnitude", "sparsity": 0.5,
                                                                             "n_m": None, "modules": "*mlp*"}, base="tiny-q8"),
                 base_model=q8)
    circuits = compare.CircuitSettings(which="all", method="eap", edges=12, batch_size=8)
    settings = compare.Settings(batch_size=8, circuits=circuits, latency=False)
    baseline = compare.Baseline(ms.load("random:llama-tiny"), [ms.load_task("ioi", n=12)], settings,
                                name="random:llama-tiny", find=cached_finder(store, circuits))
    result = compare.compare(baseline, ((load_version(store, v), load_model(store, v))
                                        for v in ("tiny-q4", "tiny-q8-pruned")))
    save_comparison(store, result, name="cmp-tiny")


def ui_store_path(tmp_path_factory) -> Path:
    """Where the filled store is (or will be) in this session's temp folder."""
    return tmp_path_factory.getbasetemp() / "ui-store" / "store"


def ui_store(tmp_path_factory) -> Path:
    """The filled store's folder under the session's temp folder, built on first use (every test_ui module
    calls this; a marker file says the store is complete)."""
    root = ui_store_path(tmp_path_factory).parent
    if not (root / "complete").exists():
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        _build(root / "store")
        (root / "complete").write_text("ok")
    return root / "store"


@pytest.fixture(scope="session")
def store_root(tmp_path_factory):
    return ui_store(tmp_path_factory)


def test_the_circuit_view_at_the_recorded_size_is_the_recorded_circuit(store_root):
    from mechscope.discover import Circuit
    from mechscope.store import Store
    from mechscope.ui.circuit_data import alive_at, circuit_view

    store = Store(store_root)
    view = circuit_view(store, "ioi-eap")
    circuit = Circuit.load(store.path(store.get("circuit", "ioi-eap")) / "circuit.json")
    alive = {e["name"]: e["score"] for e in view["edges"] if alive_at(e, view["default_position"])}
    assert alive == pytest.approx(circuit.edges)
    assert view["sizes"][view["default_position"]] == 24 and view["complete"]
    assert view["circuit"]["faithfulness"] == circuit.evaluation.faithfulness
    assert view["circuit"]["spread"]["values"] == circuit.evaluation.spread["values"]
    # every curve point is a slider position, and the view's count after pruning is the curve's
    for point in circuit.evaluation.curve:
        if point["edges"]:
            assert view["after_pruning"][view["sizes"].index(point["edges"])] == point["edges_after_pruning"]
    # the largest size keeps every edge that survives pruning
    assert len([e for e in view["edges"] if alive_at(e, len(view["sizes"]) - 1)]) == view["after_pruning"][-1]


def test_runs_steering_and_comparison_views_report_the_store(store_root):
    from mechscope.store import Store
    from mechscope.ui.data import comparison_view, runs_view, steering_view

    store = Store(store_root)
    runs = runs_view(store)
    assert sorted(e["name"] for e in runs["entries"] if e["kind"] == "version") == [
        "tiny-q4", "tiny-q8", "tiny-q8-pruned"]
    (root,) = [t for t in runs["tree"] if t["name"] == "random:llama-tiny"]
    q8 = next(c for c in root["children"] if c["name"] == "tiny-q8")
    assert [c["name"] for c in q8["children"]] == ["tiny-q8-pruned"]
    assert {"kind": "comparison", "name": "cmp-tiny"} in root["artifacts"]

    steer = steering_view(store, "wedding-diffmean")
    assert [r["strength"] for r in steer["evaluation"]["sweep"]] == [0, 1, 2, 4]
    assert steer["manifest"]["method"] == "diffmean"

    cmp = comparison_view(store, "cmp-tiny")
    doc = json.loads((store.path(store.get("comparison", "cmp-tiny")) / "comparison.json").read_text())
    assert cmp["comparison"]["versions"] == doc["versions"]
    assert sum(r["flips"] for r in doc["versions"]) == len(cmp["flips"])
    assert all(f["prompt"] for f in cmp["flips"])
    assert set(cmp["circuits"]["ioi"]) == {"base", "tiny-q4", "tiny-q8-pruned"}
