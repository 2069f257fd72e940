"""The fast paths of batched patching (issue 25), each against the naive computation: layered folds (each layer's
receivers against their own layer's majority), sparse correction products, and the last layer's MLP run at the
answer positions only. Tolerances: 1e-5 absolute on logits (float32), as tests/test_run_many.py holds run_many."""

import pytest
import torch

import mechscope as ms
from mechscope.graph import EdgeMask, run, source_outputs
from mechscope.graph._forward import SPARSE, _product, plan
from mechscope.graph.engine import run_many, upstream


@pytest.fixture(scope="module", params=["random:gpt2-tiny", "random:llama-tiny"])
def setup(request):
    model = ms.load(request.param)
    graph = ms.Graph.from_model(model)
    enc = ms.load_task("ioi", n=6).encode(model.tokenizer)
    return graph, enc, source_outputs(graph, enc.corrupt_ids, enc.attention_mask)


def _part_way(graph, layer: int, kept: int, seed: int) -> tuple[EdgeMask, set]:
    """A mask as ACDC leaves it part way through `layer`: every edge into later layers and the logits removed
    (patched) but `kept` random ones, every edge into earlier layers in, and half of `layer`'s receivers
    done (removed but one edge each). Returns the mask and the (group, row) of the later rows with a kept edge."""
    gen = torch.Generator().manual_seed(seed)
    mask = EdgeMask.zeros(graph)
    for g in graph.groups:
        if g.layer > layer:
            mask.tensors[g.name].fill_(1.0)
        elif g.layer == layer:
            t = mask.tensors[g.name]
            for row in range(0, t.shape[0], 2):
                t[row] = 1.0
                t[row, int(torch.randint(t.shape[1], (1,), generator=gen))] = 0.0
    later = [e for e in graph.edges() if graph.group(e.group).layer > layer]
    rows = set()
    for i in torch.randperm(len(later), generator=gen)[:kept].tolist():
        e = later[i]
        mask.tensors[e.group][e.row, e.col] = 0.0
        rows.add((e.group, e.row))
    return mask, rows


def _tries(graph, base: EdgeMask, group: str, row: int, k: int) -> list[EdgeMask]:
    """ACDC's tries at one receiver: try j with its latest j + 1 sources removed."""
    out, t = [], base.tensors[group].clone()
    for col in list(reversed(range(graph.group(group).n_sources)))[:k]:
        t[row, col] = 1.0
        out.append(EdgeMask({**base.tensors, group: t.clone()}))
    return out


def _receivers(graph):
    """A q, k, v and MLP receiver at the first and at the last layer, and the logits."""
    last = graph.adapter.n_layers - 1
    out = [(f"a{layer}.{kind}", 1) for layer in (0, last) for kind in "qkv"]
    return out + [("m0", 0), (f"m{last}", 0), ("logits", 0)]


def test_batched_tries_from_part_way_equal_one_run_each(setup):
    """run_many from `upstream` (layered folds, sparse corrections, the last MLP at the answers) = run per try."""
    graph, enc, patch = setup
    ids, am, pos = enc.clean_ids, enc.attention_mask, enc.positions
    last_mlp = graph.adapter.layer(graph.model.hf, graph.adapter.n_layers - 1).get_submodule(graph.adapter.mlp)
    first = next(iter(last_mlp.children()))  # its first projection (c_fc, gate_proj): what the MLP computes on
    for group, row in _receivers(graph):
        layer = graph.group(group).layer
        base, _ = _part_way(graph, layer, kept=3, seed=layer + row)
        tries = _tries(graph, base, group, row, k=4)
        start = upstream(graph, ids, am, patch=patch, base=base, layer=layer)
        seen = []
        handle = first.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[1]))
        try:
            out = run_many(graph, ids, am, patch=patch, masks=tries, base=base, positions=pos, start=start)
        finally:
            handle.remove()
        assert seen == ([] if group == "logits" else [1]), group  # the last MLP ran at one position a prompt
        for k, m in enumerate(tries):
            torch.testing.assert_close(out[k], run(graph, ids, am, patch=patch, mask=m, positions=pos),
                                       atol=1e-5, rtol=0, msg=lambda s: f"{group} try {k}: {s}")


def test_every_position_without_positions(setup):
    """Without positions every position's logits come back, the last MLP at all of them."""
    graph, enc, patch = setup
    ids, am = enc.clean_ids, enc.attention_mask
    base, _ = _part_way(graph, 0, kept=2, seed=5)
    tries = _tries(graph, base, "a0.v", 1, k=3)
    out = run_many(graph, ids, am, patch=patch, masks=tries, base=base,
                   start=upstream(graph, ids, am, patch=patch, base=base, layer=0))
    for k, m in enumerate(tries):
        torch.testing.assert_close(out[k], run(graph, ids, am, patch=patch, mask=m), atol=1e-5, rtol=0)


def test_layered_folds_recompute_only_rows_off_their_layers_majority(setup):
    graph, _, _ = setup
    base, kept_rows = _part_way(graph, 0, kept=2, seed=1)
    tensors = base.tensors
    layered, single = plan(graph, tensors, layered=True), plan(graph, tensors)

    def active(p, kinds=("q", "k", "v")):
        out = set()
        for g in graph.groups:
            if g.kind in kinds:
                rows = range(g.shape[0]) if p.rows[g.name] is None else p.rows[g.name].tolist()
                out.update((g.name, r) for r in rows if p.corr[g.name].shape[0])
        return out

    later = {(g, r) for g, r in active(layered) if graph.group(g).layer > 0}
    assert later == {(g, r) for g, r in kept_rows if graph.group(g).kind in "qkv"}
    # layer 0: half its rows removed, half in; layered, one side of each column is recomputed; one fold for
    # every layer (most edges are removed) recomputes every layer-0 row that is in, and more rows in all
    assert len(active(layered)) < len(active(single))
    f = layered.layer_fold
    assert f.shape == (graph.adapter.n_layers + 1, graph.n_sources)
    assert float(f[graph.adapter.n_layers, 0]) == float(tensors["logits"][0, 0])  # the logits: their own row
    assert not bool(f[0, 1:].any())  # a layer's fold covers only the sources written before it


@pytest.mark.parametrize("nonzero", [3, 11, 40])
def test_sparse_product_equals_the_dense_one(nonzero):
    gen = torch.Generator().manual_seed(nonzero)
    m, n, w = 12, 30, 500
    mask = torch.zeros(m, n)
    mask.view(-1)[torch.randperm(m * n, generator=gen)[:nonzero]] = torch.randn(nonzero, generator=gen)
    flat = torch.randn(n, w, generator=gen)
    assert (nonzero * SPARSE <= m * n) == (nonzero < 40)  # 3, 11 (rows with several entries): entry by entry; 40: dense
    torch.testing.assert_close(_product(mask, flat), mask @ flat, atol=1e-5, rtol=0)
    into = torch.randn(m, w, generator=gen)  # added to a receiver's input built so far
    torch.testing.assert_close(_product(mask, flat, into.clone()), into + mask @ flat, atol=1e-5, rtol=0)
