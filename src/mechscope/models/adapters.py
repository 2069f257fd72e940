"""Architecture adapters: where each component lives in a Hugging Face model.

An adapter never re-implements a model. It names the modules that the graph
engine hooks (the norms in front of attention, MLP and unembedding, the q/k/v
projections, the attention output projection, the MLP) and says how the
projection outputs split into heads, so that every head's query, key and value
can be computed from its own input.

Weights are always viewed as ``[out_features, in_features]`` (GPT-2's
``Conv1D`` stores the transpose; the adapter hides that).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from mechscope.errors import MechscopeError

SUPPORTED_ARCHITECTURES = {
    "llama": "Llama, SmolLM2",
    "mistral": "Mistral",
    "qwen2": "Qwen2",
    "gpt2": "GPT-2",
    "gpt_neox": "GPT-NeoX, Pythia",
}


@dataclass(frozen=True)
class Projection:
    """One module whose output holds some of a layer's q, k or v heads.

    `heads` maps a kind ("q", "k", "v") to ``(offset, step, n_heads)``: output
    feature ``offset + h * step + j`` is feature j of head h. That covers
    separate projections (Llama), GPT-2's fused ``[q | k | v]`` and GPT-NeoX's
    interleaved ``[head, (q, k, v), d_head]`` layouts. `transposed` is True for
    GPT-2's Conv1D, which stores its weight as ``[in, out]``.
    """

    path: str
    heads: dict[str, tuple[int, int, int]]
    d_head: int
    transposed: bool = False

    def weight(self, module: nn.Module) -> torch.Tensor:
        """The weight as ``[out_features, in_features]`` (a view, no copy)."""
        w = module.weight
        return w.t() if self.transposed else w

    def head_weight(self, module: nn.Module, kind: str) -> torch.Tensor:
        """``[n_heads, d_head, in_features]`` view of one kind's rows of the weight."""
        w = self.weight(module)
        offset, step, n = self.heads[kind]
        s_out, s_in = w.stride()
        return w.as_strided((n, self.d_head, w.shape[1]), (step * s_out, s_out, s_in), w.storage_offset() + offset * s_out)

    def head_bias(self, module: nn.Module, kind: str) -> torch.Tensor | None:
        """``[n_heads, d_head]`` view of one kind's bias, or None."""
        b = getattr(module, "bias", None)
        if b is None:
            return None
        offset, step, n = self.heads[kind]
        return b.as_strided((n, self.d_head), (step * b.stride(0), b.stride(0)), b.storage_offset() + offset * b.stride(0))

    def feature_index(self, kind: str) -> torch.Tensor:
        """``[n_heads * d_head]`` output features of one kind, head-major."""
        offset, step, n = self.heads[kind]
        return (offset + torch.arange(n)[:, None] * step + torch.arange(self.d_head)).reshape(-1)

    def covers_output(self, kind: str, out_features: int) -> bool:
        offset, step, n = self.heads[kind]
        return offset == 0 and step == self.d_head and n * self.d_head == out_features


@dataclass(frozen=True)
class Adapter:
    """Names of a family's components and the head layout of its projections.

    Paths are relative to one decoder layer, except `layers`, `final_norm` and
    `unembed`, which are relative to the whole model.
    """

    family: str
    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_model: int
    d_head: int
    parallel: bool  # GPT-NeoX: attention and MLP both read the layer input
    layers: str
    attn_norm: str
    mlp_norm: str
    mlp: str
    out_proj: str
    out_proj_transposed: bool
    projections: tuple[Projection, ...]
    final_norm: str
    unembed: str
    embed: str
    extra: dict[str, str] = field(default_factory=dict)

    def layer(self, model: nn.Module, index: int) -> nn.Module:
        return model.get_submodule(self.layers)[index]

    def layer_path(self, index: int, sub: str = "") -> str:
        return f"{self.layers}.{index}" + (f".{sub}" if sub else "")

    def out_weight(self, model: nn.Module, index: int) -> torch.Tensor:
        """Attention output weight as ``[d_model, n_heads * d_head]``."""
        w = self.layer(model, index).get_submodule(self.out_proj).weight
        return w.t() if self.out_proj_transposed else w


def _llama_like(config, family: str) -> Adapter:
    n_heads = config.num_attention_heads
    n_kv = getattr(config, "num_key_value_heads", None) or n_heads
    d_model = config.hidden_size
    d_head = getattr(config, "head_dim", None) or d_model // n_heads
    projections = (
        Projection("self_attn.q_proj", {"q": (0, d_head, n_heads)}, d_head),
        Projection("self_attn.k_proj", {"k": (0, d_head, n_kv)}, d_head),
        Projection("self_attn.v_proj", {"v": (0, d_head, n_kv)}, d_head),
    )
    return Adapter(
        family=family, n_layers=config.num_hidden_layers, n_heads=n_heads, n_kv_heads=n_kv,
        d_model=d_model, d_head=d_head, parallel=False, layers="model.layers",
        attn_norm="input_layernorm", mlp_norm="post_attention_layernorm", mlp="mlp",
        out_proj="self_attn.o_proj", out_proj_transposed=False, projections=projections,
        final_norm="model.norm", unembed="lm_head", embed="model.embed_tokens",
    )


def _gpt2(config) -> Adapter:
    n_heads, d_model = config.n_head, config.n_embd
    d_head = d_model // n_heads
    heads = {kind: (i * d_model, d_head, n_heads) for i, kind in enumerate("qkv")}
    return Adapter(
        family="gpt2", n_layers=config.n_layer, n_heads=n_heads, n_kv_heads=n_heads,
        d_model=d_model, d_head=d_head, parallel=False, layers="transformer.h",
        attn_norm="ln_1", mlp_norm="ln_2", mlp="mlp", out_proj="attn.c_proj",
        out_proj_transposed=True, projections=(Projection("attn.c_attn", heads, d_head, transposed=True),),
        final_norm="transformer.ln_f", unembed="lm_head", embed="transformer.wte",
    )


def _gpt_neox(config) -> Adapter:
    n_heads, d_model = config.num_attention_heads, config.hidden_size
    d_head = d_model // n_heads
    # query_key_value output is laid out [head, (q|k|v), d_head]
    heads = {kind: (i * d_head, 3 * d_head, n_heads) for i, kind in enumerate("qkv")}
    return Adapter(
        family="gpt_neox", n_layers=config.num_hidden_layers, n_heads=n_heads,
        n_kv_heads=n_heads, d_model=d_model, d_head=d_head,
        parallel=bool(config.use_parallel_residual), layers="gpt_neox.layers",
        attn_norm="input_layernorm", mlp_norm="post_attention_layernorm", mlp="mlp",
        out_proj="attention.dense", out_proj_transposed=False,
        projections=(Projection("attention.query_key_value", heads, d_head),),
        final_norm="gpt_neox.final_layer_norm", unembed="embed_out", embed="gpt_neox.embed_in",
    )


def adapter_for(config) -> Adapter:
    """The adapter for a transformers config, or a one-line error listing the supported ones.

    >>> from transformers import GPT2Config
    >>> adapter_for(GPT2Config(n_layer=2, n_head=4, n_embd=64)).n_heads
    4
    """
    model_type = getattr(config, "model_type", None)
    if model_type in ("llama", "mistral", "qwen2"):
        return _llama_like(config, model_type)
    if model_type == "gpt2":
        return _gpt2(config)
    if model_type == "gpt_neox":
        return _gpt_neox(config)
    supported = ", ".join(f"{k} ({v})" for k, v in SUPPORTED_ARCHITECTURES.items())
    raise MechscopeError(
        f"architecture {model_type!r} is not supported; supported are {supported}. "
        "Open an issue with the model id to request an adapter."
    )
