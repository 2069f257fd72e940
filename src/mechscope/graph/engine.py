"""Run a model with any set of edges patched, in one forward pass.

How it works (the design of AutoCircuit, without state left on the model):

- Every source node's current output is tapped where it enters the residual
  stream: the input of the first layer (``embed``), each head's share of the
  attention output projection (``a3.h5``), each MLP's output (``m3``). The tap
  writes ``patch - current`` into one buffer ``diff [n_sources, batch, seq, d_model]``.
- Every receiver computes its input as ``residual + mask @ diff[:n_upstream]``;
  all receivers of a layer share one matrix product, so a head's
  query reads the current value of its clean edges and the patch value of its
  patched ones. The q/k/v projections and the MLP, the final norm and the
  unembedding then run on those inputs; per-head q/k/v are computed from the
  adapter's weight slices.
- Gradients with respect to every mask entry come from custom autograd
  functions: ``d metric / d mask[r, s] = <diff[s], d metric / d input[r]>``.
  The buffers are shared across layers instead of being saved per layer, so
  backward memory is two buffers, not one per receiver group.

Hooks live only for the duration of a call and are removed on any exit.
An all-zero mask without gradients registers no hook: it costs a plain forward.
"""

from __future__ import annotations

import contextlib

from dataclasses import dataclass, field

import torch
from torch import nn

from mechscope.errors import MechscopeError
from mechscope.graph._grad import GradHooks
from mechscope.graph._forward import (
    ForwardHooks, ForwardState, Upstream, _Stop, first_source, plan, record_plan, sub_into,
)
from mechscope.graph.mask import EdgeMask
from mechscope.graph.structure import Graph, head_source_index, mlp_source_index
from mechscope.models.placement import input_device, on_device_of, onloaded


@dataclass
class _RunState:
    """Buffers of one patched forward pass (never stored on the model)."""

    patch: torch.Tensor | None = None  # [n_sources, B|1, S|1, D]
    diff: torch.Tensor | None = None  # [n_sources, B, S, D]: patch - current
    side: torch.Tensor | None = None  # grad wrt current outputs via patched edges
    score_diff: torch.Tensor | None = None  # EAP-IG: fixed (corrupt - clean) differences for mask grads
    record: torch.Tensor | None = None  # [n_sources, B, S, D] when recording
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)  # attention group -> [M, B, S, D]
    mlp_early: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [1, B, S, D]
    heads_sum: dict[int, torch.Tensor] = field(default_factory=dict)  # post-norm families: layer -> [B, S, D]
    # Without gradients, diff holds rows only for the sources a patched edge reads,
    # in node order: row of source j = prefix[j] (None: every source, row j = j).
    used: list[bool] | None = None
    prefix: list[int] | None = None

    def used_range(self, start: int, count: int) -> tuple[list[int], int]:
        """Offsets (within the block) of used sources in [start, start+count), and their first diff row."""
        if self.used is None:
            return list(range(count)), start
        return [i for i in range(count) if self.used[start + i]], self.prefix[start]


class _Tap(torch.autograd.Function):
    """Identity on a source output that fills its rows of the diff buffer.

    x: ``[batch, seq, d_model]`` (embed, MLP) or ``[batch, seq, head, d_model]``.
    Backward adds the gradient that reached the source through patched edges.
    """

    @staticmethod
    def forward(ctx, x, state: _RunState, start: int, per_head: bool):
        rows = x.detach().permute(2, 0, 1, 3) if per_head else x.detach().unsqueeze(0)
        stop = start + rows.shape[0]
        if state.record is not None:
            state.record[start:stop].copy_(rows)
        if state.diff is not None:
            offsets, row = state.used_range(start, rows.shape[0])
            if len(offsets) == rows.shape[0]:
                sub_into(state.diff[row : row + len(offsets)], state.patch[start:stop], rows)
            elif offsets:
                sel = torch.tensor(offsets)
                sub_into(state.diff[row : row + len(offsets)], state.patch[(sel + start).to(state.patch.device)],
                         rows[sel.to(rows.device)])
        ctx.state, ctx.start, ctx.stop, ctx.per_head = state, start, stop, per_head
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        side = ctx.state.side
        if side is None:
            return grad, None, None, None
        extra = side[ctx.start : ctx.stop]
        extra = extra.permute(1, 2, 0, 3) if ctx.per_head else extra[0]
        return grad + on_device_of(extra, grad), None, None, None


class _Delta(torch.autograd.Function):
    """What patched edges add to receiver inputs: ``mask [M, n] @ diff[start:start+n]`` -> ``[M, B, S, D]``.

    All receivers of a layer go through one call, so the diff buffer is read
    once per layer (the product is memory-bound).
    """

    @staticmethod
    def forward(ctx, mask, state: _RunState, start: int, anchor: torch.Tensor):
        n = mask.shape[1]
        flat = state.diff[start : start + n].reshape(n, -1)
        ctx.state, ctx.start = state, start
        ctx.mask_nonzero = bool((mask != 0).any())
        ctx.save_for_backward(mask)
        return (mask.to(flat.dtype) @ flat).view(mask.shape[0], *state.diff.shape[1:])

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        state, start, n = ctx.state, ctx.start, mask.shape[1]
        g = grad.reshape(grad.shape[0], -1)
        grad_mask = None
        if ctx.needs_input_grad[0]:
            diff = state.diff if state.score_diff is None else state.score_diff
            # scores accumulate in the mask's precision (float32), whatever the model's dtype
            work = torch.promote_types(mask.dtype, g.dtype)
            grad_mask = g.to(work) @ diff[start : start + n].reshape(n, -1).to(work).T
        if state.side is not None and ctx.mask_nonzero:
            # diff = patch - current, so current outputs get -mask^T @ grad
            state.side[start : start + n].sub_((mask.T.to(g.dtype) @ g).view(n, *grad.shape[1:]))
        return grad_mask, None, None, None


class _Hooks:
    """Registers the hooks of one run on the HF modules; removes them on exit."""

    def __init__(self, graph: Graph, state: _RunState, mask: EdgeMask | None, grad: bool = False):
        self.graph, self.state, self.mask = graph, state, mask
        self.model = graph.model.hf
        self.a = graph.adapter
        self.handles: list = []
        self.grad = grad
        # A constant mask would leave _Delta out of the autograd graph, and with it
        # the correction that patched edges add to the gradient of current outputs.
        self.anchor = torch.zeros((), requires_grad=True) if grad else None
        self.active: dict[str, bool] = {}
        # Without gradients, only receivers with a patched edge are recomputed and
        # only used sources are read: a sparse mask (one node, one edge) is cheap.
        self.rows: dict[str, torch.Tensor | None] = {}
        if mask is not None:
            for name, t in mask.tensors.items():
                nonzero = (t != 0).any(1)
                self.active[name] = self.grad or bool(nonzero.any())
                self.rows[name] = None if self.grad or bool(nonzero.all()) else nonzero.nonzero()[:, 0]

    def __enter__(self):
        a = self.a
        layers = self.model.get_submodule(a.layers)
        self._add(layers[0].register_forward_pre_hook(self._embed_hook, with_kwargs=True))
        for i, layer in enumerate(layers):
            if any(self.active.get(g) for g in (f"a{i}.q", f"a{i}.k", f"a{i}.v", f"m{i}")):
                inputs = self._layer_inputs_hook(i)
                if a.attn_norm is None:  # no pre-norm (OLMo-2): attention reads the layer input itself
                    self._add(layer.register_forward_pre_hook(
                        lambda m, args, kwargs, f=inputs: f(m, (args[0] if args else kwargs["hidden_states"],)),
                        with_kwargs=True))
                else:
                    self._add(layer.get_submodule(a.attn_norm).register_forward_pre_hook(inputs))
            for proj in a.projections:
                kinds = [k for k in proj.heads if self.active.get(f"a{i}.{k}")]
                if kinds:
                    hook = self._projection_hook(i, proj, kinds, a.attn_norm_module(layer))
                    self._add(layer.get_submodule(proj.path).register_forward_hook(hook))
            if self._source_used(head_source_index(a, i, 0), a.n_heads):
                post = layer.get_submodule(a.attn_post_norm) if a.attn_post_norm else None
                self._add(layer.get_submodule(a.out_proj).register_forward_hook(self._heads_hook(i, post)))
                if post is not None:
                    self._add(post.register_forward_hook(self._post_norm_hook(i)))
            if self.active.get(f"m{i}"):
                self._add(layer.get_submodule(a.mlp_input).register_forward_pre_hook(self._mlp_input_hook(i)))
            if self._source_used(mlp_source_index(a, i), 1):
                self._add(layer.get_submodule(a.mlp_output).register_forward_hook(self._mlp_hook(i)))
        if self.active.get("logits"):
            final = self.model.get_submodule(a.final_norm)
            self._add(final.register_forward_pre_hook(self._logits_input_hook))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        self.handles.clear()
        return False

    def _add(self, handle):
        self.handles.append(handle)

    def _source_used(self, start: int, count: int) -> bool:
        used = self.state.used
        return used is None or any(used[start : start + count])

    # sources --------------------------------------------------------------
    def _embed_hook(self, module, args, kwargs):
        if not self._source_used(0, 1):
            return None
        if args:
            return (_Tap.apply(args[0], self.state, 0, False),) + tuple(args[1:]), kwargs
        kwargs = dict(kwargs)
        kwargs["hidden_states"] = _Tap.apply(kwargs["hidden_states"], self.state, 0, False)
        return args, kwargs

    def _heads_hook(self, layer: int, post_norm: nn.Module | None = None):
        a = self.a

        def hook(module, args, output):
            z = args[0]
            z = z.view(*z.shape[:-1], a.n_heads, a.d_head)
            with onloaded(module):  # an offloaded weight is back in its store once the module's forward is over
                weight = a.out_weight(self.model, layer).view(a.d_model, a.n_heads, a.d_head)
                heads = torch.einsum("bshe,dhe->bshd", z, weight)  # [B, S, H, D]
            if post_norm is not None:  # a head's output is its share of the normalised sum
                with onloaded(post_norm):
                    heads = a.post_norm_parts(post_norm, heads, output)
            heads = _Tap.apply(heads, self.state, head_source_index(a, layer, 0), True)
            if not heads.requires_grad:
                return None
            if post_norm is not None:  # the post-norm's output takes the heads' gradients
                self.state.heads_sum[layer] = heads.sum(2)
                return None
            # Keep HF's own output value (re-summing heads drifts by rounding, which
            # SmolLM2's large residual norms amplify) but route gradients through
            # the per-head taps, so edges out of each head get theirs.
            s = heads.sum(2)
            out = output.detach() + (s - s.detach())
            bias = getattr(module, "bias", None)
            if bias is not None and bias.requires_grad:  # training: the bias is in no head but still learns
                out = out + (bias - bias.detach())
            return out

        return hook

    def _post_norm_hook(self, layer: int):
        def hook(module, args, output):
            s = self.state.heads_sum.pop(layer, None)
            return None if s is None else output.detach() + (s - s.detach())

        return hook

    def _mlp_hook(self, layer: int):
        start = mlp_source_index(self.a, layer)

        def hook(module, args, output):
            if isinstance(output, tuple):  # some MLPs return (out, bias)
                return (_Tap.apply(output[0], self.state, start, False),) + output[1:]
            return _Tap.apply(output, self.state, start, False)

        return hook

    # receivers ------------------------------------------------------------
    def _mask_rows(self, group: str) -> torch.Tensor:
        rows = self.rows[group]
        t = self.mask.tensors[group]
        return t if rows is None else t[rows]

    def _delta(self, mask: torch.Tensor, lo: int) -> torch.Tensor:
        """``mask [M, n] @ diff[lo:lo+n]`` -> ``[M, B, S, D]``, reading only used sources."""
        if self.grad:
            return _Delta.apply(mask, self.state, lo, self.anchor)
        n = mask.shape[1]
        offsets, row = self.state.used_range(lo, n)
        diff = self.state.diff
        if not offsets:
            return diff.new_zeros(mask.shape[0], *diff.shape[1:])
        if len(offsets) < n:
            mask = mask[:, torch.tensor(offsets, device=mask.device)]
        flat = diff[row : row + len(offsets)].reshape(len(offsets), -1)
        return (mask @ flat).view(mask.shape[0], *diff.shape[1:])

    def _layer_inputs_hook(self, layer: int):
        """At the layer input: one product gives every attention receiver's input
        and the MLP's share from earlier layers."""
        a = self.a
        n = 1 + layer * (a.n_heads + 1)
        names = [f"a{layer}.{k}" for k in "qkv" if self.active.get(f"a{layer}.{k}")]
        mlp = f"m{layer}" if self.active.get(f"m{layer}") else None

        def hook(module, args):
            resid = args[0]
            parts = [self._mask_rows(g) for g in names] + ([self.mask.tensors[mlp][:, :n]] if mlp else [])
            delta = on_device_of(self._delta(torch.cat(parts) if len(parts) > 1 else parts[0], 0), resid)
            start = 0
            for g, part in zip(names, parts):
                self.state.inputs[g] = resid.unsqueeze(0) + delta[start : start + part.shape[0]]
                start += part.shape[0]
            if mlp:
                self.state.mlp_early[layer] = delta[start]

        return hook

    def _mlp_input_hook(self, layer: int):
        a = self.a
        n = 1 + layer * (a.n_heads + 1)

        def hook(module, args):
            x = args[0] + self.state.mlp_early.pop(layer)
            if not a.parallel:  # the heads of this layer also feed its MLP
                x = x + on_device_of(self._delta(self.mask.tensors[f"m{layer}"][:, n:], n)[0], x)
            return (x,) + tuple(args[1:])

        return hook

    def _logits_input_hook(self, module, args):
        return (args[0] + on_device_of(self._delta(self.mask.tensors["logits"], 0)[0], args[0]),) + tuple(args[1:])

    def _projection_hook(self, layer: int, proj, kinds: list[str], norm: nn.Module):
        def hook(module, args, output):
            out = output
            for kind in kinds:
                rows = self.rows[f"a{layer}.{kind}"]
                x = norm.forward(self.state.inputs.pop(f"a{layer}.{kind}"))  # [M, B, S, D]
                with onloaded(module):
                    weight, bias = proj.head_weight(module, kind), proj.head_bias(module, kind)
                    features = proj.feature_index(kind).view(-1, proj.d_head)
                    if rows is not None:  # only the receivers with a patched edge
                        r = on_device_of(rows, weight)
                        weight, features = weight[r], features[rows.cpu()]
                        bias = bias[r] if bias is not None else None
                    vals = torch.einsum("mbsd,med->bsme", x, weight)
                    if bias is not None:
                        vals = vals + bias
                vals = vals.reshape(*vals.shape[:2], -1)
                if rows is None and proj.covers_output(kind, output.shape[-1]):
                    out = vals
                else:
                    out = out.index_copy(-1, features.reshape(-1).to(out.device), vals)
            return out

        return hook


def _forward(model: nn.Module, input_ids, attention_mask, positions, unembed: str | None = None):
    """Logits ``[B, S, V]``, or ``[B, V]`` at `positions`; with `unembed` (the unembedding's module path) and
    `positions`, the unembedding sees only each prompt's own position, not every kept position of the batch."""
    kwargs = dict(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    if positions is None:
        return model(**kwargs).logits
    keep, inverse = torch.unique(positions, return_inverse=True)
    if unembed is None or len(keep) == 1:
        logits = model(**kwargs, logits_to_keep=keep).logits  # [B, K, V]
        return logits[torch.arange(len(positions), device=logits.device), inverse.to(logits.device)]

    def own_position(module, args):
        x = args[0]  # [B, K, D]
        return (x[torch.arange(x.shape[0], device=x.device), inverse.to(x.device)].unsqueeze(1),) + tuple(args[1:])

    handle = model.get_submodule(unembed).register_forward_pre_hook(own_position)
    try:
        return model(**kwargs, logits_to_keep=keep).logits[:, 0]
    finally:
        handle.remove()


def _to_model(graph: Graph, *tensors):
    """The tensors on the device the model's input embedding computes on, None kept."""
    device = input_device(graph.model.hf)
    return tuple(None if t is None else t.to(device) for t in tensors)


def takes_source_chunks(graph: Graph) -> bool:
    """Whether `run` and `source_outputs` take a chunk of the sources (``sources=[...]``).

    Families whose heads and MLPs read pre-norms do: an edge's gradient there reads one
    source's difference and one receiver's input. Post-norm families (Gemma-2/3, OLMo-2)
    recompute each head from the whole stream, so their passes need every source.

    >>> from mechscope.models import load
    >>> takes_source_chunks(Graph.from_model(load("random:llama-tiny")))
    True
    >>> takes_source_chunks(Graph.from_model(load("random:gemma2-tiny")))
    False
    """
    return _fast(graph.adapter)


def _chunk(graph: Graph, sources: list[int]) -> list[bool]:
    """``[n_sources]`` flags of a chunk of sources given as sorted indices; only where the fast paths run."""
    if not takes_source_chunks(graph):
        raise MechscopeError(f"{graph.adapter.family} has norms after its attention or MLP, so its edge scores need "
                             "every source at once: chunks of sources are for pre-norm families; raise --max-memory "
                             "or spread the model over devices (--device map:auto)")
    if list(sources) != sorted(set(sources)) or not sources or sources[0] < 0 or sources[-1] >= graph.n_sources:
        raise MechscopeError(f"sources must be sorted distinct indices in [0, {graph.n_sources}); got "
                             f"{list(sources)[:5]}...")
    chosen = [False] * graph.n_sources
    for j in sources:
        chosen[j] = True
    return chosen


def _fast(a) -> bool:
    """Families whose heads and MLPs read pre-norms and write the stream directly take the fast paths
    of `_forward` and `_grad`; post-norms (Gemma-2/3, OLMo-2) take the general hooks below."""
    return a.attn_norm is not None and a.mlp_norm is not None and a.attn_post_norm is None and a.mlp_post_norm is None


def _check_batch(input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> None:
    if input_ids.dim() != 2:
        raise MechscopeError(
            f"input_ids must be [batch, seq], got shape {tuple(input_ids.shape)}; add a batch axis with ids[None]"
        )
    if attention_mask is not None and attention_mask.shape != input_ids.shape:
        raise MechscopeError(
            f"attention_mask shape {tuple(attention_mask.shape)} differs from input_ids {tuple(input_ids.shape)}"
        )


def source_outputs(
    graph: Graph,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    only: EdgeMask | None = None,
    sources: list[int] | None = None,
) -> torch.Tensor:
    """Every node's output on these prompts, from one forward pass.

    Returns ``[n_sources, batch, seq, d_model]`` in node order (embed, a0.h0, ...,
    m0, a1.h0, ...). Use it as the `patch` of `run` (e.g. from corrupted prompts).
    With `only`, just the sources that mask reads are recorded (the other rows
    are zero): patching one node then taps one module instead of every one.
    With `sources` (sorted source indices), only those are recorded and returned,
    ``[len(sources), batch, seq, d_model]``: a chunk of the sources, as `run`'s
    `sources` takes it (families with pre-norms only).

    >>> from mechscope.models import load
    >>> graph = Graph.from_model(load("random:gpt2-tiny"))
    >>> source_outputs(graph, torch.tensor([[1, 2, 3]])).shape
    torch.Size([11, 1, 3, 64])
    """
    _check_batch(input_ids, attention_mask)
    input_ids, attention_mask = _to_model(graph, input_ids, attention_mask)
    b, s = input_ids.shape
    dtype = next(graph.model.hf.parameters()).dtype
    shape = (graph.n_sources, b, s, graph.adapter.d_model)
    if only is not None:
        only.check(graph)
    if sources is not None:
        if only is not None:
            raise MechscopeError("source_outputs takes only= or sources=, not both")
        chosen = _chunk(graph, sources)
        state = ForwardState(record_used=chosen, record_rows=[0, *torch.cumsum(torch.tensor(chosen), 0).tolist()])
        state.record = torch.empty((len(sources), *shape[1:]), device=input_ids.device, dtype=dtype)
        with torch.no_grad(), ForwardHooks(graph, state):
            _forward(graph.model.hf, input_ids, attention_mask,
                     positions=torch.zeros(b, dtype=torch.long, device=input_ids.device))
        return state.record
    if not _fast(graph.adapter):  # post-norms, no pre-norms: the general hooks (record every source)
        state = _RunState()
        state.record = torch.empty(shape, device=input_ids.device, dtype=dtype)
        hooks = _Hooks(graph, state, None)
    else:
        state = ForwardState(record_used=record_plan(graph, None if only is None else only.tensors))
        state.record = (torch.empty if only is None else torch.zeros)(shape, device=input_ids.device, dtype=dtype)
        hooks = ForwardHooks(graph, state)
    with torch.no_grad(), hooks:
        _forward(graph.model.hf, input_ids, attention_mask, positions=torch.zeros(b, dtype=torch.long, device=input_ids.device))
    return state.record


def run(
    graph: Graph,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    patch: torch.Tensor | None = None,
    mask: EdgeMask | None = None,
    positions: torch.Tensor | None = None,
    score_diff: torch.Tensor | None = None,
    differentiable: bool = False,
    sources: list[int] | None = None,
    diff_out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Logits of the model on `input_ids` with the edges in `mask` patched.

    - input_ids, attention_mask: ``[batch, seq]`` (right padding).
    - patch: ``[n_sources, batch|1, seq|1, d_model]`` values that patched edges
      read instead of the current source outputs (from `source_outputs` on
      corrupted prompts, their mean, or zeros).
    - mask: coefficient per edge, 0 clean ... 1 patched. If any of its tensors
      requires grad, the call is differentiable with respect to it.
    - positions: ``[batch]``; if given, return logits only there, ``[batch, vocab]``,
      else ``[batch, seq, vocab]``.
    - score_diff: ``[n_sources, batch, seq, d_model]``, only with a mask that
      requires grad: the mask's gradient is taken as ``<score_diff[s], d metric /
      d input[r]>`` instead of against ``patch - current``. EAP-IG uses it to
      pair gradients at interpolated inputs with the clean-to-corrupt differences.
    - differentiable: keep the autograd graph to the model's parameters (and to
      a fixed mask; `patch` is a constant) : training a model through
      a mask, as the planted-circuit models of `mechscope.hypothesis` are.
    - sources: sorted source indices, with a mask that requires grad and holds one
      value per column (EAP's zeros, EAP-IG's interpolated embedding): only these
      columns get their gradient (the others' are zero), and `patch` and
      `score_diff` hold only their rows, ``[len(sources), ...]``. Chunks of the
      sources bound the memory of one example (`mechscope.graph.memory`); every
      source whose column is non-zero must be in each chunk. Pre-norm families only.
    - diff_out: ``[n_sources | len(sources), batch, seq, d_model]``, only with a mask that requires grad, no
      `score_diff` and no `differentiable`, on pre-norm families: the pass writes ``patch - current`` of every
      source (of the chunk) into it. At the clean run (a zero mask) that is ``patch - clean``, the
      `score_diff` of later passes: EAP-IG takes it from its clean step instead of a separate forward pass.

    >>> from mechscope.models import load
    >>> graph = Graph.from_model(load("random:gpt2-tiny"))
    >>> ids, bad = torch.tensor([[1, 2, 3]]), torch.tensor([[4, 5, 6]])
    >>> out = run(graph, ids, patch=source_outputs(graph, bad), mask=EdgeMask.ones(graph))
    >>> torch.allclose(out, graph.model.hf(bad).logits, atol=1e-4)
    True
    """
    _check_batch(input_ids, attention_mask)
    input_ids, attention_mask, positions = _to_model(graph, input_ids, attention_mask, positions)
    if mask is None or mask.is_zero():
        return _forward(graph.model.hf, input_ids, attention_mask, positions)
    if patch is None:
        raise MechscopeError("a non-empty edge mask needs patch values: pass patch=source_outputs(graph, corrupt_ids)")
    mask.check(graph)
    b, s = input_ids.shape
    chosen = None if sources is None else _chunk(graph, sources)
    expect = (graph.n_sources if sources is None else len(sources), graph.adapter.d_model)
    if patch.dim() != 4 or (patch.shape[0], patch.shape[3]) != expect or patch.shape[1] not in (1, b) or patch.shape[2] not in (1, s):
        raise MechscopeError(
            f"patch has shape {tuple(patch.shape)}, expected [sources={expect[0]}, batch={b} or 1, "
            f"seq={s} or 1, d_model={expect[1]}]; compute it with source_outputs on prompts of the same length"
        )
    grad = differentiable or any(t.requires_grad for t in mask.tensors.values())
    if chosen is not None and (not grad or differentiable):
        raise MechscopeError("sources=... chunks the mask gradient: pass a mask that requires grad (and not "
                             "differentiable=True)")
    dtype = next(graph.model.hf.parameters()).dtype
    patch = patch.to(device=input_ids.device, dtype=dtype)
    # with gradients the mask keeps float32 (or finer), so that edge scores accumulate in it
    mask_dtype = torch.promote_types(dtype, torch.float32) if grad else dtype
    mask = EdgeMask({k: t if t.dtype == mask_dtype else t.to(mask_dtype) for k, t in mask.tensors.items()})
    if not grad and score_diff is not None:
        raise MechscopeError("score_diff only applies to gradients: pass a mask that requires grad")
    if diff_out is not None and (not grad or differentiable or score_diff is not None or not _fast(graph.adapter)):
        raise MechscopeError("diff_out keeps the differences of a gradient pass without score_diff or "
                             "differentiable=True, on families with pre-norms")
    if not grad and _fast(graph.adapter):
        fwd = ForwardState(plan=plan(graph, mask.tensors), patch=patch)
        fwd.diff = torch.empty(fwd.plan.n_rows, b, s, graph.adapter.d_model, device=input_ids.device, dtype=dtype)
        with torch.no_grad(), ForwardHooks(graph, fwd):
            return _forward(graph.model.hf, input_ids, attention_mask, positions)
    if grad and not differentiable and _fast(graph.adapter):
        p = plan(graph, {k: t.detach() for k, t in mask.tensors.items()})
        if GradHooks.applies(p):  # every receiver reads the (folded) residual stream: the model's own backward
            n = graph.n_sources
            if chosen is not None:
                needed = [j for j in range(n) if p.used[j] and not chosen[j]]
                if needed:
                    raise MechscopeError(f"sources {needed[:5]} have non-zero mask columns, so the forward pass "
                                         "reads them: include them in every chunk of sources")
                p.used, p.prefix = chosen, [0, *torch.cumsum(torch.tensor(chosen), 0).tolist()]
            else:
                p.used, p.prefix = [True] * n, list(range(n + 1))
            fwd = ForwardState(plan=p, patch=patch, patch_rows=None if chosen is None else p.prefix)
            shape = (p.n_rows, b, s, graph.adapter.d_model)
            if diff_out is not None and (tuple(diff_out.shape) != shape or diff_out.dtype != dtype
                                         or diff_out.device != input_ids.device):
                raise MechscopeError(f"diff_out has shape {tuple(diff_out.shape)} ({diff_out.dtype}), expected "
                                     f"{list(shape)} ({dtype}) on {input_ids.device}: [sources, batch, seq, d_model]")
            fwd.diff = diff_out if diff_out is not None else torch.empty(shape, device=input_ids.device, dtype=dtype)
            sd = None if score_diff is None else score_diff.to(device=input_ids.device, dtype=dtype).expand_as(fwd.diff)
            with GradHooks(graph, fwd, mask.tensors, sd):
                return _forward(graph.model.hf, input_ids, attention_mask, positions)
    if diff_out is not None:
        raise MechscopeError("diff_out applies to gradients at a mask whose every column holds one value (EAP, "
                             "EAP-IG over inputs); this mask differs within a column")
    if chosen is not None:
        raise MechscopeError("a chunk of sources (sources=...) applies to mask gradients at one value per column "
                             "(EAP, EAP-IG over inputs) on families with pre-norms; this run needs every source")
    state = _RunState(patch=patch)
    n_rows = graph.n_sources
    if not grad:
        used = torch.zeros(graph.n_sources, dtype=torch.bool)
        for g in graph.groups:
            used[: g.n_sources] |= (mask.tensors[g.name] != 0).any(0).cpu()
        state.used = used.tolist()
        state.prefix = [0, *torch.cumsum(used, 0).tolist()]
        n_rows = state.prefix[-1]
    state.diff = torch.empty(n_rows, b, s, graph.adapter.d_model, device=input_ids.device, dtype=dtype)
    if grad:
        state.side = torch.zeros_like(state.diff)
        if score_diff is not None:
            state.score_diff = score_diff.to(device=input_ids.device, dtype=dtype).expand_as(state.diff)
    ctx = contextlib.nullcontext() if grad else torch.no_grad()
    with ctx, _Hooks(graph, state, mask, grad):
        return _forward(graph.model.hf, input_ids, attention_mask, positions)


def upstream(
    graph: Graph,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    patch: torch.Tensor,
    base: EdgeMask,
    layer: int,
) -> Upstream | None:
    """The patched forward pass of `base` up to the input of `layer`, for `run_many` to start there.

    Variants of `base` that differ only at receivers of `layer` or later (ACDC's tries at one receiver,
    exact patching of one receiver's edges) then recompute only the layers from `layer` on. `layer` is
    ``n_layers`` for the logits. None for families with post-norms (their passes run every layer).

    >>> from mechscope.models import load
    >>> graph = Graph.from_model(load("random:gpt2-tiny"))
    >>> ids, bad = torch.tensor([[1, 2, 3]]), torch.tensor([[4, 5, 6]])
    >>> up = upstream(graph, ids, patch=source_outputs(graph, bad), base=EdgeMask.zeros(graph), layer=1)
    >>> up.hidden.shape, up.diff.shape  # the stream entering layer 1; embed and layer 0's sources
    (torch.Size([1, 3, 64]), torch.Size([6, 1, 3, 64]))
    """
    _check_batch(input_ids, attention_mask)
    if not _fast(graph.adapter):
        return None
    a = graph.adapter
    if not 0 <= layer <= a.n_layers:
        raise MechscopeError(f"layer must be in [0, {a.n_layers}] (n_layers: the logits), got {layer}")
    base.check(graph)
    input_ids, attention_mask = _to_model(graph, input_ids, attention_mask)
    b, s = input_ids.shape
    dtype = next(graph.model.hf.parameters()).dtype
    tensors = {k: t.detach().to(dtype) for k, t in base.tensors.items()}
    src0 = first_source(a, layer)
    p = plan(graph, tensors, layered=True, used=[j < src0 for j in range(graph.n_sources)])
    fwd = ForwardState(plan=p, patch=patch.to(device=input_ids.device, dtype=dtype), capture=layer)
    fwd.diff = torch.empty(p.n_rows, b, s, a.d_model, device=input_ids.device, dtype=dtype)
    with torch.no_grad(), ForwardHooks(graph, fwd):
        try:
            _forward(graph.model.hf, input_ids, attention_mask, torch.zeros(b, dtype=torch.long, device=input_ids.device))
        except _Stop:
            pass
    return Upstream(layer, p.fold, fwd.captured["hidden"], fwd.diff[:src0].clone(), fwd.captured.get("rest"),
                    {g.name: base.tensors[g.name].detach().clone() for g in graph.groups if g.layer < layer},
                    p.layer_fold)


def run_many(
    graph: Graph,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    patch: torch.Tensor,
    masks: list[EdgeMask],
    base: EdgeMask | None = None,
    positions: torch.Tensor | None = None,
    start: Upstream | None = None,
) -> torch.Tensor:
    """Logits under each of K masks, from one forward pass over K copies of the prompts.

    - input_ids, attention_mask: ``[batch, seq]``; patch: ``[n_sources, batch|1, seq|1, d_model]`` as for `run`.
    - masks: K edge masks; each is applied to its own copy of the prompts (tile k of the batch ``[K*batch]``).
    - base: the mask the pass is planned for (default: the first); each tile adds its mask's difference
      from it at the receivers where they differ, so masks near one base (one edge each, one receiver's
      tries) cost one pass with a few extra rows.
    - start: an `upstream` capture of `base` on these prompts at some layer: no layer below it is run (every
      mask must equal `base` at the receivers below that layer).

    Returns ``[K, batch, vocab]`` with `positions`, else ``[K, batch, seq, vocab]``; equal to `run` of each
    mask (up to float rounding). Families with post-norms run the masks one by one.

    >>> from mechscope.models import load
    >>> graph = Graph.from_model(load("random:gpt2-tiny"))
    >>> ids, patch = torch.tensor([[1, 2, 3]]), source_outputs(graph, torch.tensor([[4, 5, 6]]))
    >>> masks = [EdgeMask.from_edges(graph, [e]) for e in ["a0.h1->logits", "embed->a1.h2.q"]]
    >>> out = run_many(graph, ids, patch=patch, masks=masks)
    >>> out.shape, torch.allclose(out[1], run(graph, ids, patch=patch, mask=masks[1]), atol=1e-5)
    (torch.Size([2, 1, 3, 49152]), True)
    """
    _check_batch(input_ids, attention_mask)
    if not masks:
        raise MechscopeError("run_many needs at least one mask")
    for m in masks:
        m.check(graph)
        if any(t.requires_grad for t in m.tensors.values()):
            raise MechscopeError("run_many runs without gradients: pass masks that do not require grad, or use run")
    if not _fast(graph.adapter):
        if start is not None:
            raise MechscopeError(f"{graph.adapter.family} runs every layer: pass start=None")
        return torch.stack([run(graph, input_ids, attention_mask, patch=patch, mask=m, positions=positions)
                            for m in masks])
    base = masks[0] if base is None else base
    base.check(graph)
    a, n = graph.adapter, graph.n_sources
    k = len(masks)
    input_ids, attention_mask, positions = _to_model(graph, input_ids, attention_mask, positions)
    b, s = input_ids.shape
    if patch.dim() != 4 or patch.shape[0] != n or patch.shape[1] not in (1, b) or patch.shape[2] not in (1, s):
        raise MechscopeError(f"patch has shape {tuple(patch.shape)}, expected [sources={n}, batch={b} or 1, "
                             f"seq={s} or 1, d_model={a.d_model}]; compute it with source_outputs")
    dtype = next(graph.model.hf.parameters()).dtype
    with torch.no_grad():
        varied = {}  # group -> (rows where some mask differs from base [R], differences [K, R, n_sources])
        for g in graph.groups:
            bt = base.tensors[g.name]
            ts = [m.tensors[g.name] for m in masks]
            if all(t is bt for t in ts):
                continue
            diff = torch.stack(ts).to(dtype) - bt.to(dtype)
            rows = diff.ne(0).any(2).any(0).nonzero()[:, 0]
            if len(rows):
                varied[g.name] = (rows, diff[:, rows])
        src0 = 0
        if start is not None:
            src0 = first_source(a, start.layer)
            below = [g for g in varied if graph.group(g).layer < start.layer]
            if below:
                raise MechscopeError(f"masks differ from the base at {below[0]}, below the start layer "
                                     f"{start.layer}: capture upstream at layer {graph.group(below[0]).layer}")
            if start.hidden.shape[0] != b:
                raise MechscopeError(f"start was captured on {start.hidden.shape[0]} prompts, got {b}")
            changed = [g for g, t in start.base.items() if not torch.equal(t, base.tensors[g])]
            if changed:
                raise MechscopeError(f"base differs from the captured one at {changed[0]}, below the start layer: "
                                     "capture upstream again")
        used = [j < src0 for j in range(n)]
        for g in varied:
            used[: graph.group(g).n_sources] = [True] * graph.group(g).n_sources
        tensors = {name: t.to(dtype) for name, t in base.tensors.items()}
        p = plan(graph, tensors, layered=True, fold_below=None if start is None else (start.layer_fold, start.layer),
                 rows={g: r.tolist() for g, (r, _) in varied.items()}, used=used)
        extras = {}
        for g, (rows, coef) in varied.items():
            active = p.rows[g]
            pos = rows if active is None else torch.searchsorted(active, on_device_of(rows, active))
            extras[g] = (pos, coef)  # every source upstream of the group is used: diff rows = its columns
        tile = (lambda t: None if t is None else t.repeat(k, *([1] * (t.dim() - 1))))
        fwd = ForwardState(plan=p, patch=patch.to(device=input_ids.device, dtype=dtype), tiles=k, extras=extras,
                           resume=start, up=src0)
        fwd.diff = torch.empty(p.n_rows - src0, k * b, s, a.d_model, device=input_ids.device, dtype=dtype)
        fwd.answer = tile(positions)
        with ForwardHooks(graph, fwd):
            out = _forward(graph.model.hf, tile(input_ids), tile(attention_mask), tile(positions), a.unembed)
    return out.view(k, b, *out.shape[1:])
