"""MIB's submission formats: names, signs and grouped-query heads, export and import round trip."""

import json
from pathlib import Path

import pytest
import torch

import mechscope as ms
from mechscope.discover import mib
from mechscope.discover.circuit import kept_count, prune_to_paths, top_edges
from mechscope.errors import MechscopeError


@pytest.fixture(scope="module", params=["random:gpt2-tiny", "random:llama-tiny"])
def graph(request):
    return ms.Graph.from_model(ms.load(request.param))


def _scores(graph, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {g.name: torch.randn(g.shape, generator=gen) for g in graph.groups}


def _ungrouped_edge_count(graph):
    a = graph.adapter
    # EAP-IG's graph: every query head has its own q, k and v input
    n_forward = 1 + a.n_layers * (a.n_heads + 1)
    total = 0
    for layer in range(a.n_layers):
        upstream = 1 + layer * (a.n_heads + 1)
        total += 3 * a.n_heads * upstream + upstream + a.n_heads  # qkv of each head, the MLP (heads of its layer too)
    return total + n_forward


def test_edge_names_signs_and_counts(graph):
    scores = _scores(graph)
    doc = mib.to_mib(graph, scores)
    assert len(doc["edges"]) == _ungrouped_edge_count(graph)
    e = graph.edge("embed->a1.h2.q")
    assert doc["edges"]["input->a1.h2<q>"]["score"] == pytest.approx(-float(scores[e.group][e.row, e.col]))
    assert doc["edges"]["m0->logits"]["score"] == pytest.approx(-float(scores["logits"][0, graph.node("m0").index]))
    a = graph.adapter
    per_kv = a.n_heads // a.n_kv_heads
    # a grouped k edge is written once per query head of its group, with an equal share of the score
    kv = graph.edge(f"a0.h1->a1.{'h' if per_kv == 1 else 'kv'}0.k")
    heads = [doc["edges"][f"a0.h1->a1.h{h}<k>"]["score"] for h in range(per_kv)]
    assert sum(heads) == pytest.approx(-float(scores[kv.group][kv.row, kv.col]))
    assert all(json.loads(json.dumps(doc))["edges"][k] == v for k, v in list(doc["edges"].items())[:5])


def test_round_trip_scores_and_circuit(graph, tmp_path):
    scores = _scores(graph, 1)
    kept = prune_to_paths(graph, top_edges(scores, 30, signed=True))
    path = mib.save_mib(mib.to_mib(graph, scores, kept), tmp_path / "c.json")
    back, kept_back = mib.load_mib(graph, path)
    for k in scores:
        torch.testing.assert_close(back[k], scores[k], atol=1e-6, rtol=1e-6)
        assert torch.equal(kept_back[k], kept[k])
    doc = json.loads(path.read_text())
    # a node is in the graph exactly when one of its edges is
    used = {n for name, e in doc["edges"].items() if e["in_graph"] for n in name.replace("<", "->").split("->")[:2]}
    assert {n for n, v in doc["nodes"].items() if v["in_graph"]} == used


def test_submission_folder_has_nine_circuits_within_budget(graph, tmp_path):
    scores = _scores(graph, 2)
    files = mib.export_submission(graph, scores, tmp_path, task="ioi", model="gpt2", circuits=True)
    assert [f.name for f in files] == [f"{p:g}.json" for p in mib.MIB_CIRCUIT_PERCENTS]
    assert all(f.parent.name == "ioi_gpt2" for f in files)
    n_mib = _ungrouped_edge_count(graph)
    sizes = []
    for pct, f in zip(mib.MIB_CIRCUIT_PERCENTS, files):
        doc = json.loads(f.read_text())
        n_in = sum(e["in_graph"] for e in doc["edges"].values())
        assert n_in <= pct / 100 * n_mib
        sizes.append(kept_count(mib.load_mib(graph, f)[1]))
    assert sizes == sorted(sizes) and sizes[-1] > 0
    (imp,) = mib.export_submission(graph, scores, tmp_path, task="ioi", model="gpt2")
    assert imp.name == "importances.json" and all(e["in_graph"] for e in json.loads(imp.read_text())["edges"].values())


def test_import_refuses_another_model(graph, tmp_path):
    doc = mib.to_mib(graph, _scores(graph))
    doc["cfg"]["n_layers"] += 1
    with pytest.raises(MechscopeError, match="import it with the model"):
        mib.from_mib(graph, doc)
    with pytest.raises(MechscopeError, match="not a MIB graph"):
        mib.from_mib(graph, {"edges": {}})
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(MechscopeError, match="cannot read"):
        mib.load_mib(graph, tmp_path / "bad.json")


def test_store_export_mib_writes_the_recorded_scores(cli, error_line, tmp_path):
    from safetensors.torch import load_file

    from mechscope.store import Store

    code, out, err = cli("discover", "--model", "random:gpt2-tiny", "--task", "ioi", "--n", "8", "--method", "eap",
                         "--edges", "10", "--name", "mib-cli", "--json")
    assert code == 0, err
    code, out, err = cli("store", "export-mib", "mib-cli", "--out", str(tmp_path), "--model-name", "gpt2", "--json")
    assert code == 0, err
    files = json.loads(out)["files"]
    assert files == [str(tmp_path / "ioi_gpt2" / "importances.json")]
    store = Store()
    recorded = load_file(str(store.path(store.get("circuit", "mib-cli")) / "scores.safetensors"))
    g = ms.Graph.from_model(ms.load("random:gpt2-tiny"))
    scores, _ = mib.load_mib(g, files[0])
    assert set(scores) == set(recorded)
    for k in recorded:
        torch.testing.assert_close(scores[k], recorded[k], rtol=1e-6, atol=1e-7)
    code, out, err = cli("store", "export-mib", "mib-cli", "--out", str(tmp_path), "--circuits", "--json")
    assert code == 0, err
    assert [Path(f).name for f in json.loads(out)["files"]] == [f"{p:g}.json" for p in mib.MIB_CIRCUIT_PERCENTS]
    code, out, err = cli("store", "export-mib", "no-such-circuit", "--out", str(tmp_path))
    assert code == 2 and "no-such-circuit" in error_line(err)
