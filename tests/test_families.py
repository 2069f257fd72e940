"""Every family's adapter: exact patching against HF and the naive reference, in every head layout.

Families: Gemma-2, Gemma-3 (text), Qwen3, Phi-3, OLMo-2, Mistral, plus Llama, Qwen2,
GPT-2 and GPT-NeoX; layouts multi-head (mha), multi-query (mqa) and grouped-query
(gqa) where the config allows them. Tiny models come from the families' own
records (`mechscope.models.families`), the `hf:` path from `save_pretrained`.
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
from mechscope.models import FAMILIES, adapter_for, load
from mechscope.models.families import family_named
from mechscope.models.families import random_config

NEW = ["gemma2", "gemma3", "qwen3", "phi3", "olmo2", "mistral"]
LAYOUT_SPECS = [
    f"random:{fam}-tiny-{layout}" for fam in NEW for layout in family_named(fam).layouts
] + ["random:llama-tiny-mha", "random:llama-tiny-mqa", "random:qwen2-tiny-mqa"]


@functools.lru_cache(maxsize=None)
def graph_of(spec: str, dtype: torch.dtype = torch.float32) -> Graph:
    return Graph.from_model(load(spec, dtype=dtype))


# verify, every family and layout --------------------------------------------------


@pytest.mark.parametrize("spec", LAYOUT_SPECS)
def test_verify_is_exact_in_float32(spec):
    graph = graph_of(spec)
    a = graph.adapter
    layout = spec.rsplit("-", 1)[1]
    assert a.n_kv_heads == {"mha": a.n_heads, "mqa": 1, "gqa": 2}[layout]
    report = verify(graph)
    for key in ("max_abs_err_unpatched", "max_abs_err_all_patched", "max_abs_err_edge_patch"):
        assert report[key] <= TOLERANCE, str(report)
    assert report["single_edge_effect"] > 1e-3, str(report)


@pytest.mark.parametrize("family", NEW)
def test_multi_edge_patch_with_padding_equals_reference(family):
    """Engine vs the naive reference on 24 random edges with fractional coefficients and right padding."""
    graph = graph_of(f"random:{family}-tiny")
    clean, corrupt = random_prompts(graph, 3, 10, seed=5)
    attention_mask = torch.ones_like(clean)
    attention_mask[0, -3:] = 0
    patch = source_outputs(graph, corrupt, attention_mask)
    gen = torch.Generator().manual_seed(2)
    edges = graph.edges()
    # edges into every kind of receiver, so q/k/v (behind any QK-norm), MLPs and logits are all hit
    by_kind: dict[str, list] = {}
    for e in edges:
        by_kind.setdefault(graph.group(e.group).kind, []).append(e)
    chosen = []
    for kind, group in sorted(by_kind.items()):
        chosen += [group[i] for i in torch.randperm(len(group), generator=gen)[:5].tolist()]
    coefs = {e.name: (1.0 if i % 2 else 0.5) for i, e in enumerate(chosen)}
    mask = EdgeMask.zeros(graph)
    for e in chosen:
        mask.tensors[e.group][e.row, e.col] = coefs[e.name]
    expected = reference_patched_logits(graph, clean, corrupt, coefs, attention_mask=attention_mask)
    got = run(graph, clean, attention_mask, patch=patch, mask=mask)
    assert (expected - run(graph, clean, attention_mask)).abs().max() > 1e-3
    assert (got - expected).abs().max() <= TOLERANCE


# the features the tiny configs must exercise -------------------------------------


@pytest.mark.parametrize(("family", "attr", "off"), [
    ("gemma2", "sliding_window", 4096), ("gemma2", "attn_logit_softcapping", None),
    ("gemma2", "final_logit_softcapping", None), ("gemma3", "sliding_window", 4096),
    ("mistral", "sliding_window", 4096),
])
def test_tiny_configs_exercise_the_family_feature(family, attr, off):
    """Turning the feature off changes the logits of a 12-token prompt: the verify runs above test it."""
    graph = graph_of(f"random:{family}-tiny")
    hf = graph.model.hf
    ids = random_prompts(graph, 2, 12, seed=0)[0]
    with torch.no_grad():
        base = hf(input_ids=ids).logits
        old = getattr(hf.config, attr)
        setattr(hf.config, attr, off)
        for m in hf.modules():  # attention modules copy these at construction
            if attr == "sliding_window" and getattr(m, "sliding_window", None) is not None:
                m.sliding_window = off
            if attr == "attn_logit_softcapping" and hasattr(m, "attn_logit_softcapping"):
                m.attn_logit_softcapping = off
        try:
            changed = hf(input_ids=ids).logits
        finally:
            setattr(hf.config, attr, old)
            for m in hf.modules():
                if attr == "sliding_window" and getattr(m, "sliding_window", None) == off:
                    m.sliding_window = old
                if attr == "attn_logit_softcapping" and hasattr(m, "attn_logit_softcapping"):
                    m.attn_logit_softcapping = old
    assert (changed - base).abs().max() > 1e-4, f"{family}: {attr} does not act on the tiny model"
    assert torch.equal(hf(input_ids=ids).logits, base)


def test_gemma_embedding_is_scaled_by_sqrt_d_model():
    graph = graph_of("random:gemma2-tiny")
    hf = graph.model.hf
    ids = torch.tensor([[200, 300, 400]])
    embed = source_outputs(graph, ids)[0, 0]
    raw = hf.get_submodule("model.embed_tokens").weight[ids[0]]
    assert torch.allclose(embed, raw * 64**0.5, atol=1e-6)


# QK-norm: what an edge into a query behind the norm means -------------------------


def _queries_after_norm(graph: Graph, layer: int, run_fn) -> torch.Tensor:
    """The attention queries of `layer` after the QK-norm, ``[batch, seq, n_heads, d_head]``."""
    attn = graph.model.hf.get_submodule(graph.adapter.layer_path(layer, graph.adapter.attn))
    seen = {}
    norm = attn.q_norm

    def hook(module, args, output):
        seen["q"] = output.detach().clone()

    handle = norm.register_forward_hook(hook)
    try:
        run_fn()
    finally:
        handle.remove()
    q, a = seen["q"], graph.adapter
    if q.dim() == 4 and q.shape[1] == a.n_heads:  # Gemma-3 normalises [batch, head, seq, d_head]
        q = q.transpose(1, 2)
    return q.reshape(q.shape[0], q.shape[1], a.n_heads, a.d_head)


@pytest.mark.parametrize(("family", "others_move"), [("qwen3", False), ("gemma3", False), ("olmo2", True)])
def test_edge_into_a_query_enters_before_the_qk_norm(family, others_move):
    """An edge into a{l}.h{h}.q changes head h's query input; the QK-norm then runs on the result.

    Per-head norms (Qwen3, Gemma-3) leave every other head's query as it was; OLMo-2's
    norm over all heads together rescales them all. Engine and reference agree.
    """
    graph = graph_of(f"random:{family}-tiny")
    clean, corrupt = random_prompts(graph, 2, 8, seed=3)
    patch = source_outputs(graph, corrupt)
    layer = graph.adapter.n_layers - 1
    edge = graph.edge(f"embed->a{layer}.h1.q")
    mask = EdgeMask.from_edges(graph, [edge])
    q_clean = _queries_after_norm(graph, layer, lambda: run(graph, clean))
    q_patched = _queries_after_norm(graph, layer, lambda: run(graph, clean, patch=patch, mask=mask))
    q_ref = _queries_after_norm(graph, layer, lambda: reference_patched_logits(graph, clean, corrupt, {edge.name: 1.0}))
    assert (q_patched - q_ref).abs().max() <= TOLERANCE
    assert (q_patched[:, :, 1] - q_clean[:, :, 1]).abs().max() > 1e-3
    others = [h for h in range(graph.adapter.n_heads) if h != 1]
    moved = float((q_patched[:, :, others] - q_clean[:, :, others]).abs().max())
    assert (moved > 1e-6) == others_move, f"{family}: other heads moved by {moved}"


def test_edge_into_soft_capped_logits_enters_before_the_final_norm():
    """Gemma-2: patching embed->logits is ``cap * tanh(lm_head(norm(resid + d_embed)) / cap)``, by hand."""
    graph = graph_of("random:gemma2-tiny")
    hf, a = graph.model.hf, graph.adapter
    clean, corrupt = random_prompts(graph, 2, 8, seed=4)
    patch = source_outputs(graph, corrupt)
    current = source_outputs(graph, clean)
    seen = {}
    final_norm = hf.get_submodule(a.final_norm)
    handle = final_norm.register_forward_pre_hook(lambda m, args: seen.setdefault("resid", args[0].detach()))
    try:
        with torch.no_grad():
            hf(input_ids=clean)
    finally:
        handle.remove()
    cap = hf.config.final_logit_softcapping
    with torch.no_grad():
        x = seen["resid"] + (patch[0] - current[0])
        by_hand = cap * torch.tanh(hf.get_submodule(a.unembed)(final_norm(x)) / cap)
    got = run(graph, clean, patch=patch, mask=EdgeMask.from_edges(graph, [graph.edge("embed->logits")]))
    ref = reference_patched_logits(graph, clean, corrupt, {"embed->logits": 1.0})
    assert (got - by_hand).abs().max() <= TOLERANCE and (ref - by_hand).abs().max() <= TOLERANCE
    assert by_hand.abs().max() < cap  # the cap is what bounds them
    assert (by_hand - hf(input_ids=clean).logits).abs().max() > 1e-3


def test_head_outputs_behind_a_post_norm_are_shares_of_the_normalised_sum():
    """Gemma-2 and OLMo-2: the heads' outputs add up to the post-attention norm's output."""
    for family in ("gemma2", "olmo2"):
        graph = graph_of(f"random:{family}-tiny")
        hf, a = graph.model.hf, graph.adapter
        ids = random_prompts(graph, 2, 8, seed=1)[0]
        seen = {}
        post = hf.get_submodule(a.layer_path(1, a.attn_post_norm))
        handle = post.register_forward_hook(lambda m, args, out: seen.setdefault("out", out.detach()))
        try:
            outputs = source_outputs(graph, ids)
        finally:
            handle.remove()
        heads = outputs[[graph.node(f"a1.h{h}").index for h in range(a.n_heads)]]
        assert (heads.sum(0) - seen["out"]).abs().max() <= 1e-5, family


# post-norms: gradients through the shares of a normalised sum ---------------------


def _rmsnorm_float64(self, x, offset):
    eps = self.eps if hasattr(self, "eps") else self.variance_epsilon
    return (self.weight + offset) * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


@pytest.mark.parametrize("family", ["gemma2", "olmo2", "phi3"])
def test_mask_gradients_match_finite_differences(family):
    graph = Graph.from_model(load(f"random:{family}-tiny", dtype=torch.float64))
    for module in graph.model.hf.modules():
        if type(module).__name__.endswith("RMSNorm"):
            module.forward = types.MethodType(
                lambda self, x, o=graph.adapter.norm_offset: _rmsnorm_float64(self, x, o), module)
    clean, corrupt = random_prompts(graph, 2, 6, seed=0)
    patch = source_outputs(graph, corrupt)
    gen = torch.Generator().manual_seed(1)
    vocab = graph.model.hf.config.vocab_size
    weights = torch.randn(vocab, generator=gen, dtype=torch.float64) / vocab**0.5
    values = {g.name: 0.2 + 0.6 * torch.rand(g.shape, generator=gen, dtype=torch.float64) for g in graph.groups}
    mask = EdgeMask({k: v.clone().requires_grad_(True) for k, v in values.items()})
    (run(graph, clean, patch=patch, mask=mask)[:, -1] * weights).sum().backward()
    grads = mask.grads()
    for name in ["a0.q", "a1.k", "a1.v", "m0", "m1", "logits"]:
        g = grads[name]
        index = int(g.abs().flatten().argmax())
        row, col = divmod(index, g.shape[1])

        def metric_at(delta: float) -> float:
            tensors = {k: v.clone() for k, v in values.items()}
            tensors[name][row, col] += delta
            with torch.no_grad():
                return float((run(graph, clean, patch=patch, mask=EdgeMask(tensors))[:, -1] * weights).sum())

        # eager attention takes its softmax in float32 even in a float64 model: a wide step
        # keeps that rounding out of the difference quotient
        fd = (metric_at(1e-2) - metric_at(-1e-2)) / 2e-2
        assert abs(fd - float(g[row, col])) <= 2e-3 * max(abs(fd), 1e-6), (name, fd, float(g[row, col]))


# hf:<local dir> -------------------------------------------------------------------


@pytest.mark.parametrize("family", NEW)
def test_hf_local_dir_saved_by_save_pretrained(family, tmp_path):
    from transformers import AutoModelForCausalLM

    tok = load("random:llama-tiny").tokenizer
    torch.manual_seed(0)
    hf = AutoModelForCausalLM.from_config(random_config(family, "tiny", vocab_size=len(tok)))
    hf.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    model = load(f"hf:{tmp_path}")
    assert model.adapter.family == family_named(family).name
    ids = torch.tensor([[300, 301, 302, 303]])
    with torch.no_grad():
        assert torch.allclose(model.hf(input_ids=ids).logits, hf.eval()(input_ids=ids).logits, atol=1e-5)
    report = verify(model, n_prompts=2, seq_len=8)
    assert report["passed"], str(report)


# what mechscope refuses -------------------------------------------------------------


def test_unhandled_config_attribute_is_named():
    config = random_config("gemma2", "tiny", vocab_size=100, attention_bias=True)
    with pytest.raises(MechscopeError, match=r"^config attribute attention_bias=True of this Gemma-2 model is not handled"):
        adapter_for(config)


def test_unhandled_architecture_lists_the_supported_ones():
    from transformers import BertConfig

    with pytest.raises(MechscopeError, match="architecture 'bert' is not supported; supported are llama") as err:
        adapter_for(BertConfig())
    assert "\n" not in str(err.value) and "gemma2" in str(err.value)


def test_cli_refuses_unhandled_attribute_in_one_line(tmp_path):
    import subprocess
    import sys

    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_config(random_config("olmo2", "tiny", vocab_size=300))
    hf.config.attention_bias = True  # as a checkpoint with a biased output projection would say
    hf.config.save_pretrained(tmp_path)
    out = subprocess.run([sys.executable, "-m", "mechscope", "verify", f"hf:{tmp_path}"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr
    lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
    assert lines == [lines[0]] and lines[0].startswith("error: config attribute attention_bias=True"), out.stderr


def test_every_family_has_tiny_and_small_shapes():
    for fam in FAMILIES.values():
        assert set(fam.shapes) == {"tiny", "small"} and fam.small_is
        config = random_config(fam.name, "small", vocab_size=1000)
        adapter = adapter_for(config)
        assert adapter.family == fam.name and adapter.layers == fam.layers


# bfloat16 ------------------------------------------------------------------------


@pytest.mark.parametrize("family", [f.spec_name for f in FAMILIES.values()])
def test_verify_in_bfloat16_against_hf_bfloat16(family):
    report = verify(f"random:{family}-tiny", dtype=torch.bfloat16)
    assert report["dtype"] == "bfloat16" and "bfloat16 run" in report["tolerance_rule"]
    assert report["passed"], str(report)
    # the tolerance is 16 bfloat16 units of the largest logit, not a blanket one
    assert report["tolerance"] < 0.1


def test_bfloat16_edge_scores_accumulate_in_float32():
    """In a bfloat16 model the mask, its gradient and EAP's scores stay float32 and track float32's."""
    from mechscope.discover.attribution import eap
    from mechscope.tasks import load_task

    scores = {}
    for dtype in (torch.float32, torch.bfloat16):
        model = load("random:gemma2-tiny", dtype=dtype)
        graph = Graph.from_model(model)
        scores[dtype] = eap(graph, load_task("ioi", n=8).encode(model.tokenizer))
    clean, corrupt = random_prompts(graph, 2, 6, seed=0)
    mask = EdgeMask.zeros(graph, requires_grad=True)
    run(graph, clean, patch=source_outputs(graph, corrupt), mask=mask)[:, -1].float().sum().backward()
    grad = mask.grads()["logits"]
    assert grad.dtype == torch.float32
    # a bfloat16 product would leave at most 8 significant bits in every entry
    assert any(float(v) != float(torch.tensor(float(v)).to(torch.bfloat16)) for v in grad.flatten())
    a = torch.cat([t.flatten() for t in scores[torch.float32].values()])
    b = torch.cat([t.flatten() for t in scores[torch.bfloat16].values()])
    assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.95


def test_cli_model_help_names_every_family():
    from mechscope.cli.main import MODEL_HELP

    for fam in FAMILIES.values():
        assert fam.spec_name in MODEL_HELP, fam.spec_name
