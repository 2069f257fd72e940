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

Batched variants (`run_many`, `upstream`: ACDC's tries, exact patching) fold per layer instead
(``plan(layered=True)``): each layer's receivers read the stream folded with their own layer's
majority, and each layer's input adds ``(F[l] - F[l-1]) @ diff`` (one row). Part way through ACDC
(later layers mostly patched, earlier ones clean) only the receivers holding a kept edge are then
recomputed, and their few corrections are added entry by entry (`_product`); with the answer
positions given, the last layer's MLP runs there only.

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
    # layered folds (`plan(layered=True)`): [n_layers + 1, n_sources] the fold each layer's receivers read
    # (row n_layers: the logits); sources then write no fold (`fold` is all zeros) and each layer's input adds
    # ``(F[l] - F[l-1]) @ diff`` over the sources written before it
    layer_fold: torch.Tensor | None = None

    @property
    def n_rows(self) -> int:
        return self.prefix[-1]


def plan(graph: Graph, tensors: dict[str, torch.Tensor], *, fold: list[float] | None = None,
         rows: dict[str, list[int]] | None = None, used: list[bool] | None = None, layered: bool = False,
         fold_below: tuple[torch.Tensor, int] | None = None) -> Plan:
    """Fold coefficients and correction rows for a mask (group -> ``[n_receivers, n_sources]``).

    `fold` imposes the fold coefficients (any fold is exact; a fixed one keeps the residual stream upstream of
    a change as it was), `rows` makes these rows of a group active even where their correction is zero, and
    `used` taps these sources even where nothing reads them (the batched variants of `run_many`).

    `layered` folds each column per layer: the value most of that layer's receivers hold (`Plan.layer_fold`).
    A mask whose later layers are mostly patched and earlier ones mostly clean (ACDC part way) then
    recomputes only the receivers that differ from their own layer's majority, where one fold for all layers
    recomputes every receiver on the minority side. `fold_below` ``(layer_fold, layer)`` imposes the rows
    below `layer` (a pass resumed there keeps the stream it captured).

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
    layer_fold = None
    if layered:
        layer_fold = _layer_folds(graph, big, fold_below)
        fold = torch.zeros(n, device=device)
    elif fold is None:
        fold = _column_folds(big)
    else:
        fold = torch.tensor(fold, dtype=torch.float32, device=device)
    fold_list = fold.tolist()
    forced, corr, active_rows = rows or {}, {}, {}
    read = fold != 0
    if layer_fold is not None:
        read |= (layer_fold != 0).any(0).to(device)
    if used is not None:
        read |= torch.tensor(used, device=device)
    for g in graph.groups:
        f = fold if layer_fold is None else layer_fold[g.layer].to(device)
        c = tensors[g.name] - f[: g.n_sources].to(tensors[g.name].dtype)
        nonzero = c != 0
        read[: g.n_sources] |= nonzero.any(0)
        active = nonzero.any(1)
        if forced.get(g.name):
            active[torch.tensor(forced[g.name], device=active.device)] = True
        if bool(active.all()):
            active_rows[g.name], corr[g.name] = None, c
        else:
            idx = active.nonzero()[:, 0]
            active_rows[g.name], corr[g.name] = idx, c[idx]
    read = read.cpu()
    return Plan(fold_list, corr, active_rows, read.tolist(), [0, *torch.cumsum(read, 0).tolist()], layer_fold)


def _layer_folds(graph: Graph, big: torch.Tensor, below: tuple[torch.Tensor, int] | None) -> torch.Tensor:
    """``[n_layers + 1, n_sources]``: per layer, each column's constant value over that layer's receivers, else
    its majority (1 if more ones than zeros), over the sources written before the layer (0 elsewhere: a
    layer's own heads reach its MLP unfolded). `big`: every receiver's row ``[n_receivers, n_sources]``."""
    a = graph.adapter
    out = torch.zeros(a.n_layers + 1, graph.n_sources)
    start, spans = 0, {}
    for g in graph.groups:
        lo, hi = spans.get(g.layer, (start, start))
        spans[g.layer] = (lo, start + g.shape[0])
        start += g.shape[0]
    for layer, (lo, hi) in spans.items():
        n = first_source(a, layer)
        out[layer, :n] = _column_folds(big[lo:hi, :n]).cpu()
    if below is not None:
        out[: below[1]] = below[0][: below[1]]
    return out


def _column_folds(big: torch.Tensor) -> torch.Tensor:
    """``[n_sources]`` from receiver rows ``big [n_receivers, n_sources]`` (NaN: no such edge): each column's
    value where all its receivers hold the same one, else its majority (1 if more ones than zeros, else 0)."""
    valid = ~big.isnan()
    lo = torch.where(valid, big, torch.inf).amin(0)
    hi = torch.where(valid, big, -torch.inf).amax(0)
    majority = torch.where((big == 1).sum(0) > (big == 0).sum(0), 1.0, 0.0)
    return torch.where(lo == hi, lo, majority)


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
    # batched variants (`run_many`): the batch is `tiles` copies of the prompts, tile k under variant k
    tiles: int = 1
    # group -> (positions of its varied rows among the plan's active rows [R], coefficients [K, R, c] over the
    # first c diff rows): what variant k adds to those receivers' inputs beyond the plan's base mask
    extras: dict[str, tuple] = field(default_factory=dict)
    resume: "Upstream | None" = None  # start at resume.layer from a stream captured there
    up: int = 0  # diff rows of the sources upstream of resume.layer: in resume.diff, untiled; diff holds the rest
    capture: int | None = None  # stop at this layer's input and keep the stream there (`upstream`)
    captured: dict = field(default_factory=dict)
    # [B] the one position of each prompt whose logits the call returns: the last layer's MLP runs there only
    # (the stream elsewhere after it is left unfinished: nothing reads it)
    answer: torch.Tensor | None = None


@dataclass
class Upstream:
    """The patched forward pass of one mask up to the input of `layer`, for prompts ``[B, S]``: what
    `run_many` reuses when its variants differ from that mask only at receivers of `layer` or later."""

    layer: int  # n_layers: the logits' input
    fold: list[float]  # [n_sources] the plan's fold coefficients (the stream below depends on them)
    hidden: torch.Tensor  # [B, S, D] the residual stream entering `layer` (folds included)
    diff: torch.Tensor  # [src0, B, S, D] patch - current of every source upstream of `layer`
    rest: tuple | None  # a decoder layer's output after its hidden state, when it returns a tuple
    base: dict[str, torch.Tensor]  # mask tensors of the groups upstream of `layer` at capture
    layer_fold: torch.Tensor | None = None  # the plan's layered folds (`Plan.layer_fold`): rows below `layer` hold


class _Stop(Exception):
    """Raised at the captured layer: nothing downstream of it is needed."""


def first_source(adapter, layer: int) -> int:
    """Source index of the first node of `layer` (n_sources at ``layer = n_layers``)."""
    return 1 + layer * (adapter.n_heads + 1)


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
        a, act, st = self.a, self.active, self.state
        layers = self.model.get_submodule(a.layers)
        lo = 0 if st.resume is None else st.resume.layer
        hi = a.n_layers if st.capture is None else st.capture
        try:
            if st.resume is not None:
                self._resume(layers, lo)
            elif self._tapped(0, 1):
                self._add(layers[0].register_forward_pre_hook(self._embed_hook, with_kwargs=True))
            for i, layer in enumerate(layers):
                if i < lo or i >= hi:
                    continue
                self._transition(layer, i)
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
            if st.capture is None:
                self._transition(self.model.get_submodule(a.final_norm), a.n_layers)
            if st.answer is not None and st.capture is None and lo < a.n_layers:
                self._answer_only(layers[a.n_layers - 1].get_submodule(a.mlp))
            if act["logits"] and st.capture is None:
                self._add(self.model.get_submodule(a.final_norm).register_forward_pre_hook(self._logits_hook))
            if st.capture is not None:
                self._capture(layers, st.capture)
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

    # resuming and capturing at a layer ---------------------------------------
    def _capture(self, layers, layer: int) -> None:
        """Keep the stream entering `layer` (the final norm at n_layers) and stop the pass there."""
        st = self.state

        def keep(module, args, kwargs=None):
            st.captured["hidden"] = (args[0] if args else kwargs["hidden_states"]).detach().clone()
            raise _Stop

        if layer < self.a.n_layers:
            self._add(layers[layer].register_forward_pre_hook(keep, with_kwargs=True))
        else:
            self._add(self.model.get_submodule(self.a.final_norm).register_forward_pre_hook(keep))
        if layer > 0:
            def shape_of(module, args, output):
                st.captured["rest"] = tuple(output[1:]) if isinstance(output, tuple) else None
            self._add(layers[0].register_forward_hook(shape_of))

    def _resume(self, layers, layer: int) -> None:
        """Skip the layers below `layer` (each returns its input) and feed `layer` the captured stream."""
        st, up = self.state, self.state.resume
        hidden = up.hidden.repeat(st.tiles, *([1] * (up.hidden.dim() - 1)))

        def skip(*args, **kwargs):
            h = args[0] if args else kwargs["hidden_states"]
            return h if up.rest is None else (h, *up.rest)

        for i in range(layer):
            self.overridden.append((layers[i], layers[i].__dict__.get("forward")))
            layers[i].forward = skip

        def feed(module, args, kwargs=None):
            h = on_device_of(hidden, args[0] if args else kwargs["hidden_states"])
            if args:
                return (h, *args[1:]) if kwargs is None else ((h, *args[1:]), kwargs)
            return args, {**kwargs, "hidden_states": h}

        if layer < self.a.n_layers:
            self._add(layers[layer].register_forward_pre_hook(feed, with_kwargs=True))
        else:
            self._add(self.model.get_submodule(self.a.final_norm).register_forward_pre_hook(feed))

    def _transition(self, module, layer: int) -> None:
        """Layered folds: at the input of `layer` (a decoder layer, or the final norm at n_layers), move the
        stream from the previous layer's folds to this one's, ``+ (F[layer] - F[layer-1]) @ diff`` over the
        sources written before it (one row; the sources upstream of a resumed layer shared by every tile)."""
        p = self.state.plan
        if p is None or p.layer_fold is None:
            return
        n = first_source(self.a, layer)
        step = p.layer_fold[layer, :n] - (p.layer_fold[layer - 1, :n] if layer > 0 else 0.0)
        if not bool((step != 0).any()):
            return
        row = step[None].to(self.state.diff.device)

        def hook(module, args, kwargs=None):
            h = args[0] if args else kwargs["hidden_states"]
            d = self._delta(row, 0)
            if d is None:
                return None
            h = h + on_device_of(d, h).view(h.shape)
            if kwargs is None:
                return (h, *args[1:])
            if args:
                return (h, *args[1:]), kwargs
            return args, {**kwargs, "hidden_states": h}

        if layer < self.a.n_layers:
            self._add(module.register_forward_pre_hook(hook, with_kwargs=True))
        else:
            self._add(module.register_forward_pre_hook(hook))

    def _answer_only(self, module) -> None:
        """Run the last layer's MLP (position by position) at each prompt's answer position only; its output is
        zero elsewhere, so the stream there is unfinished, and only the answer positions reach the logits."""
        answer, previous, run = self.state.answer, module.__dict__.get("forward"), module.forward

        def forward(x, *args, **kwargs):
            rows = torch.arange(x.shape[0], device=x.device)
            at = on_device_of(answer, x)
            y = run(x[rows, at].unsqueeze(1), *args, **kwargs)  # [B, 1, D]
            first = y[0] if isinstance(y, tuple) else y
            out = first.new_zeros(x.shape[0], x.shape[1], first.shape[-1])
            out[rows, at] = first[:, 0]
            return (out, *y[1:]) if isinstance(y, tuple) else out

        self.overridden.append((module, previous))
        module.forward = forward

    def _diff_rows(self, first: int, last: int) -> torch.Tensor:
        """Rows [first, last) of the difference buffer (all at or past the resumed layer's sources)."""
        up = self.state.up
        return self.state.diff[first - up : last - up]

    def _extra(self, group: str, width: int) -> torch.Tensor:
        """What each variant adds to the varied receivers of `group`: ``[R, K * B*S*D]``."""
        st = self.state
        _, coef = st.extras[group]  # [K, R, c]
        k, r, c = coef.shape
        up = min(st.up, c)
        out = None
        if c > st.up:  # sources at or past the resumed layer: tile t reads its own copy
            diff = st.diff[: c - st.up].view(c - st.up, k, width)
            out = torch.stack([coef[t, :, st.up :].to(diff.dtype) @ diff[:, t] for t in range(k)], 1)  # [R, K, w]
        if up:
            shared = coef[:, :, :up].reshape(k * r, up).to(st.resume.diff.dtype) @ st.resume.diff[:up].view(up, -1)
            shared = on_device_of(shared.view(k, r, -1).transpose(0, 1), st.resume.diff)
            out = shared.contiguous() if out is None else out.add_(on_device_of(shared, out))
        return out.reshape(r, k * width)

    # sources --------------------------------------------------------------
    def _source(self, j: int, current: torch.Tensor) -> torch.Tensor:
        """Record / difference / fold for one residual-stream source ``[B, S, D]``; returns its new output."""
        st = self.state
        if st.record is not None and st.record_used[j]:
            st.record[st.record_row(j)].copy_(current)
        p = st.plan
        if p is None or not p.used[j]:
            return current
        d = st.diff[p.prefix[j] - st.up]
        sub_into(d, st.patch[st.patch_row(j)], current, st.tiles)
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
        rows = self._diff_rows(p.prefix[first + patched[0]], p.prefix[first + patched[-1]] + 1)
        if len(patched) < len(heads):
            keep = torch.tensor([heads.index(h) for h in patched], device=z.device)
            zh, w = zh[keep], w[keep]
        k = st.tiles
        if k > 1 and st.patch.shape[1] not in (1, b):  # the patch holds one tile's prompts: tile k reads it too
            patch = on_device_of(self._patch_rows(first, patched, b // k, s), zh)  # [n, B*S, D]
            out = rows.view(len(patched), k, (b // k) * s, -1)
            if rows.device != zh.device:  # a layer on another device than the buffers (a device map)
                out.copy_(on_device_of(patch.unsqueeze(1) - torch.bmm(zh, w).view_as(out), out))
                return rows
            # the heads' outputs straight into the buffer, then patch - them in place: no [n, K*B*S, D] temporary
            torch.bmm(zh, w, out=rows.view(len(patched), b * s, -1))
            torch.sub(patch.unsqueeze(1), out, out=out)
            return rows
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
    def _delta(self, mask: torch.Tensor, lo: int, into: torch.Tensor | None = None) -> torch.Tensor | None:
        """``mask [M, n] @ diff[sources lo..lo+n]`` -> ``[M, B*S*D]`` over used sources; None if none is used.
        With `into` ``[M, B*S*D]`` the product is added to it and `into` returned (unchanged if no source is
        used); a sparse mask's entries go straight into its rows."""
        st = self.state
        p, diff, up = st.plan, st.diff, st.up
        n = mask.shape[1]
        first, last = p.prefix[lo], p.prefix[lo + n]
        if first == last:
            return into
        if last - first < n:
            offsets = [i for i in range(n) if p.used[lo + i]]
            mask = mask[:, torch.tensor(offsets, device=mask.device)]
        if first >= up:
            return _product(mask.to(diff.dtype), diff[first - up : last - up].view(last - first, -1), into)
        # sources upstream of the resumed layer: one product over their untiled rows, shared by every tile
        cut = min(last, up) - first
        shared = _product(mask[:, :cut].to(st.resume.diff.dtype), st.resume.diff[first : first + cut].view(cut, -1))
        m = mask.shape[0]
        if into is None:  # every tile starts from the shared part (a copy, not zeros and an add)
            into = on_device_of(shared, diff).view(m, 1, -1).expand(m, st.tiles, shared.shape[1]).reshape(m, -1)
        else:
            into.view(m, st.tiles, -1).add_(on_device_of(shared, into).unsqueeze(1))
        if last <= up:
            return into
        return _product(mask[:, cut:].to(diff.dtype), diff[: last - up].view(last - up, -1), into)

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
            if lo < n:  # this layer's own share from the sources written since the block's first layer
                delta = self._delta(mat[:, lo:n], lo, into=delta)
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
                if g in st.extras:
                    x = st.inputs[g].contiguous() if delta is not None else st.inputs[g].clone()
                    pos = st.extras[g][0]
                    x.view(k, -1).index_add_(0, on_device_of(pos, x), on_device_of(
                        self._extra(g, resid[: shape[0] // st.tiles].numel()), x))
                    st.inputs[g] = x
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
            if f"m{layer}" in st.extras:
                x = x + on_device_of(self._extra(f"m{layer}", x[: x.shape[0] // st.tiles].numel()), x).view(x.shape)
            return (x,) + tuple(args[1:])

        return hook

    def _logits_hook(self, module, args):
        st = self.state
        d = self._delta(st.plan.corr["logits"], 0)
        x = args[0]
        x = x if d is None else x + on_device_of(d, x).view(x.shape)
        if "logits" in st.extras:
            x = x + on_device_of(self._extra("logits", x[: x.shape[0] // st.tiles].numel()), x).view(x.shape)
        return (x,) + tuple(args[1:])

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


SPARSE = 32  # a correction matrix with at most 1 / SPARSE of its entries non-zero is applied entry by entry


def _product(mask: torch.Tensor, flat: torch.Tensor, into: torch.Tensor | None = None) -> torch.Tensor:
    """``mask [M, n] @ flat [n, W]`` -> ``[M, W]``, or added to `into` ``[M, W]`` (returned). A sparse mask
    (ACDC part way: each receiver's few kept edges against its layer's fold) adds its non-zero entries' rows
    one by one instead: the dense product would cost M x n row operations for a handful of non-zero ones.
    The sums are the same terms."""
    m, n = mask.shape
    if int(torch.count_nonzero(mask)) * SPARSE > m * n:  # dense: no index list needed
        return mask @ flat if into is None else into.add_(mask @ flat)
    nonzero = mask.nonzero()
    values = mask[nonzero[:, 0], nonzero[:, 1]].tolist()
    # without `into`, each row starts from its first term: no pass of zeros over [M, W] before the adds
    out = flat.new_empty(m, flat.shape[1]) if into is None else into
    started = [into is not None] * m
    for (r, c), v in zip(nonzero.tolist(), values):
        if started[r]:
            out[r].add_(flat[c], alpha=v)
        else:
            torch.mul(flat[c], v, out=out[r])
            started[r] = True
    for r in (r for r, s in enumerate(started) if not s):
        out[r].zero_()
    return out


def sub_into(out: torch.Tensor, patch: torch.Tensor, current: torch.Tensor, tiles: int = 1) -> None:
    """``out = patch - current`` in place, `current` possibly on another device than the buffers (a device map).

    With `tiles`, out and current ``[K*B, ...]`` hold K copies of prompts whose patch is ``[B, ...]``.
    """
    if tiles > 1 and patch.shape[0] not in (1, out.shape[0]):
        out = out.view(tiles, -1, *out.shape[1:])
        current, patch = current.reshape(out.shape), patch.unsqueeze(0)
    if current.device == out.device:
        torch.sub(patch, current, out=out)
    else:
        out.copy_(on_device_of(patch, current) - current)
