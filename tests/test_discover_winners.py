"""MIB shared-task methods: they find a hand-built circuit, and each does what its rule says."""

import numpy as np
import pytest
import torch

import mechscope as ms
from mechscope import discover as D
from mechscope.discover.attribution import eap_ig
from mechscope.discover import winners
from mechscope.discover.circuit import circuit_mask, top_edges
from mechscope.graph import EdgeMask
from mechscope.tasks.patching import edge_gradients
from mechscope.hypothesis.groundtruth.handbuilt import handbuilt_induction
from mechscope.hypothesis.groundtruth.score import roc_auc


@pytest.fixture(scope="module")
def truth():
    torch.set_num_threads(1)
    gt = handbuilt_induction(n=24, verify=False)
    graph = ms.Graph.from_model(gt.model)
    return gt, graph, gt.task.encode(gt.model.tokenizer)


def _auc(graph, scores, true_edges):
    labels = np.array([e.name in set(true_edges) for e in graph.edges()])
    flat = torch.cat([v.flatten() for v in scores.values()]).numpy()
    return roc_auc(-flat, labels)  # most negative = most important


@pytest.mark.parametrize("method", ["edge-pruning", "eap-ig-bootstrap", "marginal-gain"])
def test_winners_rank_the_true_circuit_first(truth, method):
    gt, graph, enc = truth
    params = {"edge-pruning": {"steps": 15}, "eap-ig-bootstrap": {"resamples": 50}, "marginal-gain": {}}[method]
    scores = D.METHODS[method](graph, enc, **params)
    assert _auc(graph, scores, gt.true_edges["resample"]) > 0.95


def test_bootstrap_ranks_exactly_the_unstable_signs_last(truth):
    _, graph, enc = truth
    part = enc.select(slice(0, 6))
    per = winners.per_example_eap_ig(graph, part, steps=2)
    # the per-example scores average to the batch score
    full = torch.cat([v.flatten() for v in eap_ig(graph, part, steps=2, batch_size=6).values()])
    torch.testing.assert_close(per.mean(0), full, atol=1e-5, rtol=1e-4)
    s = torch.cat([v.flatten() for v in winners.bootstrap_signs(graph, part, steps=2, resamples=300).values()])
    mean = per.mean(0)
    kept = (s == mean) & (mean != 0)  # stable: the mean itself
    rest = (s != mean) & (mean != 0)
    assert int(kept.sum()) > 0 and int(rest.sum()) > 0
    # unstable edges: the same sign and |score| order as their mean, every one below the smallest stable magnitude
    assert bool((torch.sign(s[rest]) == torch.sign(mean[rest])).all())
    assert float(s[rest].abs().max()) < float(s[kept].abs().min())
    assert torch.equal(torch.argsort(s[rest].abs(), stable=True), torch.argsort(mean[rest].abs(), stable=True))
    # an edge whose examples disagree in sign (one positive, one negative example of similar size) is not stable
    mixed = (per > 0).any(0) & (per < 0).any(0) & (per.mean(0).abs() < 0.2 * per.abs().mean(0))
    assert not bool((kept & mixed).any())
    same = ((per > 0).all(0) | (per < 0).all(0)) & (per.abs().amin(0) > 0)
    assert bool(kept[same].all())


def _first_round(graph, part, first):
    """EAP-IG's signed top `first` edges (round 0, flat bool) and the second round's gains written out:
    -M * mean of the gradients at M/4 and 3M/4, M the mask of the first circuit (steps=2)."""
    start = top_edges(eap_ig(graph, part, steps=2, batch_size=8), first, signed=True)
    start_flat = torch.cat([v.flatten() for v in start.values()])
    m = circuit_mask(start)
    gain = torch.zeros(graph.n_edges)
    for alpha in (0.25, 0.75):
        point = EdgeMask({k: t * alpha for k, t in m.tensors.items()})
        gain -= torch.cat([v.flatten() for v in edge_gradients(graph, part, mask=point).values()]) / 2
    return start_flat, gain


def test_marginal_gain_adds_the_edge_with_the_largest_integrated_gain(truth):
    _, graph, enc = truth
    part = enc.select(slice(0, 8))
    n = graph.n_edges
    s = winners.marginal_gain(graph, part, fractions=(0.02, 0.05), steps=2)
    order = torch.argsort(torch.cat([v.flatten() for v in s.values()]))  # most negative first: order of addition
    first = int(0.02 * n)
    start_flat, gain = _first_round(graph, part, first)
    assert set(order[:first].tolist()) == set(start_flat.nonzero()[:, 0].tolist())
    gain[start_flat] = -float("inf")
    assert int(order[first]) == int(torch.argmax(gain))


def test_marginal_gain_aimed_at_one_closes_the_gap_without_passing_it(truth):
    _, graph, enc = truth
    part = enc.select(slice(0, 8))
    n = graph.n_edges
    first, second = int(0.02 * n), int(0.1 * n)
    s = winners.marginal_gain(graph, part, fractions=(0.02, 0.1), steps=2, aim="one")
    order = torch.argsort(torch.cat([v.flatten() for v in s.values()]))
    start_flat, gain = _first_round(graph, part, first)
    assert set(order[:first].tolist()) == set(start_flat.nonzero()[:, 0].tolist())
    gap = float(gain[~start_flat].sum())
    added = order[first:second]
    # the edges of the gap's sign taken, largest first while they fit, then the smallest |gain|: their sum is
    # within the gap, and no edge left out of the gap's sign would still have fitted
    got = float(gain[added].sum())
    assert abs(got) <= abs(gap) + 1e-6 and got * gap >= 0
    same_sign = gain[added] * gap > 0
    left = abs(gap) - float(gain[added][same_sign].abs().sum())
    out = torch.ones(n, dtype=torch.bool)
    out[added] = False
    out[start_flat] = False
    smallest_taken = gain[added][same_sign].abs().min()
    assert not bool(((gain * gap > 0) & out & (gain.abs() <= left) & (gain.abs() > smallest_taken)).any())


def test_edge_pruning_lowers_its_loss(truth):
    gt, graph, enc = truth
    part = enc.select(slice(0, 8))
    runner = D.PatchedRunner(graph, part, batch_size=8)
    gap = float(runner.clean.mean() - runner.corrupt.mean())

    def loss(scores, sparsity=0.5):
        keep = {k: -v for k, v in scores.items()}
        m = runner.metric(EdgeMask({k: 1 - v for k, v in keep.items()}))
        size = sum(float(v.sum()) for v in keep.values()) / graph.n_edges
        return float((((m - runner.clean) / gap) ** 2).mean()) + sparsity * size

    before = winners.edge_pruning(graph, part, steps=1, lr=1e-6, sparsity=0.5, batch_size=8)
    after = winners.edge_pruning(graph, part, steps=20, lr=0.1, sparsity=0.5, batch_size=8)
    assert loss(after) < loss(before) - 0.01


def test_winners_run_through_the_run_layer():
    from mechscope.runs import RunSpec
    from mechscope.runs.execute import compute

    spec = RunSpec("discover", "edge-pruning", "random:gpt2-tiny", "ioi", n=8,
                   params={"steps": 2, "edges": 10, "curve": False})
    circuit, scores = compute(spec)
    assert circuit.method == "edge-pruning" and 0 < len(circuit.edges) <= 10
    assert all(float(v.max()) < 0 for v in scores.values())  # scores are -keep
