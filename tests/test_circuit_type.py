"""One circuit type: its edges (immutable) with provenance, to and from edge masks; its evaluation beside it."""

import json
import pickle

import pytest
import torch

import mechscope as ms
from mechscope.discover import Circuit, Evaluation, find_circuit
from mechscope.discover.faithfulness import select


@pytest.fixture(scope="module")
def found():
    graph = ms.Graph.from_model(ms.load("random:gpt2-tiny"))
    task = ms.load_task("ioi", n=12)
    return graph, task, find_circuit(graph, task, method="eap", edges=25, curve=True)


def test_a_circuit_is_immutable_and_its_evaluation_is_separate(found):
    graph, _, circuit = found
    assert isinstance(circuit.evaluation, Evaluation) and circuit.evaluation.faithfulness is not None
    with pytest.raises(TypeError, match="immutable"):
        circuit.edges["embed->logits"] = 1.0
    with pytest.raises(TypeError, match="immutable"):
        circuit.params.update(edges=3)
    with pytest.raises(AttributeError):
        circuit.edges = {}
    smaller = circuit.without(next(iter(circuit.edges)))
    assert len(smaller.edges) == len(circuit.edges) - 1 and smaller.evaluation == Evaluation()
    assert circuit.evaluated(Evaluation(0.5)).evaluation.faithfulness == 0.5 and circuit.evaluation.faithfulness != 0.5
    assert pickle.loads(pickle.dumps(circuit)) == circuit  # executors send circuits between processes


def test_to_and_from_an_edge_mask(found):
    graph, _, circuit = found
    mask = circuit.to_mask(graph)
    clean = {e.name for e in graph.edges()} - {e.name for e in mask.patched_edges(graph)}
    assert clean == set(circuit.edges) and mask.n_patched() == graph.n_edges - len(circuit.edges)
    back = Circuit.from_mask(graph, mask, task=circuit.task, task_hash=circuit.task_hash, method=circuit.method,
                             params=circuit.params)
    assert set(back.edges) == set(circuit.edges) and back.model_fingerprint == circuit.model_fingerprint
    # the same mask as one built by hand from the edge names (0 on the circuit, 1 elsewhere)
    by_hand = ms.EdgeMask.from_edges(graph, list(circuit.edges), value=0.0, base=1.0)
    assert set(mask.tensors) == set(by_hand.tensors)
    for name, t in by_hand.tensors.items():
        torch.testing.assert_close(mask.tensors[name], t)


def test_the_file_keeps_its_format_and_round_trips(found, tmp_path):
    graph, _, circuit = found
    path = tmp_path / "c.json"
    circuit.save(path)
    doc = json.loads(path.read_text())
    assert list(doc) == ["model_spec", "model_fingerprint", "task", "task_hash", "method", "params", "edges",
                         "edges_total", "ablation", "task_source", "task_size", "faithfulness", "spread", "curve",
                         "areas", "seconds", "schema"]
    assert doc["faithfulness"] == circuit.evaluation.faithfulness and doc["curve"] == list(circuit.evaluation.curve)
    assert Circuit.load(path) == circuit


def test_a_chosen_circuit_is_the_selection_it_names(found):
    graph, task, circuit = found
    from mechscope.discover.attribution import eap

    scores = eap(graph, task.split("train").encode(graph.model.tokenizer))
    kept = select(graph, scores, edges=25)
    expect = {graph.edge_at(g, r, c).name for g, t in kept.items() for r, c in t.nonzero().tolist()}
    assert set(circuit.edges) == expect
