"""Ground truth: ROC scoring, planted-circuit training, the zoo and its CLI."""

from __future__ import annotations

import itertools
import json
import random

import numpy as np
import pytest
import torch

from mechscope.errors import MechscopeError
from mechscope.graph import Graph
from mechscope.hypothesis.groundtruth import GroundTruth, synthetic_task
from mechscope.hypothesis.groundtruth.handbuilt import handbuilt_first, handbuilt_induction
from mechscope.hypothesis.groundtruth.planted import (
    PlantedSpec,
    _logit_diff,
    _step_loss,
    build_hf,
    planted_edges,
    polish,
    train_planted,
)
from mechscope.hypothesis.groundtruth.score import _points_auc, roc_auc, score_method
from mechscope.hypothesis.groundtruth.vocab import word_tokenizer
from mechscope.hypothesis.groundtruth.zoo import PLANTED, zoo_names
from mechscope.models import Model
from mechscope.models.families import adapter_for


@pytest.fixture(autouse=True)
def one_thread():
    # tiny models: one thread is faster than two fighting over small matrices
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_roc_auc_equals_pairwise_definition():
    rng = np.random.default_rng(0)
    for _ in range(20):
        scores = rng.integers(0, 5, 30).astype(float)  # ties on purpose
        labels = rng.random(30) < 0.3
        if labels.all() or not labels.any():
            continue
        pairs = [(1.0 if p > n else 0.5 if p == n else 0.0)
                 for p, n in itertools.product(scores[labels], scores[~labels])]
        assert roc_auc(scores, labels) == pytest.approx(np.mean(pairs))


def test_points_auc_of_a_perfect_and_a_useless_classifier():
    assert _points_auc([(0.0, 1.0)]) == pytest.approx(1.0)
    assert _points_auc([(0.5, 0.5)]) == pytest.approx(0.5)


def test_roc_auc_needs_both_classes():
    with pytest.raises(MechscopeError, match="at least one true and one false"):
        roc_auc(np.array([1.0, 2.0]), np.array([1, 1]))


def test_synthetic_tasks_answer_what_they_say():
    for kind in ("first", "prev", "induct", "major"):
        for ex in synthetic_task(kind, 50, seed=3).examples:
            words = ex.clean.split()[1:]
            answer = ex.answers[0].strip()
            expected = {"first": lambda: words[0], "prev": lambda: words[-2],
                        "induct": lambda: words[words.index(words[-1]) + 1],
                        "major": lambda: max(set(words), key=words.count)}[kind]()
            assert answer == expected
            assert ex.wrong_answers[0].strip() != answer
            assert len(ex.corrupt.split()) == len(ex.clean.split())


def test_zoo_has_twelve_planted_models_across_families_and_tasks():
    assert len(PLANTED) >= 12
    assert {s.family for s in PLANTED} == {"gpt2", "llama"}
    assert {s.task for s in PLANTED} >= {"first", "prev", "major"}
    assert any(s.hops == 2 for s in PLANTED)  # head-to-head composition edges
    assert any(s.n_kv_heads and s.n_kv_heads < s.n_heads for s in PLANTED)  # grouped-query attention
    assert len(set(zoo_names())) == len(zoo_names())


@pytest.mark.parametrize("spec", PLANTED, ids=lambda s: s.name)
def test_planted_templates_name_real_edges(spec):
    hf = build_hf(spec)
    graph = Graph.from_model(Model("x", hf, word_tokenizer(), adapter_for(hf.config), ""))
    edges = planted_edges(spec, graph)
    assert len(set(edges)) == len(edges) >= 2
    for e in edges:
        graph.edge(e)
    assert any(e.endswith("->logits") for e in edges)
    assert any(e.startswith("embed->") for e in edges)


def _train_tiny(spec: PlantedSpec, steps: int) -> tuple:
    """A tiny planted model after `steps` plain training steps: ``(model, graph, edges, first_parts, last_parts)``."""
    hf = build_hf(spec)
    model = Model("x", hf, word_tokenizer(), adapter_for(hf.config), "")
    graph = Graph.from_model(model)
    edges = planted_edges(spec, graph)
    opt = torch.optim.Adam(hf.parameters(), lr=3e-3)
    rng = random.Random(0)
    hf.train()
    first = parts = None
    for _ in range(steps):
        loss, parts = _step_loss(model, graph, spec, edges, rng)
        first = first or parts
        opt.zero_grad()
        loss.backward()
        opt.step()
    hf.eval()
    return model, graph, edges, first, parts


def test_planted_training_lowers_every_loss_part():
    *_, first, parts = _train_tiny(PlantedSpec("t", "first", "gpt2", 2, steps=1), 60)
    for key in ("full", "circuit", "knockout"):
        assert parts[key] < first[key], key


def _margin_gap(model, graph, edges, task: str) -> torch.Tensor:
    """Per-example answer margin of the circuit alone minus the full model's: ``[n]``."""
    from mechscope.graph import EdgeMask, run, source_outputs

    enc = synthetic_task(task, 64, seed=7).encode(model.tokenizer)
    ans, wrong = enc.answer_ids[:, 0], enc.wrong_ids[:, 0]
    with torch.no_grad():
        patch = source_outputs(graph, enc.corrupt_ids)
        mask = EdgeMask.from_edges(graph, edges, value=0.0, base=1.0)
        circuit = run(graph, enc.clean_ids, patch=patch, mask=mask, positions=enc.positions)
        full = model.hf(input_ids=enc.clean_ids).logits[:, -1]
    return _logit_diff(circuit, ans, wrong) - _logit_diff(full, ans, wrong)


def test_polish_balances_the_circuit_margin_against_the_full_model():
    spec = PlantedSpec("t", "first", "gpt2", 2, polish_steps=80)
    model, graph, edges, *_ = _train_tiny(spec, 80)
    hf = model.hf
    before = _margin_gap(model, graph, edges, "first")
    polish(model, graph, spec, edges)
    after = _margin_gap(model, graph, edges, "first")
    assert not hf.training and not any(p.requires_grad for p in hf.parameters())
    assert after.pow(2).mean() < 0.5 * before.pow(2).mean(), (before.pow(2).mean(), after.pow(2).mean())


@pytest.mark.slow
def test_planted_first_model_verifies(tmp_path):
    truth = train_planted(PlantedSpec("first-gpt2-2l", "first", "gpt2", 2, steps=1500))
    v = truth.info["verification"]["resample"]
    assert v["holds"], v
    # after polishing, the circuit is as likely to beat the full model as to lose (Shi et al.'s equivalence)
    from mechscope.hypothesis.criteria import test_circuit
    from mechscope.hypothesis.groundtruth import kept_edges

    graph = Graph.from_model(truth.model)
    enc = synthetic_task("first", 64, seed=3).encode(truth.model.tokenizer)
    res = test_circuit(graph, kept_edges(graph, truth.true_edges["resample"]), enc, ("equivalence",))
    assert res["equivalence"].passed, res["equivalence"]
    truth.save(tmp_path / "m")
    back = GroundTruth.load(tmp_path / "m")
    assert back.true_edges == truth.true_edges
    assert back.model.fingerprint == truth.model.fingerprint


def test_eap_ig_and_exact_recover_the_handbuilt_circuits():
    for truth in (handbuilt_induction(verify=False), handbuilt_first(verify=False)):
        for method in ("eap-ig", "exact"):
            row = score_method(truth, method)
            assert row["roc_auc"] == pytest.approx(1.0), row
            assert row["precision_at_k"] == pytest.approx(1.0), row


def test_score_method_refuses_an_unknown_ablation_truth():
    truth = handbuilt_first(verify=False)
    truth.true_edges.pop("mean", None)
    with pytest.raises(MechscopeError, match="no true circuit under mean"):
        score_method(truth, "eap", ablation="mean")


def test_bench_groundtruth_cli_json(tmp_path, monkeypatch, capsys):
    from mechscope.__main__ import app

    monkeypatch.setenv("MECHSCOPE_CACHE", str(tmp_path))
    app(["bench", "groundtruth", "--only", "handbuilt-first", "--methods", "eap,exact", "--json"],
        standalone_mode=False)
    rows = json.loads(capsys.readouterr().out)
    assert [r["method"] for r in rows] == ["eap", "exact"]
    for r in rows:
        assert {"model", "method", "roc_auc", "node_roc_auc", "precision_at_k", "seconds"} <= set(r)
        assert r["model"] == "handbuilt-first"
    assert (tmp_path / "groundtruth" / "handbuilt-first" / "truth.json").exists()


def test_hypothesis_tests_behave_on_the_handbuilt_induction_model():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from hypothesis_zoo import one_seed

    truth = handbuilt_induction(verify=False)
    row = one_seed(truth, seed=0, n=48, n_random=20)
    assert row["true_equivalence"] and row["true_sufficiency"]
    # necessity against the whole graph can fail: on a 110-edge graph a fifth of random same-size path circuits
    # pass through the induction head's output edge and knock the task out just as hard; drawn from the
    # complement, no random circuit holds a true edge and the true circuit's knock-out beats them all
    assert row["true_necessity_complement"]
    assert not row["random_sufficiency"]  # a random circuit of the same size is not sufficient
    assert not row["minus_equivalence"]  # a needed edge removed: no longer equivalent
    assert row["pad_flagged"] == 1.0 and row["true_flagged"] == 0.0  # minimality flags exactly the padding


def test_necessity_from_the_complement_never_draws_a_circuit_edge():
    from mechscope.discover import PatchedRunner
    from mechscope.hypothesis import necessity
    from mechscope.hypothesis.groundtruth import kept_edges

    truth = handbuilt_induction(verify=False)
    graph = Graph.from_model(truth.model)
    kept = kept_edges(graph, truth.true_edges["resample"])
    enc = synthetic_task(truth.task.name, 48, seed=1).encode(truth.model.tokenizer)
    runner = PatchedRunner(graph, enc)
    whole = necessity(runner, kept, n_random=20, seed=0)
    outside = necessity(runner, kept, n_random=20, seed=0, complement=True)
    # knocking out the true circuit gives the corrupted answer; knocking out edges outside it changes far less
    assert outside.passed and outside.statistic == 1.0, outside
    assert max(outside.random_losses) < 0.5 * outside.circuit_loss
    assert whole.circuit_loss == outside.circuit_loss
    assert max(whole.random_losses) >= max(outside.random_losses)  # some whole-graph draws hold a true edge
