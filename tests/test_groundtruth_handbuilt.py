"""Hand-built ground-truth models: they solve their task, and their stated circuit is the one that matters."""

import pytest
import torch

from mechscope.graph import Graph
from mechscope.hypothesis.groundtruth.base import GroundTruth
from mechscope.hypothesis.groundtruth.handbuilt import HANDBUILT, handbuilt_first, handbuilt_induction
from mechscope.hypothesis.groundtruth.verify import THRESHOLDS, kept_edges
from mechscope.tasks import evaluate


@pytest.fixture(scope="module")
def built():
    # The models are 256 wide: a second thread only adds contention on a shared 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield {"induct": handbuilt_induction(), "first": handbuilt_first()}
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("task", ["induct", "first"])
def test_solves_its_task(built, task):
    gt = built[task]
    assert gt.task.name == task and len(gt.task) == 64
    ev = evaluate(gt.model, gt.task)
    assert ev["accuracy"] == 1.0 and ev["top1_accuracy"] == 1.0
    assert ev["clean_metric"] > 5
    assert gt.info["evaluation"]["accuracy"] == 1.0


@pytest.mark.parametrize("task", ["induct", "first"])
def test_model_is_frozen_attention_only_and_described(built, task):
    gt = built[task]
    hf = gt.model.hf
    assert not hf.training and not any(p.requires_grad for p in hf.parameters())
    assert all(float(p.abs().max()) == 0.0 for n, p in hf.named_parameters() if ".mlp." in n)
    assert gt.model.spec == f"groundtruth:{gt.name}" and gt.name in HANDBUILT
    assert gt.kind == "handbuilt" and gt.info["kind"] == "handbuilt" and gt.info["mechanism"]
    assert gt.info["config"]["n_layer"] == 2 and gt.info["config"]["n_head"] >= 2


@pytest.mark.parametrize("task", ["induct", "first"])
def test_truth_edges_exist_and_resample_is_a_subset(built, task):
    gt = built[task]
    names = {e.name for e in Graph.from_model(gt.model).edges()}
    assert "resample" in gt.true_edges
    for edges in gt.true_edges.values():
        assert edges and set(edges) <= names and len(set(edges)) == len(edges)
        assert set(gt.true_edges["resample"]) <= set(edges)  # other ablations also erase positions


@pytest.mark.parametrize("task", ["induct", "first"])
def test_resample_truth_is_verified(built, task):
    v = built[task].info["verification"]["resample"]
    assert v["faithfulness"] >= THRESHOLDS["faithfulness"]
    assert v["knockout"] <= THRESHOLDS["knockout"]
    assert v["worst_removed"] <= THRESHOLDS["removed"]["resample"]
    assert v["holds"]
    assert set(v["removed"]) == set(built[task].true_edges["resample"])


@pytest.mark.parametrize("task", ["induct", "first"])
def test_every_stated_ablation_is_verified(built, task):
    gt = built[task]
    assert set(gt.info["verification"]) == set(gt.true_edges)
    for ablation, v in gt.info["verification"].items():
        assert v["holds"], (ablation, v)


def test_position_edges_matter_only_without_resampling(built):
    truth = built["induct"].true_edges
    position_edges = {"embed->a0.h1.q", "embed->a0.h1.k"}
    assert not position_edges & set(truth["resample"])
    assert position_edges <= set(truth["zero"])


def test_kept_edges_complement(built):
    graph = Graph.from_model(built["first"].model)
    edges = built["first"].true_edges["resample"]
    kept, rest = kept_edges(graph, edges), kept_edges(graph, edges, complement=True)
    assert sum(int(k.sum()) for k in kept.values()) == len(edges)
    assert all(bool((kept[g] ^ rest[g]).all()) for g in kept)


def test_save_load_round_trip(built, tmp_path):
    gt = built["induct"]
    back = GroundTruth.load(gt.save(tmp_path / "handbuilt-induction"))
    assert back.true_edges == gt.true_edges and back.kind == "handbuilt"
    assert back.info["verification"]["resample"]["faithfulness"] == gt.info["verification"]["resample"]["faithfulness"]
    assert [ex.to_dict() for ex in back.task.examples] == [ex.to_dict() for ex in gt.task.examples]
    enc = gt.task.encode(gt.model.tokenizer)
    assert torch.equal(back.task.encode(back.model.tokenizer).clean_ids, enc.clean_ids)
    with torch.no_grad():
        ours = gt.model.hf(enc.clean_ids).logits
        theirs = back.model.hf(enc.clean_ids.to(back.model.device)).logits.to(ours.device)
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert back.model.fingerprint == gt.model.fingerprint
