"""The patched forward pass without gradients: fold, correct, recompute only what a patch changes.

A receiver r reads ``x_r = resid_r + sum_s m[r, s] d_s`` with ``d_s = patch_s - current_s``.
For each source s take a fold coefficient ``f_s`` (the value most entries of
its column hold, over every receiver downstream of it) and add ``f_s d_s`` to
the residual stream where s writes it. Then, exactly,
``x_r = resid'_r + sum_s (m[r, s] - f_s) d_s``: only receivers whose corrected
row is non-zero are recomputed, the others read the stream as the model
computes it. A node patch (all outgoing edges of a node) becomes one tap and
one add; a circuit (everything patched but a few edges) recomputes only the
receivers of its edges; the corrupted run (everything patched) recomputes none.

Further, without gradients:

- only the sources a patch reads are tapped, and their differences are written
  straight into the buffer (one batched matmul per layer for the heads);
- a q/k/v projection whose every head is recomputed is not also run by the
  model: its ``forward`` is replaced for the call (restored on exit, like hooks);
- every receiver input of a layer comes from one matrix product over the buffer.

`source_outputs` uses the same hooks to record sources (all, or only those a
mask reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from mechscope.graph.structure import Graph, head_source_index, mlp_source_index
from mechscope.models.placement import on_device_of, onloaded

BLOCK = 4  # layers whose receiver inputs share one product over the difference buffer


@dataclass
class Plan:
    """What one patched forward computes: folds, correction rows, the sources it taps."""

    fold: list[float]  # [n_sources] coefficient added to the residual stream at each source
    corr: dict[str, torch.Tensor]  # group -> [n_active_rows, n_sources_of_group]: m - fold, active rows only
    rows: dict[str, torch.Tensor | None]  # group -> indices of active rows (None: all rows)
    used: list[bool]  # [n_sources] sources with a row in the difference buffer
    prefix: list[int]  # [n_sources + 1] diff row of source j = prefix[j]

    @property
    def n_rows(self) -> int:
        return self.prefix[-1]


def plan(graph: Graph, tensors: dict[str, torch.Tensor]) -> Plan:
    """Fold coefficients and correction rows for a mask (group -> ``[n_receivers, n_sources]``).

    >>> from mechscope.models import load
    >>> from mechscope.graph.mask import EdgeMask
    >>> graph = Graph.from_model(load("random:gpt2-tiny"))
    >>> node = [e for e in graph.edges() if e.src == "a0.h1"]
    >>> p = plan(graph, EdgeMask.from_edges(graph, node).tensors)
    >>> p.fold[2], sum(len(r) for r in p.rows.values() if r is not None), p.n_rows
    (1.0, 0, 1)
    """
    n = graph.n_sources
    device = next(iter(tensors.values())).device
    big = torch.full((sum(g.shape[0] for g in graph.groups), n), float("nan"), device=device)
    start = 0
    for g in graph.groups:
        big[start : start + g.shape[0], : g.n_sources] = tensors[g.name].float()
        start += g.shape[0]
    valid = ~big.isnan()
    ones = (big == 1).sum(0)
    zeros = (big == 0).sum(0)
    lo = torch.where(valid, big, torch.inf).amin(0)
    hi = torch.where(valid, big, -torch.inf).amax(0)
    fold = torch.where(lo == hi, lo, torch.where(ones > zeros, 1.0, 0.0))  # constant column, else the majority
    fold_list = fold.tolist()
    corr, rows = {}, {}
    read = fold != 0
    for g in graph.groups:
        c = tensors[g.name] - fold[: g.n_sources].to(tensors[g.name].dtype)
        nonzero = c != 0
        read[: g.n_sources] |= nonzero.any(0)
        active = nonzero.any(1)
        if bool(active.all()):
            rows[g.name], corr[g.name] = None, c
        else:
            idx = active.nonzero()[:, 0]
            rows[g.name], corr[g.name] = idx, c[idx]
    used = read.cpu()
    return Plan(fold_list, corr, rows, used.tolist(), [0, *torch.cumsum(used, 0).tolist()])


def record_plan(graph: Graph, tensors: dict[str, torch.Tensor] | None) -> list[bool]:
    """Sources to record: all, or those a mask reads (a column with a non-zero entry)."""
    if tensors is None:
        return [True] * graph.n_sources
    read = torch.zeros(graph.n_sources, dtype=torch.bool)
    for g in graph.groups:
        read[: g.n_sources] |= (tensors[g.name] != 0).any(0).cpu()
    return read.tolist()


@dataclass
class ForwardState:
    """Buffers of one forward pass without gradients (never stored on the model)."""

    plan: Plan | None = None
    patch: torch.Tensor | None = None  # [n_sources, B|1, S|1, D]
    diff: torch.Tensor | None = None  # [plan.n_rows, B, S, D]: patch - current of used sources
    record: torch.Tensor | None = None  # [n_sources, B, S, D] when recording
    record_used: list[bool] | None = None
    # compact buffers (a chunk of the sources, see `mechscope.graph.memory`): row of source j = rows[j]
    record_rows: list[int] | None = None  # record holds only the recorded sources, in order
    patch_rows: list[int] | None = None  # patch holds only the used sources, in order (plan.prefix)

    def patch_row(self, j: int) -> int:
        return j if self.patch_rows is None else self.patch_rows[j]

    def record_row(self, j: int) -> int:
        return j if self.record_rows is None else self.record_rows[j]
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)  # group -> [M, B, S, D]
    mlp_early: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [B, S, D]
    block: dict[int, tuple] = field(default_factory=dict)  # layer -> (n, share of sources < n: [M, B*S*D])


class ForwardHooks:
    """Hooks (and projection overrides) of one forward pass without gradients; all removed on exit."""

    def __init__(self, graph: Graph, state: ForwardState):
        self.graph, self.state = graph, state
        self.model = graph.model.hf
        self.a = graph.adapter
        self.handles: list = []
        self.overridden: list[tuple] = []
        p = state.plan
        self.active = {g.name: p is not None and p.corr[g.name].shape[0] > 0 for g in graph.groups}
        self.names, self.mats, self.sizes = {}, {}, {}
        if p is not None:
            for i in range(self.a.n_layers):
                self.names[i], self.mats[i], self.sizes[i] = self._layer_rows(i)

    # which sources --------------------------------------------------------
    def _tapped(self, start: int, count: int) -> list[int]:
        """Offsets in [start, start+count) of sources this pass records or patches."""
        out = set()
        if self.state.plan is not None:
            out.update(i for i in range(count) if self.state.plan.used[start + i])
        if self.state.record_used is not None:
            out.update(i for i in range(count) if self.state.record_used[start + i])
        return sorted(out)

    def __enter__(self):
        a, act = self.a, self.active
        layers = self.model.get_submodule(a.layers)
        try:
            if self._tapped(0, 1):
                self._add(layers[0].register_forward_pre_hook(self._embed_hook, with_kwargs=True))
            for i, layer in enumerate(layers):
                if any(act[f"a{i}.{k}"] for k in "qkv") or act[f"m{i}"]:
                    self._add(layer.get_submodule(a.attn_norm).register_forward_pre_hook(self._layer_inputs_hook(i)))
                norm = layer.get_submodule(a.attn_norm)
                for proj in a.projections:
                    kinds = [k for k in proj.heads if act[f"a{i}.{k}"]]
                    if kinds:
                        self._projection(layer.get_submodule(proj.path), i, proj, kinds, norm)
                heads = self._tapped(head_source_index(a, i, 0), a.n_heads)
                if heads:
                    self._add(layer.get_submodule(a.out_proj).register_forward_hook(self._heads_hook(i, heads)))
                if act[f"m{i}"]:
                    self._add(layer.get_submodule(a.mlp_norm).register_forward_pre_hook(self._mlp_input_hook(i)))
                if self._tapped(mlp_source_index(a, i), 1):
                    self._add(layer.get_submodule(a.mlp).register_forward_hook(self._mlp_hook(i)))
            if act["logits"]:
                self._add(self.model.get_submodule(a.final_norm).register_forward_pre_hook(self._logits_hook))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        self.handles.clear()
        for module, previous in self.overridden:
            if previous is None:
                del module.forward
            else:
                module.forward = previous
        self.overridden.clear()
        return False

    def _add(self, handle):
        self.handles.append(handle)

    # sources --------------------------------------------------------------
    def _source(self, j: int, current: torch.Tensor) -> torch.Tensor:
        """Record / difference / fold for one residual-stream source ``[B, S, D]``; returns its new output."""
        st = self.state
        if st.record is not None and st.record_used[j]:
            st.record[st.record_row(j)].copy_(current)
        p = st.plan
        if p is None or not p.used[j]:
            return current
        d = st.diff[p.prefix[j]]
        sub_into(d, st.patch[st.patch_row(j)], current)
        f = p.fold[j]
        return current if f == 0 else torch.add(current, on_device_of(d, current), alpha=f)

    def _embed_hook(self, module, args, kwargs):
        if args:
            return (self._source(0, args[0]),) + tuple(args[1:]), kwargs
        kwargs = dict(kwargs)
        kwargs["hidden_states"] = self._source(0, kwargs["hidden_states"])
        return args, kwargs

    def _mlp_hook(self, layer: int):
        j = mlp_source_index(self.a, layer)

        def hook(module, args, output):
            if isinstance(output, tuple):  # some MLPs return (out, bias)
                return (self._source(j, output[0]),) + output[1:]
            return self._source(j, output)

        return hook

    def _heads_hook(self, layer: int, heads: list[int]):
        first = head_source_index(self.a, layer, 0)
        p = self.state.plan
        patched = [h for h in heads if p is not None and p.used[first + h]]
        fold = torch.tensor([[p.fold[first + h] for h in patched]]) if patched else None
        folds = fold is not None and bool((fold != 0).any())

        def hook(module, args, output):
            rows = self._head_diffs(layer, heads, patched, args[0])
            if rows is None or not folds:
                return None
            flat = on_device_of(rows.view(len(patched), -1), output)
            return torch.addmm(output.reshape(1, -1), fold.to(flat), flat).view_as(output)

        return hook

    def _head_diffs(self, layer: int, heads: list[int], patched: list[int], z: torch.Tensor) -> torch.Tensor | None:
        """Record the tapped heads of one layer from the output projection's input ``z [B, S, H * d_head]``
        and write ``patch - current`` of the patched ones into the buffer; returns their rows ``[k, B, S, D]``."""
        a = self.a
        with onloaded(a.layer(self.model, layer).get_submodule(a.out_proj)):  # its weight, also when offloaded
            return self._head_rows(layer, heads, patched, z, a.out_weight(self.model, layer))

    def _head_rows(self, layer: int, heads: list[int], patched: list[int], z: torch.Tensor,
                   out_weight: torch.Tensor) -> torch.Tensor | None:
        a, st = self.a, self.state
        first = head_source_index(a, layer, 0)
        b, s = z.shape[:2]
        w = out_weight.view(a.d_model, a.n_heads, a.d_head)
        zh = z.reshape(b * s, a.n_heads, a.d_head)
        if len(heads) < a.n_heads:
            index = torch.tensor(heads, device=z.device)
            zh, w = zh[:, index], w[:, index]
        zh, w = zh.transpose(0, 1), w.permute(1, 2, 0)  # [k, BS, dh], [k, dh, D]
        if not patched:
            cur = torch.bmm(zh, w)  # [k, BS, D]
            for i, h in enumerate(heads):
                if st.record_used[first + h]:
                    st.record[st.record_row(first + h)].view(b * s, -1).copy_(cur[i])
            return None
        p = st.plan
        rows = st.diff[p.prefix[first + patched[0]] : p.prefix[first + patched[-1]] + 1]
        if len(patched) < len(heads):
            keep = torch.tensor([heads.index(h) for h in patched], device=z.device)
            zh, w = zh[keep], w[keep]
        patch = on_device_of(self._patch_rows(first, patched, b, s), zh)
        if rows.device == zh.device:
            torch.baddbmm(patch, zh, w, alpha=-1, out=rows.view(len(patched), b * s, -1))
        else:  # a layer on another device than the buffers (a device map)
            rows.view(len(patched), b * s, -1).copy_(torch.baddbmm(patch, zh, w, alpha=-1))
        return rows

    def _patch_rows(self, first: int, heads: list[int], b: int, s: int) -> torch.Tensor:
        """Patch values of these heads of one layer as ``[k, B*S | 1, D]``."""
        patch = self.state.patch
        at = [self.state.patch_row(first + h) for h in heads]
        if at == list(range(at[0], at[-1] + 1)):
            rows = patch[at[0] : at[-1] + 1]
        else:
            rows = patch[torch.tensor(at, device=patch.device)]
        if rows.shape[1] == 1 and rows.shape[2] == 1:
            return rows.view(rows.shape[0], 1, rows.shape[3])
        return rows.expand(rows.shape[0], b, s, rows.shape[3]).reshape(rows.shape[0], b * s, rows.shape[3])

    # receivers ------------------------------------------------------------
    def _delta(self, mask: torch.Tensor, lo: int) -> torch.Tensor | None:
        """``mask [M, n] @ diff[sources lo..lo+n]`` -> ``[M, B*S*D]`` over used sources; None if none is used."""
        p, diff = self.state.plan, self.state.diff
        n = mask.shape[1]
        first, last = p.prefix[lo], p.prefix[lo + n]
        if first == last:
            return None
        if last - first < n:
            offsets = [i for i in range(n) if p.used[lo + i]]
            mask = mask[:, torch.tensor(offsets, device=mask.device)]
        return mask.to(diff.dtype) @ diff[first:last].view(last - first, -1)

    def _layer_rows(self, layer: int) -> tuple[list[str], torch.Tensor | None, list[int]]:
        """(recomputed q/k/v groups, their rows and the MLP's early rows ``[M, n]``, row counts) of a layer."""
        n = 1 + layer * (self.a.n_heads + 1)
        names = [f"a{layer}.{k}" for k in "qkv" if self.active[f"a{layer}.{k}"]]
        corr = self.state.plan.corr
        parts = [corr[g] for g in names] + ([corr[f"m{layer}"][:, :n]] if self.active[f"m{layer}"] else [])
        if not parts:
            return names, None, []
        return names, (torch.cat(parts) if len(parts) > 1 else parts[0]), [t.shape[0] for t in parts]

    def _block_deltas(self, layer: int) -> None:
        """At the first recomputing layer of a block of `BLOCK` layers: the share of every later
        recomputing layer of the block from the sources upstream of this one, in one product
        (one pass over the buffer for several layers; a taller product runs nearer the machine's peak)."""
        a, st = self.a, self.state
        n = 1 + layer * (a.n_heads + 1)
        members = [j for j in range(layer, min(layer // BLOCK * BLOCK + BLOCK, a.n_layers)) if self.mats[j] is not None]
        mats = [self.mats[j][:, :n] for j in members]
        delta = self._delta(torch.cat(mats) if len(mats) > 1 else mats[0], 0)
        start = 0
        for j, m in zip(members, mats):
            st.block[j] = (n, None if delta is None else delta[start : start + m.shape[0]])
            start += m.shape[0]

    def _layer_inputs_hook(self, layer: int):
        """At the layer input: every recomputed q/k/v input and the MLP's share from earlier layers,
        ``resid + corr @ diff``, the part from sources upstream of the block computed once per block."""
        a, st = self.a, self.state
        n = 1 + layer * (a.n_heads + 1)
        names, mat, sizes = self.names[layer], self.mats[layer], self.sizes[layer]
        mlp = self.active[f"m{layer}"]

        def hook(module, args):
            resid = args[0]
            if layer not in st.block:
                self._block_deltas(layer)
            lo, delta = st.block.pop(layer)
            if lo < n:
                rest = self._delta(mat[:, lo:n], lo)
                if rest is not None:
                    delta = rest if delta is None else delta.add_(rest)
            if delta is not None:
                delta = on_device_of(delta, resid)
            shape = resid.shape
            start = 0
            for g, k in zip(names, sizes):
                if delta is None:
                    st.inputs[g] = resid.unsqueeze(0).expand(k, *shape)
                else:
                    block = delta[start : start + k].view(k, *shape)
                    st.inputs[g] = block.add_(resid)
                start += k
            if mlp:
                st.mlp_early[layer] = None if delta is None else delta[start].view(shape)

        return hook

    def _mlp_input_hook(self, layer: int):
        a, st = self.a, self.state
        n = 1 + layer * (a.n_heads + 1)
        own = None if a.parallel else st.plan.corr[f"m{layer}"][:, n:]  # the heads of this layer also feed it

        def hook(module, args):
            x = args[0]
            early = st.mlp_early.pop(layer)
            x = x if early is None else x + early
            if own is not None:
                d = self._delta(own, n)
                if d is not None:
                    x = x + on_device_of(d, x).view(x.shape)
            return (x,) + tuple(args[1:])

        return hook

    def _logits_hook(self, module, args):
        d = self._delta(self.state.plan.corr["logits"], 0)
        x = args[0]
        return ((x if d is None else x + on_device_of(d, x).view(x.shape)),) + tuple(args[1:])

    def _projection(self, module, layer: int, proj, kinds: list[str], norm) -> None:
        """Recompute the active heads of `kinds` from their own inputs: a forward hook, or, when
        every output feature is recomputed, a replacement of the module's forward for this call."""
        st, a = self.state, self.a
        out_features = proj.weight(module).shape[0]
        rows = {k: st.plan.rows[f"a{layer}.{k}"] for k in kinds}
        full = (all(rows[k] is None for k in kinds) and set(kinds) == set(proj.heads)
                and sum(proj.heads[k][2] for k in kinds) * proj.d_head == out_features)

        def head_values(kind: str) -> tuple[torch.Tensor, torch.Tensor]:
            """(values ``[B, S, M * d_head]``, their output features ``[M * d_head]``)."""
            x = norm.forward(st.inputs.pop(f"a{layer}.{kind}"))  # [M, B, S, D]
            with onloaded(module):
                weight, bias = proj.head_weight(module, kind), proj.head_bias(module, kind)
                features = proj.feature_index(kind).view(-1, proj.d_head)
                r = rows[kind]
                if r is not None:
                    r = on_device_of(r, weight)
                    weight, features = weight[r], features[r.cpu()]
                    bias = bias[r] if bias is not None else None
                m, b, s, d = x.shape
                vals = torch.bmm(x.view(m, b * s, d), weight.transpose(1, 2))  # [M, BS, dh]
                if bias is not None:
                    vals = vals + bias[:, None, :]
            vals = vals.view(m, b, s, -1).permute(1, 2, 0, 3).reshape(b, s, -1)
            return vals, features.reshape(-1)

        if full:
            def forward(x):
                out = None
                for kind in kinds:
                    vals, features = head_values(kind)
                    if len(kinds) == 1 and proj.covers_output(kind, out_features):
                        return vals
                    if out is None:
                        out = vals.new_empty(*vals.shape[:2], out_features)
                    out.index_copy_(-1, features.to(out.device), vals)
                return out

            self.overridden.append((module, module.__dict__.get("forward")))
            module.forward = forward
            return

        def hook(module, args, output):
            out = output
            for kind in kinds:
                vals, features = head_values(kind)
                out = out.index_copy(-1, features.to(out.device), vals)
            return out

        self._add(module.register_forward_hook(hook))


def sub_into(out: torch.Tensor, patch: torch.Tensor, current: torch.Tensor) -> None:
    """``out = patch - current`` in place, `current` possibly on another device than the buffers (a device map)."""
    if current.device == out.device:
        torch.sub(patch, current, out=out)
    else:
        out.copy_(on_device_of(patch, current) - current)
