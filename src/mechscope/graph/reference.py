"""A naive reference implementation of edge patching, to check the engine against.

Written independently of `mechscope.graph.engine` and on purpose simple and slow:
no shared buffers, no custom autograd, no mask matrices. It knows each family's
module names and q/k/v feature layout itself (it does not read the adapter's
`Projection` tables), and computes everything with Python loops:

1. Run the model on the corrupt prompts and record every source output:
   ``embed`` is the input of the first decoder layer, head ``a{l}.h{h}`` is
   ``z_h @ W_O[h]^T`` where ``z`` is the input of the attention output
   projection (a loop over heads, explicit weight slices, no bias), ``m{l}`` is
   the MLP output. Where a norm follows attention before the residual add
   (Gemma-2/3, OLMo-2), head h's output is ``z_h @ W_O[h]^T * g / rms(o)`` with
   ``o`` the projection's full output and ``g`` the norm's gain (``1 + w`` for
   Gemma): the heads' shares of the normalised sum. Where a norm follows the MLP,
   ``m{l}`` is that norm's output.
2. Run the model on the clean prompts with hooks that record the same current
   source outputs as the forward progresses and, for each receiver that has
   patched edges, compute its input by hand::

       input_r = residual + sum over edges u->r of coef * (patch_u - current_u)

   For a q/k/v receiver the hook calls the HF norm module on that input and the
   full HF projection module (``Linear``/``Conv1D``, fused or not) on the result,
   and keeps only that head's output features (no norm for OLMo-2, which has
   none in front of attention); any QK-norm and soft-capping then run inside HF's
   attention on what the projection returned. An MLP or the logits reads the
   patched input through a pre-hook on its norm (on the MLP itself for OLMo-2).

Only for tiny models and a few edges (and for checks on real models, where it
costs two forward passes plus a norm and a projection per patched receiver).

>>> import torch
>>> from mechscope.models import load
>>> from mechscope.graph import Graph
>>> graph = Graph.from_model(load("random:gpt2-tiny"))
>>> clean, bad = torch.tensor([[11, 12, 13]]), torch.tensor([[21, 22, 23]])
>>> out = reference_patched_logits(graph, clean, bad, {"a0.h1->a1.h2.q": 1.0})
>>> tuple(out.shape)
(1, 3, 49152)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from mechscope.errors import MechscopeError
from mechscope.graph.structure import Graph
from mechscope.models.placement import onloaded

__all__ = ["reference_patched_logits", "reference_source_outputs"]


@dataclass(frozen=True)
class _Layout:
    """Where things live in one family, written out from the HF modelling code."""

    layers: str  # path of the decoder layer list
    final_norm: str
    attn_norm: str | None  # relative to a layer; None: attention reads the layer input (OLMo-2)
    mlp_in: str  # module whose first input is the residual stream entering the MLP branch
    mlp_out: str  # module whose output is added to the residual stream after the MLP
    out_proj: str
    out_conv1d: bool  # GPT-2: weight stored [in, out]
    parallel: bool  # GPT-NeoX: MLP reads the layer input, not the post-attention residual
    n_heads: int
    n_kv: int
    d_model: int
    d_head: int
    family: str
    attn_post: str | None = None  # norm between attention output and residual add
    gain_plus_one: bool = False  # Gemma's RMSNorm multiplies by 1 + weight

    def qkv_module(self, kind: str) -> str:
        if self.family == "gpt2":
            return "attn.c_attn"
        if self.family == "gpt_neox":
            return "attention.query_key_value"
        if self.family == "phi3":
            return "self_attn.qkv_proj"
        return f"self_attn.{kind}_proj"

    def qkv_features(self, kind: str, head: int) -> slice:
        """The output features of `head` (a kv head for k/v with GQA) in `qkv_module(kind)`."""
        dh = self.d_head
        which = "qkv".index(kind)
        if self.family == "gpt2":
            # c_attn(x).split(d_model, dim=2) -> q | k | v, each [head, d_head]
            start = which * self.d_model + head * dh
        elif self.family == "gpt_neox":
            # query_key_value(x).view(..., head, 3 * d_head).chunk(3) -> [head, (q|k|v), d_head]
            start = head * 3 * dh + which * dh
        elif self.family == "phi3":
            # qkv_proj(x) -> [:H*dh] q | [H*dh : (H+KV)*dh] k | rest v
            start = {"q": 0, "k": self.n_heads * dh, "v": (self.n_heads + self.n_kv) * dh}[kind] + head * dh
        else:
            # separate q_proj / k_proj / v_proj, each [head, d_head]
            start = head * dh
        return slice(start, start + dh)


def _layout(graph: Graph) -> _Layout:
    config = graph.model.hf.config
    family = config.model_type
    if family in ("llama", "mistral", "qwen2", "qwen3", "phi3", "gemma2", "gemma3_text", "olmo2"):
        n_heads = config.num_attention_heads
        n_kv = getattr(config, "num_key_value_heads", None) or n_heads
        d_head = getattr(config, "head_dim", None) or config.hidden_size // n_heads
        shape = (n_heads, n_kv, config.hidden_size, d_head, family)
        if family in ("gemma2", "gemma3_text"):
            return _Layout(
                "model.layers", "model.norm", "input_layernorm", "pre_feedforward_layernorm",
                "post_feedforward_layernorm", "self_attn.o_proj", False, False, *shape,
                attn_post="post_attention_layernorm", gain_plus_one=True,
            )
        if family == "olmo2":
            return _Layout(
                "model.layers", "model.norm", None, "mlp", "post_feedforward_layernorm", "self_attn.o_proj",
                False, False, *shape, attn_post="post_attention_layernorm",
            )
        return _Layout(
            "model.layers", "model.norm", "input_layernorm", "post_attention_layernorm", "mlp",
            "self_attn.o_proj", False, False, *shape,
        )
    if family == "gpt2":
        n_heads = config.n_head
        return _Layout(
            "transformer.h", "transformer.ln_f", "ln_1", "ln_2", "mlp", "attn.c_proj", True, False,
            n_heads, n_heads, config.n_embd, config.n_embd // n_heads, family,
        )
    if family == "gpt_neox":
        n_heads = config.num_attention_heads
        return _Layout(
            "gpt_neox.layers", "gpt_neox.final_layer_norm", "input_layernorm", "post_attention_layernorm",
            "mlp", "attention.dense", False, bool(config.use_parallel_residual),
            n_heads, n_heads, config.hidden_size, config.hidden_size // n_heads, family,
        )
    raise MechscopeError(f"the reference patcher does not know architecture {family!r}")


_RECEIVER = re.compile(r"^a(\d+)\.(h|kv)(\d+)\.([qkv])$|^m(\d+)$|^logits$")


def _parse_receiver(dest: str, lay: _Layout) -> tuple:
    """``("q", layer, head)``, ``("k", layer, kv_head)``, ``("mlp", layer)`` or ``("logits",)``."""
    m = _RECEIVER.match(dest)
    if m is None:
        raise MechscopeError(f"reference patcher: cannot parse receiver {dest!r}")
    if dest == "logits":
        return ("logits",)
    if m.group(5) is not None:
        return ("mlp", int(m.group(5)))
    layer, unit, index, kind = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
    if kind == "q" and unit != "h":
        raise MechscopeError(f"reference patcher: a query receiver is per head, got {dest!r}")
    if kind in "kv" and (unit == "kv") != (lay.n_kv != lay.n_heads):
        raise MechscopeError(f"reference patcher: receiver {dest!r} does not match {lay.n_kv} kv heads")
    return (kind, layer, index)


def _first_arg(args, kwargs) -> torch.Tensor:
    return args[0] if args else kwargs["hidden_states"]


class _Recorder:
    """Hooks that record every source output of one forward pass into `self.out`."""

    def __init__(self, graph: Graph, lay: _Layout):
        self.graph, self.lay = graph, lay
        self.out: dict[str, torch.Tensor] = {}
        self.busy = False  # set while a hook calls modules itself

    def register(self, handles: list) -> None:
        hf, lay = self.graph.model.hf, self.lay
        layers = hf.get_submodule(lay.layers)
        handles.append(layers[0].register_forward_pre_hook(self._embed, with_kwargs=True))
        for i, layer in enumerate(layers):
            post = layer.get_submodule(lay.attn_post) if lay.attn_post else None
            handles.append(layer.get_submodule(lay.out_proj).register_forward_hook(self._heads(i, post)))
            handles.append(layer.get_submodule(lay.mlp_out).register_forward_hook(self._mlp(i)))

    def _embed(self, module, args, kwargs):
        if not self.busy:
            self.out["embed"] = _first_arg(args, kwargs).detach().clone()

    def _heads(self, layer: int, post):
        lay = self.lay

        def hook(module, args, output):
            if self.busy:
                return
            z = args[0]
            with onloaded(module):  # a weight offloaded by a device map is back in its store after forward
                w = module.weight.clone()  # Linear: [d_model, H*dh]; Conv1D: [H*dh, d_model]
            if post is not None:
                # RMSNorm(o) = o * gain / sqrt(mean(o^2) + eps): fix the divisor at the full output's
                eps = post.eps if hasattr(post, "eps") else post.variance_epsilon
                divisor = torch.sqrt(output.double().pow(2).mean(-1, keepdim=True) + eps)
                with onloaded(post):
                    gain = post.weight.double() + (1.0 if lay.gain_plus_one else 0.0)
            for h in range(lay.n_heads):
                cols = slice(h * lay.d_head, (h + 1) * lay.d_head)
                if lay.out_conv1d:
                    y = z[..., cols] @ w[cols, :]
                else:
                    y = z[..., cols] @ w[:, cols].T
                if post is not None:
                    y = (y.double() * gain / divisor).to(y.dtype)
                self.out[f"a{layer}.h{h}"] = y.detach().clone()

        return hook

    def _mlp(self, layer: int):
        def hook(module, args, output):
            if not self.busy:
                y = output[0] if isinstance(output, tuple) else output
                self.out[f"m{layer}"] = y.detach().clone()

        return hook


def _run_with(graph: Graph, ids, attention_mask, setup) -> torch.Tensor:
    handles: list = []
    try:
        setup(handles)
        with torch.no_grad():
            return graph.model.hf(input_ids=ids, attention_mask=attention_mask, use_cache=False).logits
    finally:
        for h in handles:
            h.remove()


def reference_source_outputs(graph: Graph, ids: torch.Tensor, attention_mask=None) -> dict[str, torch.Tensor]:
    """Every source node's output on `ids`, by name, each ``[batch, seq, d_model]``."""
    rec = _Recorder(graph, _layout(graph))
    _run_with(graph, ids, attention_mask, rec.register)
    return rec.out


def reference_patched_logits(
    graph: Graph,
    clean_ids: torch.Tensor,
    corrupt_ids: torch.Tensor,
    edges: dict[str, float],
    attention_mask: torch.Tensor | None = None,
    corrupt_attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Logits ``[batch, seq, vocab]`` on `clean_ids` with `edges` patched from `corrupt_ids`.

    `edges` maps edge names (``"a0.h1->a1.h2.q"``) to coefficients: 1 reads the
    corrupt value of the source, 0 its current value, fractions interpolate.
    """
    lay = _layout(graph)
    if corrupt_attention_mask is None:
        corrupt_attention_mask = attention_mask
    patch = reference_source_outputs(graph, corrupt_ids, corrupt_attention_mask)

    # receiver name -> list of (source name, coefficient)
    incoming: dict[str, list[tuple[str, float]]] = {}
    for name, coef in edges.items():
        edge = graph.edge(name)  # validates the name against the graph
        _parse_receiver(edge.dest, lay)
        incoming.setdefault(edge.dest, []).append((edge.src, float(coef)))

    rec = _Recorder(graph, lay)
    hf = graph.model.hf
    layers = hf.get_submodule(lay.layers)
    resid: dict[int, torch.Tensor] = {}

    def patched_input(receiver: str, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        for src, coef in incoming.get(receiver, []):
            x = x + coef * (patch[src] - rec.out[src])
        return x

    def save_resid(layer: int):
        def hook(module, args):
            if not rec.busy:
                resid[layer] = args[0]

        return hook

    def qkv_hook(layer: int, kinds: str):
        norm = layers[layer].get_submodule(lay.attn_norm) if lay.attn_norm else (lambda x: x)

        def hook(module, args, output):
            if rec.busy:
                return None
            out = output.clone()
            for kind in kinds:
                n = lay.n_heads if kind == "q" else lay.n_kv
                unit = "h" if kind == "q" or lay.n_kv == lay.n_heads else "kv"
                for head in range(n):
                    receiver = f"a{layer}.{unit}{head}.{kind}"
                    if receiver not in incoming:
                        continue
                    x = patched_input(receiver, resid[layer])
                    rec.busy = True
                    try:
                        y = module(norm(x))  # the full HF projection on this receiver's input
                    finally:
                        rec.busy = False
                    cols = lay.qkv_features(kind, head)
                    out[..., cols] = y[..., cols]
            return out

        return hook

    def input_pre_hook(receiver: str):
        def hook(module, args):
            if rec.busy:
                return None
            return (patched_input(receiver, args[0]),) + tuple(args[1:])

        return hook

    def setup(handles: list) -> None:
        rec.register(handles)
        for i, layer in enumerate(layers):
            if lay.attn_norm is None:
                handles.append(layer.register_forward_pre_hook(
                    lambda m, args, kwargs, f=save_resid(i): f(m, (_first_arg(args, kwargs),)), with_kwargs=True))
            else:
                handles.append(layer.get_submodule(lay.attn_norm).register_forward_pre_hook(save_resid(i)))
            for path in sorted({lay.qkv_module(k) for k in "qkv"}):
                kinds = "".join(k for k in "qkv" if lay.qkv_module(k) == path)
                handles.append(layer.get_submodule(path).register_forward_hook(qkv_hook(i, kinds)))
            if f"m{i}" in incoming:
                handles.append(layer.get_submodule(lay.mlp_in).register_forward_pre_hook(input_pre_hook(f"m{i}")))
        if "logits" in incoming:
            handles.append(hf.get_submodule(lay.final_norm).register_forward_pre_hook(input_pre_hook("logits")))

    return _run_with(graph, clean_ids, attention_mask, setup)
