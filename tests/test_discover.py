"""Discovery methods against exact patching, ACDC against a brute-force run of its rule, circuits round-trip."""

import pytest
import torch
from scipy.stats import spearmanr

import mechscope as ms
from mechscope import discover as D
from mechscope.discover.attribution import eap, eap_ig, exact, node_scores
from mechscope.discover.faithfulness import MIB_FRACTIONS, faithfulness
from mechscope.discover.acdc import acdc_order
from mechscope.discover.circuit import circuit_mask, prune_to_paths, top_edges
from mechscope.graph import EdgeMask, run, source_outputs
from mechscope.tasks import metric_values


@pytest.fixture(scope="module", params=["random:gpt2-tiny", "random:llama-tiny"])
def setup(request):
    model = ms.load(request.param)
    graph = ms.Graph.from_model(model)
    task = ms.load_task("ioi", n=8)
    return graph, task, task.encode(model.tokenizer)


def _flat(scores):
    return torch.cat([v.flatten() for v in scores.values()])


def test_eap_and_eap_ig_rank_correlate_with_exact(setup):
    graph, _, enc = setup
    truth = _flat(exact(graph, enc))
    ig, plain = _flat(eap_ig(graph, enc, steps=5)), _flat(eap(graph, enc))
    r_eap = spearmanr(plain, truth).statistic
    r_ig = spearmanr(ig, truth).statistic
    assert r_eap > 0.8 and r_ig > 0.8, (r_eap, r_ig)


def test_eap_ig_with_one_step_is_eap(setup):
    # k/steps = 1: the gradient is taken at the clean input, times (patch - clean): EAP exactly
    graph, _, enc = setup
    a, b = eap(graph, enc), eap_ig(graph, enc, steps=1)
    for k in a:
        torch.testing.assert_close(a[k].float(), b[k], atol=1e-5, rtol=1e-4)


def test_exact_scores_equal_a_direct_patched_run(setup):
    graph, _, enc = setup
    edge = graph.edges()[len(graph.edges()) // 2]
    scores = exact(graph, enc, edges=[edge.name])
    patch = source_outputs(graph, enc.corrupt_ids, enc.attention_mask)
    pos = enc.positions
    clean = metric_values(run(graph, enc.clean_ids, enc.attention_mask, positions=pos), enc).mean()
    patched = run(graph, enc.clean_ids, enc.attention_mask, patch=patch, positions=pos,
                  mask=EdgeMask.from_edges(graph, [edge]))
    expect = (metric_values(patched, enc).mean() - clean).item()
    assert scores[edge.group][edge.row, edge.col].item() == pytest.approx(expect, abs=1e-5)


def test_node_scores_equal_patching_all_outgoing_edges(setup):
    graph, _, enc = setup
    nodes = node_scores(graph, enc)
    patch = source_outputs(graph, enc.corrupt_ids, enc.attention_mask)
    pos = enc.positions
    clean = metric_values(run(graph, enc.clean_ids, enc.attention_mask, positions=pos), enc).mean()
    name = "a1.h2"
    mask = EdgeMask.from_edges(graph, [e for e in graph.edges() if e.src == name])
    patched = metric_values(run(graph, enc.clean_ids, enc.attention_mask, patch=patch, mask=mask, positions=pos), enc)
    assert nodes[name] == pytest.approx((patched.mean() - clean).item(), abs=1e-5)


def _brute_force_acdc(graph, enc, tau):
    """ACDC's rule written plainly: full recomputation of KL for every try."""
    patch = source_outputs(graph, enc.corrupt_ids, enc.attention_mask)
    pos = enc.positions
    with torch.no_grad():
        clean = torch.log_softmax(run(graph, enc.clean_ids, enc.attention_mask, positions=pos), -1)

    def kl(removed):
        mask = EdgeMask.from_edges(graph, removed)
        with torch.no_grad():
            q = torch.log_softmax(run(graph, enc.clean_ids, enc.attention_mask, patch=patch, mask=mask, positions=pos), -1)
        return float((clean.exp() * (clean - q)).sum(-1).mean())

    removed, current = [], kl([])
    for group, row, col in acdc_order(graph):
        edge = graph.edge_at(group, row, col)
        new = kl(removed + [edge])
        if new - current < tau:
            removed.append(edge)
            current = new
    return {e.name for e in removed}


def test_acdc_agrees_with_brute_force_rule(setup):
    graph, _, enc = setup
    # a threshold at the scale of this random model's effects, so that ACDC keeps some edges
    tau = 0.02 * float(D.PatchedRunner(graph, enc).kl(EdgeMask.ones(graph)).mean())
    scores = D.acdc(graph, enc, tau=tau, batch_size=3)
    kept = {graph.edge_at(g, r, c).name for g, t in scores.items() for r, c in (t >= tau).nonzero().tolist()}
    removed = {e.name for e in graph.edges()} - kept
    expect = _brute_force_acdc(graph, enc, tau)
    assert removed == expect
    assert 0 < len(kept) < graph.n_edges  # the threshold does something on this model


def test_faithfulness_endpoints(setup):
    graph, _, enc = setup
    runner = D.PatchedRunner(graph, enc)
    full = {g.name: torch.ones(g.shape, dtype=torch.bool) for g in graph.groups}
    empty = {g.name: torch.zeros(g.shape, dtype=torch.bool) for g in graph.groups}
    assert faithfulness(runner, full)["faithfulness"] == 1.0  # no forward pass: the clean run's values
    assert faithfulness(runner, empty)["faithfulness"] == 0.0
    # ... which the patched forward agrees with: nothing patched is the clean run, everything the corrupted one
    nothing = torch.cat([metric_values(lg, b.enc, clean_logits=b.clean_logits)
                         for lg, b in zip(runner.logits(EdgeMask.zeros(graph)), runner.batches)])
    corrupted = torch.cat([metric_values(run(graph, b.enc.corrupt_ids, b.enc.attention_mask, positions=b.enc.positions),
                                         b.enc, clean_logits=b.clean_logits) for b in runner.batches])
    assert torch.allclose(nothing, runner.clean, atol=1e-4)
    assert torch.allclose(corrupted, runner.corrupt, atol=1e-4)


def test_a_runner_gives_a_repeated_mask_the_values_of_a_fresh_run(setup):
    graph, _, enc = setup
    runner = D.PatchedRunner(graph, enc)
    masks = [EdgeMask.from_edges(graph, [e.name for e in list(graph.edges())[i::7]]) for i in range(6)]
    first = [runner.metric(m).clone() for m in masks]
    again = [runner.metric(m) for m in reversed(masks)][::-1]  # some from memory, some recomputed
    fresh = D.PatchedRunner(graph, enc)
    for a, b, m in zip(first, again, masks):
        assert torch.equal(a, b)
        assert torch.allclose(a, fresh.metric(m), atol=1e-6)
    assert len({tuple(v.tolist()) for v in first}) == len(masks)  # the masks do differ


def test_prune_keeps_only_edges_on_embed_to_logits_paths(setup):
    graph, _, _ = setup
    kept = {g.name: torch.zeros(g.shape, dtype=torch.bool) for g in graph.groups}
    on_path = [graph.edge("embed->a0.h1.q"), graph.edge("a0.h1->logits")]
    dangling = [graph.edge("a1.h3->m1" if graph.adapter.family == "gpt2" else "a1.h3->logits")]
    dead_end = graph.edge("embed->a0.h2.q")  # a0.h2 has no edge onward
    for e in on_path + [dead_end]:
        kept[e.group][e.row, e.col] = True
    if graph.adapter.family == "gpt2":  # a1.h3 -> m1 but a1.h3 is never reached
        kept[dangling[0].group][dangling[0].row, dangling[0].col] = True
    out = prune_to_paths(graph, kept)
    names = {graph.edge_at(g, r, c).name for g, t in out.items() for r, c in t.nonzero().tolist()}
    assert names == {e.name for e in on_path}


def test_circuit_file_round_trip_reevaluates_identically(setup, tmp_path):
    graph, task, _ = setup
    circuit = D.find_circuit(graph, task, method="eap", edges=30, curve=True)
    path = tmp_path / "c.json"
    circuit.save(path)
    loaded = D.Circuit.load(path)
    assert loaded == circuit
    again = D.evaluate_circuit(graph, loaded, task)
    assert again["faithfulness"] == pytest.approx(circuit.evaluation.faithfulness, abs=1e-6)
    assert [p["edges"] for p in circuit.evaluation.curve] == [round(f * graph.n_edges) for f in MIB_FRACTIONS]
    assert circuit.evaluation.areas["cpr"] is not None


def test_top_edges_takes_largest_magnitudes(setup):
    graph, _, enc = setup
    scores = eap(graph, enc)
    kept = top_edges(scores, 10)
    flat = _flat(scores).abs()
    chosen = torch.cat([v.flatten() for v in kept.values()])
    assert chosen.sum() == 10 and flat[chosen].min() >= flat[~chosen].max()
    # the mask patches exactly the others
    mask = circuit_mask(kept)
    assert mask.n_patched() == graph.n_edges - 10
