"""The edge-patching engine against Hugging Face, the naive reference and nnsight.

Tiny random models of every supported family, plus the bundled SmolLM2-135M.
"""

from __future__ import annotations

import functools
import types

import pytest
import torch

from mechscope.errors import MechscopeError
from mechscope.graph import EdgeMask, Graph, run, source_outputs
from mechscope.graph.reference import reference_patched_logits
from mechscope.graph.verify import TOLERANCE, random_prompts, verify
from mechscope.models import load

TINY = ["random:llama-tiny", "random:gpt2-tiny", "random:neox-tiny", "random:qwen2-tiny"]
SMOLLM2 = "smollm2-135m"


@functools.lru_cache(maxsize=None)
def graph_of(spec: str) -> Graph:
    return Graph.from_model(load(spec))


def prompts(graph: Graph, n: int = 3, seq: int = 7, seed: int = 0):
    clean, corrupt = random_prompts(graph, n, seq, seed)
    return clean, corrupt, source_outputs(graph, corrupt)


def all_hooks(module: torch.nn.Module) -> list[str]:
    """Every forward (pre-)hook left on `module` or its children, and global ones."""
    from torch.nn.modules import module as torch_module

    found = []
    for name, m in module.named_modules():
        for attr in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
            if getattr(m, attr):
                found.append(f"{name or '<root>'}.{attr}")
    for attr in ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks"):
        if getattr(torch_module, attr, None):
            found.append(attr)
    return found


# verify() -----------------------------------------------------------------


@pytest.mark.parametrize("spec", TINY)
def test_verify_passes_on_tiny_models(spec):
    report = verify(graph_of(spec))
    for key in ("max_abs_err_unpatched", "max_abs_err_all_patched", "max_abs_err_edge_patch"):
        assert report[key] <= TOLERANCE, str(report)
    assert report["passed"] is True
    assert report["single_edge_effect"] > 1e-3, str(report)
    assert report["model"] == spec and report["edges"] == graph_of(spec).n_edges
    assert all_hooks(graph_of(spec).model.hf) == []


def test_verify_passes_on_smollm2():
    report = verify(graph_of(SMOLLM2))
    assert report["max_abs_err_unpatched"] <= TOLERANCE, str(report)
    assert report["max_abs_err_all_patched"] <= TOLERANCE, str(report)
    assert report["max_abs_err_edge_patch"] <= TOLERANCE, str(report)
    assert report["passed"] is True, str(report)


# gradients ------------------------------------------------------------------


def _metric(logits: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return (logits[:, -1, :] * weights).sum()


def _rmsnorm_float64(self, x: torch.Tensor) -> torch.Tensor:
    return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon))


@functools.lru_cache(maxsize=None)
def float64_graph(spec: str) -> Graph:
    """The model in float64 throughout, so that central differences are exact to ~1e-10.

    HF's RMSNorm casts to float32 whatever the model dtype, which would put float32
    rounding into the differences; on this test copy it computes in float64.
    """
    graph = Graph.from_model(load(spec, dtype=torch.float64))
    for module in graph.model.hf.modules():
        if type(module).__name__.endswith("RMSNorm"):
            module.forward = types.MethodType(_rmsnorm_float64, module)
    return graph


def _check_mask_gradients(spec: str, base: str) -> None:
    graph = float64_graph(spec)
    clean, _, patch = prompts(graph, n=2, seq=6)
    patch = patch.double()
    gen = torch.Generator().manual_seed(1)
    vocab = graph.model.hf.config.vocab_size
    weights = torch.randn(vocab, generator=gen, dtype=torch.float64).to(graph.model.device) / vocab**0.5
    if base == "fractional":
        values = {g.name: 0.2 + 0.6 * torch.rand(g.shape, generator=gen, dtype=torch.float64) for g in graph.groups}
    else:  # base 0: the point where EAP reads its scores
        values = {g.name: torch.zeros(g.shape, dtype=torch.float64) for g in graph.groups}
    values = {k: v.to(graph.model.device) for k, v in values.items()}

    mask = EdgeMask({k: v.clone().requires_grad_(True) for k, v in values.items()})
    _metric(run(graph, clean, patch=patch, mask=mask), weights).backward()
    grads = mask.grads()
    assert all_hooks(graph.model.hf) == []

    eps = 1e-3
    groups = ["a0.q", "a0.k", "a1.q", "a1.k", "a1.v", "m0", "m1", "logits"]
    checked = 0
    for name in groups:
        g = grads[name]
        flat = g.abs().flatten()
        # the entry with the largest gradient, and one chosen at random
        picks = {int(flat.argmax()), int(torch.randint(flat.numel(), (1,), generator=gen))}
        for index in picks:
            row, col = divmod(index, g.shape[1])

            def metric_at(delta: float) -> float:
                tensors = {k: v.clone() for k, v in values.items()}
                tensors[name][row, col] += delta
                with torch.no_grad():
                    return float(_metric(run(graph, clean, patch=patch, mask=EdgeMask(tensors)), weights))

            fd = (metric_at(eps) - metric_at(-eps)) / (2 * eps)
            analytic = float(g[row, col])
            scale = max(abs(fd), abs(analytic), 1e-3 * float(flat.max()), 1e-9)
            edge = graph.edge_at(name, row, col).name
            assert abs(fd - analytic) <= 1e-2 * scale, f"{spec} {edge}: grad {analytic:.6g} vs finite difference {fd:.6g}"
            checked += 1
    assert checked >= len(groups)


@pytest.mark.parametrize("spec", TINY)
def test_mask_gradients_match_finite_differences(spec):
    _check_mask_gradients(spec, "fractional")


@pytest.mark.parametrize("spec", TINY)
def test_mask_gradients_at_zero_match_finite_differences(spec):
    _check_mask_gradients(spec, "zero")


# engine vs reference -------------------------------------------------------------


@pytest.mark.parametrize("spec", TINY)
def test_multi_edge_patch_equals_reference(spec):
    graph = graph_of(spec)
    clean, corrupt = random_prompts(graph, 3, 9, seed=5)
    attention_mask = torch.ones_like(clean)
    attention_mask[0, -2:] = 0  # right padding on one prompt
    patch = source_outputs(graph, corrupt, attention_mask)
    gen = torch.Generator().manual_seed(2)
    edges = graph.edges()
    chosen = [edges[i] for i in torch.randperm(len(edges), generator=gen)[:12].tolist()]
    coefs = {e.name: (1.0 if i % 2 else 0.5) for i, e in enumerate(chosen)}
    mask = EdgeMask.zeros(graph)
    for e in chosen:
        mask.tensors[e.group][e.row, e.col] = coefs[e.name]

    expected = reference_patched_logits(graph, clean, corrupt, coefs, attention_mask=attention_mask)
    got = run(graph, clean, attention_mask, patch=patch, mask=mask)
    clean_logits = run(graph, clean, attention_mask)
    assert (expected - clean_logits).abs().max() > 1e-3, "the patch should change the logits"
    assert (got - expected).abs().max() <= TOLERANCE

    positions = torch.tensor([5, 8, 0], device=clean.device)
    at = run(graph, clean, attention_mask, patch=patch, mask=mask, positions=positions)
    assert (at - got[torch.arange(3), positions]).abs().max() <= TOLERANCE


# hooks ---------------------------------------------------------------------


@pytest.mark.parametrize("spec", TINY)
def test_no_hooks_left_behind(spec):
    graph = graph_of(spec)
    hf = graph.model.hf
    clean, _, patch = prompts(graph)
    assert all_hooks(hf) == []

    run(graph, clean, patch=patch, mask=EdgeMask.random(graph, 0.3, seed=0))
    assert all_hooks(hf) == []
    grad_mask = EdgeMask.zeros(graph, requires_grad=True)
    run(graph, clean, patch=patch, mask=grad_mask).sum().backward()
    assert all_hooks(hf) == []

    # rejected before the forward: a patch of the wrong shape
    with pytest.raises(MechscopeError, match="patch has shape"):
        run(graph, clean, patch=patch[:, :, :3], mask=EdgeMask.ones(graph))
    assert all_hooks(hf) == []

    # raised inside the forward, while the engine's hooks are registered
    class Boom(RuntimeError):
        pass

    def explode(module, args, output):
        raise Boom("raised inside the forward")

    last_mlp = hf.get_submodule(graph.adapter.layer_path(graph.adapter.n_layers - 1, graph.adapter.mlp))
    handle = last_mlp.register_forward_hook(explode)
    try:
        with pytest.raises(Boom):
            run(graph, clean, patch=patch, mask=EdgeMask.ones(graph))
        with pytest.raises(Boom):
            run(graph, clean, patch=patch, mask=EdgeMask.zeros(graph, requires_grad=True))
        with pytest.raises(Boom):
            source_outputs(graph, clean)
    finally:
        handle.remove()
    assert all_hooks(hf) == []

    # a patch of another dtype is cast to the model's, not a torch error from deep inside
    same = run(graph, clean, patch=patch.double(), mask=EdgeMask.ones(graph))
    assert torch.equal(same, run(graph, clean, patch=patch, mask=EdgeMask.ones(graph)))
    assert all_hooks(hf) == []

    # and the model still runs clean afterwards
    assert torch.equal(run(graph, clean), hf(input_ids=clean).logits)


# masks on disk ------------------------------------------------------------------


@pytest.mark.parametrize("spec", TINY)
def test_edge_mask_save_load_round_trip(spec, tmp_path):
    graph = graph_of(spec)
    clean, _, patch = prompts(graph)
    mask = EdgeMask.random(graph, 0.4, seed=3)
    first = next(iter(mask.tensors))
    mask.tensors[first][0, 0] = 0.25  # a fractional entry survives too
    path = tmp_path / "mask.safetensors"
    mask.save(path, graph)
    assert [p.name for p in tmp_path.iterdir()] == ["mask.safetensors"]  # no temp file left

    loaded = EdgeMask.load(path, graph)
    assert set(loaded.tensors) == set(mask.tensors)
    for k, t in mask.tensors.items():
        assert torch.equal(loaded.tensors[k], t)
    assert torch.equal(run(graph, clean, patch=patch, mask=loaded), run(graph, clean, patch=patch, mask=mask))

    other = "random:gpt2-tiny" if spec != "random:gpt2-tiny" else "random:llama-tiny"
    with pytest.raises(MechscopeError, match="was made for model"):
        EdgeMask.load(path, graph_of(other))


def test_edge_mask_load_refuses_same_architecture_other_weights(tmp_path):
    graph = graph_of("random:gpt2-tiny")
    path = tmp_path / "mask.safetensors"
    EdgeMask.ones(graph).save(path, graph)
    with pytest.raises(MechscopeError, match="rebuild it on this model"):
        EdgeMask.load(path, graph_of("random:gpt2-tiny:1"))


# edge names -------------------------------------------------------------------


def test_unknown_edge_names_raise_with_closest_name():
    graph = graph_of("random:llama-tiny")
    with pytest.raises(MechscopeError, match=r"did you mean 'a1\.h2\.q'"):
        graph.edge("a0.h1->a1.h22.q")
    with pytest.raises(MechscopeError, match=r"did you mean .*'a0\.h3'"):
        graph.edge("a0.h9->logits")
    with pytest.raises(MechscopeError, match=r"did you mean 'a1\.h2\.q'"):
        EdgeMask.from_edges(graph, ["embed->a1.h2.q", "a0.h1->a1.h22.q"])
    with pytest.raises(MechscopeError, match="not upstream"):
        graph.edge("a1.h0->a0.h1.q")
    with pytest.raises(MechscopeError, match="SRC->DEST"):
        graph.edge("embed-logits")
    with pytest.raises(MechscopeError, match=r"did you mean 'a1\.h2\.q'"):
        clean, corrupt = random_prompts(graph, 1, 4, seed=0)
        reference_patched_logits(graph, clean, corrupt, {"a0.h1->a1.h22.q": 1.0})
    assert graph.edge("a0.h1->a1.kv1.k").dest == "a1.kv1.k"  # GQA: one k receiver per kv head


# graph sizes -----------------------------------------------------------------


def test_gpt2_small_has_32491_edges():
    graph = Graph.from_model(load("random:gpt2-small"))
    assert graph.n_edges == 32491 == len(graph.edges())


def test_smollm2_has_70651_edges():
    graph = graph_of(SMOLLM2)
    assert graph.n_edges == 70651 == len(graph.edges())


# nnsight cross-check ------------------------------------------------------------


def _nnsight_head_patch(spec: str, layer: int, head: int, clean, corrupt) -> torch.Tensor:
    """Logits with head `head` of `layer` replaced by its corrupt output, patched with nnsight
    on a separate copy of the model (nnsight wraps the modules it traces)."""
    from nnsight import NNsight

    model = load(spec)
    a = model.adapter
    wrapped = NNsight(model.hf)
    out_proj = wrapped
    for part in a.layer_path(layer, a.out_proj).split("."):
        out_proj = out_proj[int(part)] if part.isdigit() else getattr(out_proj, part)
    cols = slice(head * a.d_head, (head + 1) * a.d_head)
    with torch.no_grad():
        with wrapped.trace(corrupt):
            z_corrupt = out_proj.input.save()
        with wrapped.trace(clean):
            out_proj.input[..., cols] = z_corrupt[..., cols]
            logits = wrapped.output.logits.save()
    return logits


@pytest.mark.parametrize(("spec", "layer", "head"), [("random:gpt2-tiny", 0, 2), (SMOLLM2, 4, 7)])
def test_head_patch_equals_nnsight(spec, layer, head):
    graph = graph_of(spec)
    clean, corrupt, patch = prompts(graph, n=2, seq=10, seed=7)
    expected = _nnsight_head_patch(spec, layer, head, clean, corrupt)
    node = f"a{layer}.h{head}"
    outgoing = [e for e in graph.edges() if e.src == node]
    assert len(outgoing) > 0
    got = run(graph, clean, patch=patch, mask=EdgeMask.from_edges(graph, outgoing))
    clean_logits = graph.model.hf(input_ids=clean).logits
    assert (expected - clean_logits).abs().max() > 1e-3, "the head patch should change the logits"
    assert (got - expected).abs().max() <= TOLERANCE


@pytest.mark.parametrize("spec", ["random:gpt2-tiny", "random:neox-tiny", "random:llama-tiny"])
def test_parameter_gradients_through_a_mask_match_finite_differences(spec):
    # Training through a fixed mask (planted-circuit models) needs the gradient
    # of every parameter; patched edges must subtract their share of it.
    model = load(spec, dtype=torch.float64)
    graph = Graph.from_model(model)
    hf = model.hf
    hf.requires_grad_(True)
    gen = torch.Generator().manual_seed(0)
    clean, bad = torch.randint(0, 1000, (2, 5), generator=gen), torch.randint(0, 1000, (2, 5), generator=gen)
    patch = source_outputs(graph, bad)
    mask = EdgeMask.random(graph, 0.5, seed=1)
    w = torch.randn(2, 5, hf.config.vocab_size, dtype=torch.float64, generator=gen)

    def loss() -> torch.Tensor:
        return (run(graph, clean, patch=patch, mask=mask, differentiable=True) * w).sum()

    hf.zero_grad()
    loss().backward()
    # llama computes rotary angles in float32: a larger step keeps its rounding out of the quotient
    h, tol = (1e-3, 3e-2) if "llama" in spec else (1e-6, 1e-4)
    for name, p in hf.named_parameters():
        idx = tuple(int(torch.randint(0, s, (1,), generator=gen)) for s in p.shape)
        with torch.no_grad():
            old = float(p[idx])
            p[idx] = old + h
            up = float(loss())
            p[idx] = old - h
            down = float(loss())
            p[idx] = old
        fd = (up - down) / (2 * h)
        analytic = 0.0 if p.grad is None else float(p.grad[idx])
        assert abs(fd - analytic) <= tol * max(1.0, abs(fd)), (name, fd, analytic)
    hf.requires_grad_(False)


def test_everything_patched_leaves_no_gradient_on_the_embedding():
    model = load("random:gpt2-tiny", dtype=torch.float64)
    graph = Graph.from_model(model)
    model.hf.requires_grad_(True)
    clean, bad = torch.tensor([[1, 2, 3]]), torch.tensor([[4, 5, 6]])
    out = run(graph, clean, patch=source_outputs(graph, bad), mask=EdgeMask.ones(graph), differentiable=True)
    out.sum().backward()
    assert float(model.hf.transformer.wpe.weight.grad.abs().max()) == 0.0
    model.hf.requires_grad_(False)
