"""Batched patching: K masks in one pass (run_many), resumed at a layer (upstream), and the exact patching and
ACDC built on them, each against one patched run per mask."""

import pytest
import torch

import mechscope as ms
from mechscope import discover as D
from mechscope.discover.acdc import acdc_order
from mechscope.discover.attribution import exact
from mechscope.discover.circuit import circuit_mask, useful_receivers
from mechscope.errors import MechscopeError
from mechscope.graph import EdgeMask, run, source_outputs
from mechscope.graph.engine import run_many, upstream


@pytest.fixture(scope="module", params=["random:gpt2-tiny", "random:llama-tiny"])
def setup(request):
    model = ms.load(request.param)
    graph = ms.Graph.from_model(model)
    enc = ms.load_task("ioi", n=6).encode(model.tokenizer)
    return graph, enc


def _variants(graph, base, layer, k, flips, seed):
    gen = torch.Generator().manual_seed(seed)
    edges = [e for e in graph.edges() if graph.group(e.group).layer >= layer]
    out = []
    for _ in range(k):
        m = EdgeMask({n: t.clone() for n, t in base.tensors.items()})
        for i in torch.randint(len(edges), (flips,), generator=gen).tolist():
            e = edges[i]
            m.tensors[e.group][e.row, e.col] = 1.0 - m.tensors[e.group][e.row, e.col]
        out.append(m)
    return out


@pytest.mark.parametrize("ablation", ["resample", "mean"])
def test_run_many_equals_one_run_per_mask(setup, ablation):
    graph, enc = setup
    ids, am, pos = enc.clean_ids, enc.attention_mask, enc.positions
    patch = source_outputs(graph, enc.corrupt_ids, am)
    if ablation == "mean":  # a patch of batch 1, read by every prompt of every tile
        patch = patch.mean(1, keepdim=True)
    base = EdgeMask.random(graph, 0.5, seed=3)
    n_layers = graph.adapter.n_layers
    for layer in [None, 0, 1, n_layers]:
        masks = _variants(graph, base, layer or 0, k=4, flips=3, seed=layer or 7)
        start = None if layer is None else upstream(graph, ids, am, patch=patch, base=base, layer=layer)
        out = run_many(graph, ids, am, patch=patch, masks=masks, base=base, positions=pos, start=start)
        assert out.shape == (4, len(enc), graph.model.hf.config.vocab_size)
        for k, m in enumerate(masks):
            torch.testing.assert_close(out[k], run(graph, ids, am, patch=patch, mask=m, positions=pos),
                                       atol=1e-5, rtol=0)
    # every position's logits, and the first mask as the base
    masks = _variants(graph, EdgeMask.zeros(graph), 0, k=3, flips=2, seed=11)
    out = run_many(graph, ids, am, patch=patch, masks=masks)
    torch.testing.assert_close(out[2], run(graph, ids, am, patch=patch, mask=masks[2]), atol=1e-5, rtol=0)


def test_run_many_refuses_a_mask_that_differs_below_its_start(setup):
    graph, enc = setup
    patch = source_outputs(graph, enc.corrupt_ids, enc.attention_mask)
    base = EdgeMask.zeros(graph)
    start = upstream(graph, enc.clean_ids, enc.attention_mask, patch=patch, base=base, layer=1)
    below = EdgeMask.from_edges(graph, ["embed->m0"])
    with pytest.raises(MechscopeError, match="below the start layer"):
        run_many(graph, enc.clean_ids, enc.attention_mask, patch=patch, masks=[below], base=base, start=start)
    moved = EdgeMask.from_edges(graph, ["embed->a0.h0.q"])  # the base itself changed below the capture
    with pytest.raises(MechscopeError, match="capture upstream again"):
        run_many(graph, enc.clean_ids, enc.attention_mask, patch=patch, masks=[moved], base=moved, start=start)


def test_exact_batched_equals_one_run_per_edge(setup):
    graph, enc = setup
    scores = exact(graph, enc, batch_size=4, variants=16)
    runner = D.PatchedRunner(graph, enc, batch_size=4)
    base = runner.clean.mean()
    for edge in graph.edges():
        one = (runner.metric(EdgeMask.from_edges(graph, [edge])).mean() - base).item()
        assert scores[edge.group][edge.row, edge.col].item() == pytest.approx(one, abs=1e-5), edge.name
    one_a_pass = exact(graph, enc, batch_size=4, variants=1)
    for k in scores:
        torch.testing.assert_close(scores[k], one_a_pass[k], atol=1e-5, rtol=0)


def _sequential_acdc(graph, enc, tau, metric):
    """ACDC as it ran before batching: one patched run (PatchedRunner.kl / metric) per try."""
    runner = D.PatchedRunner(graph, enc, batch_size=4)

    def loss(mask):
        return float(runner.kl(mask).mean()) if metric == "kl" else -float(runner.metric(mask).mean())

    mask = EdgeMask.zeros(graph)
    scores = {g.name: torch.zeros(g.shape) for g in graph.groups}
    current = loss(mask)
    for group, row, col in acdc_order(graph):
        t = mask.tensors[group]
        t[row, col] = 1.0
        new = loss(mask)
        scores[group][row, col] = new - current
        if new - current < tau:
            current = new
        else:
            t[row, col] = 0.0
    return scores


@pytest.mark.parametrize("metric", ["kl", "task"])
def test_acdc_batched_equals_one_run_per_try(setup, metric):
    graph, enc = setup
    runner = D.PatchedRunner(graph, enc)
    scale = float(runner.kl(EdgeMask.ones(graph)).mean()) if metric == "kl" else float(
        (runner.clean - runner.corrupt).abs().mean())
    tau = 0.02 * scale  # at the scale of this random model's effects: some edges kept, most removed
    expect = _sequential_acdc(graph, enc, tau, metric)
    for variants in ((16, 3) if metric == "kl" else (3,)):  # 3: tries cut into several passes per receiver
        got = D.acdc(graph, enc, tau=tau, metric=metric, batch_size=4, variants=variants)
        for k in expect:
            torch.testing.assert_close(got[k], expect[k], atol=1e-5, rtol=0)
        kept = sum(int((t >= tau).sum()) for t in got.values())
        assert 0 < kept < graph.n_edges


def test_acdc_on_some_receivers_tries_only_their_edges(setup):
    graph, enc = setup
    full = D.acdc(graph, enc, tau=0.0, batch_size=4)  # tau 0: an edge goes whenever the loss does not rise
    part = D.acdc(graph, enc, tau=0.0, batch_size=4, receivers=["logits"])
    # the logits are ACDC's first receiver: its tries are the same in both runs
    torch.testing.assert_close(part["logits"], full["logits"], atol=1e-6, rtol=0)
    assert all(bool(torch.isinf(t).all()) for k, t in part.items() if k != "logits")
    with pytest.raises(MechscopeError, match="unknown receiver 'logit'"):
        D.acdc(graph, enc, receivers=["logit"])


def test_useful_receivers_are_those_a_logit_reads(setup):
    """A receiver that `useful_receivers` calls useless changes no logit when all its edges are made clean in a
    circuit (its input then differs); a useful one changes them (random circuits, checked with patched runs)."""
    graph, enc = setup
    patch = source_outputs(graph, enc.corrupt_ids, enc.attention_mask)
    gen = torch.Generator().manual_seed(3)
    checked = {True: 0, False: 0}
    for density in (0.05, 0.15):
        kept = {g.name: torch.rand(g.shape, generator=gen) < density for g in graph.groups}
        useful = useful_receivers(graph, kept)
        mask = circuit_mask(kept)
        with torch.no_grad():
            base = run(graph, enc.clean_ids, enc.attention_mask, patch=patch, mask=mask, positions=enc.positions)
            for g in graph.groups[:-1]:
                for row in range(len(g.receivers)):
                    cut = EdgeMask({k: t.clone() for k, t in mask.tensors.items()})
                    cut.tensors[g.name][row] = 0.0
                    out = run(graph, enc.clean_ids, enc.attention_mask, patch=patch, mask=cut, positions=enc.positions)
                    change = float((out - base).abs().max())
                    if useful[g.name][row]:
                        checked[True] += change > 1e-5
                    else:
                        assert change < 1e-5, (g.receivers[row], change)
                        checked[False] += 1
    assert checked[True] > 0 and checked[False] > 0  # both kinds occur in these circuits


def test_acdc_tries_no_edge_into_a_receiver_no_logit_reads(setup, monkeypatch):
    """Late in the pass most nodes reach no logit: their receivers are not tried, and the scores are still
    those of one measured run per try."""
    graph, enc = setup
    # a threshold that keeps a few edges of these two-layer models, so that most of their nodes reach no logit
    tau = 0.1 * float(D.PatchedRunner(graph, enc).kl(EdgeMask.ones(graph)).mean())
    tried, many = [], D.PatchedRunner.many

    def counting(self, tries, **kwargs):
        tried.append(len(tries))
        return many(self, tries, **kwargs)

    monkeypatch.setattr(D.PatchedRunner, "many", counting)
    scores = D.acdc(graph, enc, tau=tau, batch_size=4, variants=1)  # one try a pass: a pass per edge tried
    expect = _sequential_acdc(graph, enc, tau, "kl")
    for k in expect:
        torch.testing.assert_close(scores[k], expect[k], atol=1e-5, rtol=0)
    kept = {k: v >= tau for k, v in scores.items()}
    assert sum(int(v.sum()) for v in kept.values()) > 0
    into_circuit = sum(g.n_sources * int(useful_receivers(graph, kept)[g.name].sum()) for g in graph.groups)
    assert into_circuit <= sum(tried) < graph.n_edges  # the circuit's receivers were tried, not every one
