"""Whole tasks through the patching engine, batched: closed forms and batch invariance."""

import pytest
import torch

from mechscope.graph import EdgeMask, Graph, run, source_outputs
from mechscope.models import load
from mechscope.tasks import evaluate, load_task, metric_values
from mechscope.tasks.patching import edge_gradients, mean_source_outputs, patched_metric


@pytest.fixture(scope="module")
def setup():
    model = load("random:llama-tiny")
    graph = Graph.from_model(model)
    task = load_task("ioi", n=7)
    return model, graph, task, task.encode(model.tokenizer)


def test_patched_metric_endpoints_equal_clean_and_corrupt_runs(setup):
    model, graph, task, enc = setup
    stats = evaluate(model, task)
    clean = patched_metric(graph, enc, EdgeMask.zeros(graph), batch_size=3)
    corrupt = patched_metric(graph, enc, EdgeMask.ones(graph), batch_size=3)
    assert clean.mean().item() == pytest.approx(stats["clean_metric"], abs=1e-4)
    assert corrupt.mean().item() == pytest.approx(stats["corrupt_metric"], abs=1e-4)


def test_batches_do_not_change_results(setup):
    _, graph, _, enc = setup
    mask = EdgeMask.random(graph, 0.4, seed=3)
    a = patched_metric(graph, enc, mask, batch_size=2)
    b = patched_metric(graph, enc, mask, batch_size=100)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    ga = edge_gradients(graph, enc, batch_size=2)
    gb = edge_gradients(graph, enc, batch_size=100)
    for k in ga:
        torch.testing.assert_close(ga[k], gb[k], atol=1e-5, rtol=1e-4)


def test_edge_gradient_is_first_order_effect_of_patching(setup):
    # metric(mask = eps on one edge) - metric(clean) ~= eps * gradient, for every group kind
    _, graph, _, enc = setup
    grads = edge_gradients(graph, enc, batch_size=100)
    base = patched_metric(graph, enc, EdgeMask.zeros(graph)).mean()
    eps = 1e-2
    for group in ("logits", "m1", "a1.q", "a1.k", "a1.v"):
        g = grads[group]
        row, col = divmod(int(g.abs().argmax()), g.shape[1])
        edge = graph.edge_at(group, row, col)
        moved = patched_metric(graph, enc, EdgeMask.from_edges(graph, [edge], value=eps)).mean()
        assert (moved - base).item() / eps == pytest.approx(g[row, col].item(), rel=0.05, abs=1e-4)


def test_zero_ablation_of_every_edge_on_llama_gives_zero_logits(setup):
    # Llama has no biases: if every receiver reads zeros, the final norm sees 0 and the logits are 0.
    _, graph, _, enc = setup
    values = patched_metric(graph, enc, EdgeMask.ones(graph), ablation="zero")
    assert values.abs().max().item() < 1e-5


def test_mean_ablation_uses_the_mean_of_real_tokens(setup):
    _, graph, _, enc = setup
    mean = mean_source_outputs(graph, enc, batch_size=3)
    outs = source_outputs(graph, enc.clean_ids, enc.attention_mask)
    w = enc.attention_mask.float()[None, :, :, None]
    expect = (outs * w).sum((1, 2)) / enc.attention_mask.sum()
    torch.testing.assert_close(mean[:, 0, 0], expect, atol=1e-5, rtol=1e-5)
    # mean-ablating everything makes every prompt see the same receiver inputs at the logits
    logits = run(graph, enc.clean_ids, enc.attention_mask, patch=mean, mask=EdgeMask.ones(graph), positions=enc.positions)
    assert metric_values(logits, enc).isfinite().all()


def test_garbage_in_unused_patch_rows_never_leaks(setup):
    # a sparse mask reads only the sources it patches; NaN elsewhere in the patch must not matter
    _, graph, _, enc = setup
    patch = source_outputs(graph, enc.corrupt_ids, enc.attention_mask)
    edge = graph.edge("a0.h1->m1")
    patch[[i for i in range(graph.n_sources) if i != edge.col]] = float("nan")
    mask = EdgeMask.from_edges(graph, [edge])
    for _ in range(5):
        out = run(graph, enc.clean_ids, enc.attention_mask, patch=patch, mask=mask)
        assert out.isfinite().all()
