"""Architecture adapters: where each component lives in a Hugging Face model.

An adapter never re-implements a model. It names the modules that the graph
engine hooks (the norms in front of attention, MLP and unembedding, the q/k/v
projections, the attention output projection, the MLP) and says how the
projection outputs split into heads, so that every head's query, key and value
can be computed from its own input.

Weights are always viewed as ``[out_features, in_features]`` (GPT-2's
``Conv1D`` stores the transpose; the adapter hides that).

The families themselves (one builder each, with its random shapes and the
config attributes it refuses) are in `mechscope.models.families`; this module
holds the two records every family fills in, `Projection` and `Adapter`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from mechscope.errors import MechscopeError

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

    Paths are relative to one decoder layer, except `layers`, `final_norm`,
    `unembed` and `embed`, which are relative to the whole model.

    Norms around the two blocks of a layer (``None``: the family has none there):

    - `attn_norm`, `mlp_norm`: in front of attention / the MLP (pre-norms). OLMo-2
      has neither: its attention and MLP read the residual stream directly.
    - `attn_post_norm`, `mlp_post_norm`: applied to the block's output before the
      residual add (Gemma-2, Gemma-3, OLMo-2). A head's output is then its share
      of the normalised sum, see `post_norm_parts`.
    - `norm_offset`: RMSNorm multiplies by ``weight + norm_offset`` (1 for Gemma).

    `qk_norm` says where a norm sits between a q/k receiver's projection and the
    attention scores: ``"none"``, ``"per-head"`` (Qwen3, Gemma-3: each head's query
    normalised alone) or ``"all-heads"`` (OLMo-2: one norm over the layer's whole
    query vector). The engine never calls it; it is recorded for documentation
    and for `mechscope graph`.
    """

    family: str
    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_model: int
    d_head: int
    parallel: bool  # GPT-NeoX: attention and MLP both read the layer input
    layers: str
    attn_norm: str | None
    mlp_norm: str | None
    mlp: str
    out_proj: str
    out_proj_transposed: bool
    projections: tuple[Projection, ...]
    final_norm: str
    unembed: str
    embed: str
    down_proj: str  # the MLP's output projection: its input holds the MLP's hidden units
    down_proj_transposed: bool = False  # GPT-2's Conv1D
    attn_post_norm: str | None = None
    mlp_post_norm: str | None = None
    norm_offset: float = 0.0
    qk_norm: str = "none"
    extra: dict[str, str] = field(default_factory=dict)

    def layer(self, model: nn.Module, index: int) -> nn.Module:
        return model.get_submodule(self.layers)[index]

    def layer_path(self, index: int, sub: str = "") -> str:
        return f"{self.layers}.{index}" + (f".{sub}" if sub else "")

    @property
    def attn(self) -> str:
        """Path of the attention module in a layer (``self_attn``, ``attn``, ``attention``)."""
        return self.out_proj.rsplit(".", 1)[0]

    @property
    def mlp_input(self) -> str:
        """The module whose first input is the residual stream entering the MLP branch."""
        return self.mlp_norm if self.mlp_norm is not None else self.mlp

    @property
    def mlp_output(self) -> str:
        """The module whose output is the MLP's contribution to the residual stream."""
        return self.mlp_post_norm if self.mlp_post_norm is not None else self.mlp

    def attn_norm_module(self, layer: nn.Module) -> nn.Module:
        """The norm in front of attention in one decoder layer (identity if there is none)."""
        return nn.Identity() if self.attn_norm is None else layer.get_submodule(self.attn_norm)

    def out_weight(self, model: nn.Module, index: int) -> torch.Tensor:
        """Attention output weight as ``[d_model, n_heads * d_head]``."""
        w = self.layer(model, index).get_submodule(self.out_proj).weight
        return w.t() if self.out_proj_transposed else w

    def down_weight(self, model: nn.Module, index: int) -> torch.Tensor:
        """The MLP's down projection weight as ``[d_model, d_mlp]`` (a view)."""
        w = self.layer(model, index).get_submodule(self.down_proj).weight
        return w.t() if self.down_proj_transposed else w

    def mlp_width(self, model: nn.Module, index: int) -> int:
        """Number of hidden units of layer `index`'s MLP."""
        return self.down_weight(model, index).shape[1]

    def post_norm_parts(self, norm: nn.Module, parts: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
        """Each part's share of ``norm(total)``, where ``total = parts.sum(-2)``.

        parts: ``[batch, seq, n_parts, d_model]``; total: ``[batch, seq, d_model]``.
        An RMSNorm is linear once its scale ``1 / rms(total)`` is fixed, so part i
        gets ``parts[..., i, :] * (weight + norm_offset) / rms(total)`` and the parts
        sum to the norm's output (to rounding). Computed in float32 at least, like HF.

        >>> from torch import nn
        >>> norm = nn.RMSNorm(4, eps=1e-6)
        >>> a = Adapter("x", 1, 2, 2, 4, 2, False, "layers", None, None, "mlp", "o", False, (), "n", "u", "e", "d")
        >>> parts = torch.randn(1, 3, 2, 4)
        >>> torch.allclose(a.post_norm_parts(norm, parts, parts.sum(-2)).sum(-2), norm(parts.sum(-2)), atol=1e-6)
        True
        """
        eps = getattr(norm, "eps", None)
        if eps is None:
            eps = getattr(norm, "variance_epsilon", None)
        if eps is None:
            eps = torch.finfo(torch.float32).eps
        work = torch.promote_types(parts.dtype, torch.float32)
        scale = torch.rsqrt(total.to(work).pow(2).mean(-1, keepdim=True) + eps)  # [B, S, 1]
        weight = norm.weight.to(work) + self.norm_offset
        return (parts.to(work) * scale.unsqueeze(-2) * weight).to(parts.dtype)
