"""Edge gradients read off the model's own backward pass, when every receiver reads the residual stream.

If each column of the mask holds one value over all its receivers (all zeros:
EAP at the clean run; the embedding's column at ``1 - k/steps``: EAP-IG over
inputs; every edge at ``k/steps``: EAP-IG over edges), the folds of
`mechscope.graph._forward` leave no receiver to recompute: the pass is the
model's own forward with each source moved towards its patch value,
``current + f (patch - current)``, whose gradient with respect to ``current``
is ``1 - f``. The gradient of the metric with respect to ``mask[r, s]`` is then
``<d_s, g_r>``: ``d_s = patch_s - current_s`` (or `score_diff`) and ``g_r`` the
gradient reaching receiver r's input through r alone, read off the backward pass:

- an MLP or the logits: an identity on its norm's input keeps the gradient of that branch;
- a q/k/v head: the gradient at that head's output features of the projection,
  times the head's weight slice, back through the norm's Jacobian at the layer
  input (one batched vector-Jacobian product for the q/k/v receivers of a layer).

An identity on each layer's input (its backward runs after every receiver of
the layer) multiplies the stacked ``g_r`` with the difference buffer once and
returns the layer's mask gradients. No head is recomputed and nothing per
receiver is kept for the backward pass.
"""

from __future__ import annotations

import torch

from mechscope.graph._forward import BLOCK, ForwardHooks, Plan, sub_into
from mechscope.graph.structure import Graph, head_source_index
from mechscope.models.placement import on_device_of, onloaded


class _Stash(torch.autograd.Function):
    """Identity whose backward keeps the incoming gradient in ``store[key]``."""

    @staticmethod
    def forward(ctx, x, store: dict, key):
        ctx.store, ctx.key = store, key
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        ctx.store[ctx.key] = grad
        return grad, None, None


class _Fold(torch.autograd.Function):
    """``current + add`` (add = f (patch - current), a constant) with gradient ``(1 - f)`` to current.

    `scale`: a number, or ``[n_heads, 1]`` for the output projection's input ``[..., n_heads * d_head]``.
    """

    @staticmethod
    def forward(ctx, current, add, scale):
        ctx.scale = scale
        return current.view_as(current) if add is None else current + add

    @staticmethod
    def backward(ctx, grad):
        s = ctx.scale
        if isinstance(s, torch.Tensor):
            shape = grad.shape
            return (grad.view(*shape[:-1], s.shape[0], -1) * s.to(grad)).view(shape), None, None
        return grad * s, None, None


class _Receivers(torch.autograd.Function):
    """Identity on a layer's input (or the final norm's); its backward returns the mask gradients."""

    @staticmethod
    def forward(ctx, x, job, *masks):
        ctx.job = job
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return (grad, None, *ctx.job(grad))


class GradHooks(ForwardHooks):
    """Hooks of a differentiable pass under a plan with no receiver to recompute (see the module docstring)."""

    def __init__(self, graph: Graph, state, masks: dict[str, torch.Tensor], score_diff: torch.Tensor | None):
        super().__init__(graph, state)
        self.masks = masks  # group -> [n_receivers, n_sources] tensors that require grad
        self.score_diff = score_diff
        self.store: dict = {}
        self.layer_inputs: dict[int, torch.Tensor] = {}

    @staticmethod
    def applies(p: Plan) -> bool:
        return all(c.shape[0] == 0 for c in p.corr.values())

    def __enter__(self):
        a = self.a
        layers = self.model.get_submodule(a.layers)
        try:
            super().__enter__()
            for i, layer in enumerate(layers):
                self._add(layer.register_forward_pre_hook(self._layer_hook(i), with_kwargs=True))
                for proj in a.projections:
                    self._add(layer.get_submodule(proj.path).register_forward_hook(self._stash_hook(("proj", i, proj.path))))
                self._add(layer.get_submodule(a.mlp_norm).register_forward_pre_hook(self._stash_pre_hook(("mlp", i))))
                if any(self.state.plan.fold[head_source_index(a, i, h)] != 0 for h in range(a.n_heads)):
                    self._add(layer.get_submodule(a.out_proj).register_forward_pre_hook(self._head_scale_hook(i)))
            self._add(self.model.get_submodule(a.final_norm).register_forward_pre_hook(self._final_hook))
        except BaseException:
            self.__exit__()
            raise
        return self

    def _tapped(self, start: int, count: int) -> list[int]:
        """With a fixed `score_diff` the difference buffer serves only the folds: a block of sources (the
        embedding, one layer's heads, an MLP) none of which has a fold is not tapped at all."""
        offsets = super()._tapped(start, count)
        if self.score_diff is None or any(self.state.plan.fold[start + i] != 0 for i in offsets):
            return offsets
        return []

    # forward: sources move towards their patch values -------------------
    def _source(self, j: int, current: torch.Tensor) -> torch.Tensor:
        st, p = self.state, self.state.plan
        with torch.no_grad():
            d = st.diff[p.prefix[j]]
            sub_into(d, st.patch[st.patch_row(j)], current)
            f = p.fold[j]
            add = None if f == 0 else on_device_of(d, current) * f
        return current if add is None else _Fold.apply(current, add, 1.0 - f)

    def _heads_hook(self, layer: int, heads: list[int]):
        first = head_source_index(self.a, layer, 0)
        fold = torch.tensor([[self.state.plan.fold[first + h] for h in heads]])
        folds = bool((fold != 0).any())

        def hook(module, args, output):
            with torch.no_grad():
                rows = self._head_diffs(layer, heads, heads, args[0])
                add = (fold.to(rows) @ rows.view(len(heads), -1)).view_as(output) if folds else None
            return None if add is None else output + on_device_of(add, output)

        return hook

    def _head_scale_hook(self, layer: int):
        first = head_source_index(self.a, layer, 0)
        scale = torch.tensor([[1.0 - self.state.plan.fold[first + h]] for h in range(self.a.n_heads)])

        def hook(module, args):
            return (_Fold.apply(args[0], None, scale),) + tuple(args[1:])

        return hook

    # receivers ----------------------------------------------------------------
    def _stash_hook(self, key):
        def hook(module, args, output):
            return _Stash.apply(output, self.store, key)

        return hook

    def _stash_pre_hook(self, key):
        def hook(module, args):
            return (_Stash.apply(args[0], self.store, key),) + tuple(args[1:])

        return hook

    def _layer_hook(self, layer: int):
        """Keep the layer's input; at the first layer of a block of `BLOCK` layers, an identity whose backward
        (which runs after every later layer of the block is through its own) returns the block's mask gradients."""
        members = range(layer, min(layer + BLOCK, self.a.n_layers))
        names = [name for j in members for name in (f"a{j}.q", f"a{j}.k", f"a{j}.v", f"m{j}")]

        def hook(module, args, kwargs):
            x = args[0] if args else kwargs["hidden_states"]
            self.layer_inputs[layer] = x.detach()
            if layer % BLOCK:
                return None
            y = _Receivers.apply(x, lambda g: self._block_grads(members), *[self.masks[g] for g in names])
            if args:
                return (y,) + tuple(args[1:]), kwargs
            return args, {**kwargs, "hidden_states": y}

        return hook

    def _final_hook(self, module, args):
        def grads(g):
            return (self._mask_grad(g.reshape(1, -1), 0, self.masks["logits"].shape[1]),)

        return (_Receivers.apply(args[0], grads, self.masks["logits"]),) + tuple(args[1:])

    # backward -------------------------------------------------------------------
    def _mask_grad(self, g: torch.Tensor, lo: int, n: int) -> torch.Tensor:
        """``g [M, B*S*D] @ d[lo:lo+n]^T`` -> ``[M, n]``."""
        d = self.score_diff if self.score_diff is not None else self.state.diff
        p = self.state.plan
        first, last = p.prefix[lo], p.prefix[lo + n]
        if last - first == n:  # every source of the block has its row (no chunk of sources)
            return on_device_of(g, d) @ d[first:last].reshape(n, -1).T
        out = g.new_zeros(g.shape[0], n, device=d.device)
        if last > first:  # a chunk of the sources: the others' gradients are taken in other passes
            cols = torch.tensor([i for i in range(n) if p.used[lo + i]], device=d.device)
            out[:, cols] = on_device_of(g, d) @ d[first:last].reshape(last - first, -1).T
        return out

    def _receiver_rows(self, layer: int, out: torch.Tensor) -> None:
        """Write the gradients reaching each receiver input of `layer` (its q/k/v heads, then its MLP) into
        ``out [M, B*S*D]``, from what the layer's receivers stashed."""
        a = self.a
        x = self.layer_inputs.pop(layer)
        layer_module = self.model.get_submodule(a.layers)[layer]
        per_kind = {}
        for proj in a.projections:
            g_out = self.store.pop(("proj", layer, proj.path), None)
            module = layer_module.get_submodule(proj.path)
            with onloaded(module):  # backward runs outside the module's forward: an offloaded weight is not in
                for kind in proj.heads:
                    w = proj.head_weight(module, kind)  # [n, dh, D]
                    if g_out is None:
                        per_kind[kind] = x.new_zeros(w.shape[0], *x.shape)
                        continue
                    gk = g_out[..., proj.feature_index(kind).to(g_out.device)].reshape(-1, w.shape[0], proj.d_head)
                    per_kind[kind] = torch.bmm(gk.transpose(0, 1), w).view(w.shape[0], *x.shape)  # [n, B, S, D]
        g_norm = torch.cat([per_kind[k] for k in "qkv"])  # [M, B, S, D] at the norm's output
        del per_kind
        norm = layer_module.get_submodule(a.attn_norm)
        with torch.enable_grad():
            xm = x.unsqueeze(0).expand(g_norm.shape).clone().requires_grad_(True)
            (g_in,) = torch.autograd.grad(norm.forward(xm), xm, g_norm)
        m = g_in.shape[0]
        out[:m].copy_(on_device_of(g_in.reshape(m, -1), out))
        g_mlp = self.store.pop(("mlp", layer), None)
        if g_mlp is None:
            out[m].zero_()
        else:
            out[m].copy_(on_device_of(g_mlp.reshape(-1), out))

    def _block_grads(self, members: range) -> list[torch.Tensor]:
        """Gradients of the ``a{j}.q/k/v`` and ``m{j}`` masks of a block of layers: the sources upstream of the
        block in one product for all its receivers (one pass over the difference buffer for the block, as
        `mechscope.graph._forward` does forward), then each layer's own later sources."""
        a = self.a
        counts = [self.masks[f"a{members[0]}.{k}"].shape[0] for k in "qkv"]
        m = sum(counts) + 1  # receivers of a layer: its q/k/v heads and its MLP
        x = self.layer_inputs[members[0]]
        rows = x.new_empty(len(members) * m, x.numel())
        for i, j in enumerate(members):
            self._receiver_rows(j, rows[i * m : (i + 1) * m])
        n0 = 1 + members[0] * (a.n_heads + 1)
        shared = self._mask_grad(rows, 0, n0)  # [len(members) * m, n0]
        out = []
        for i, j in enumerate(members):
            r = rows[i * m : (i + 1) * m]
            n = 1 + j * (a.n_heads + 1)
            grads = shared[i * m : (i + 1) * m]
            if n > n0:
                grads = torch.cat([grads, self._mask_grad(r, n0, n - n0)], 1)
            parts = list(grads[: m - 1].split(counts))
            mlp = grads[m - 1 :]
            m_cols = self.masks[f"m{j}"].shape[1]
            if m_cols > n:  # the heads of this layer also feed its MLP
                mlp = torch.cat([mlp, self._mask_grad(r[m - 1 :], n, m_cols - n)], 1)
            parts.append(mlp)
            names = [f"a{j}.{k}" for k in "qkv"] + [f"m{j}"]
            out += [o.to(device=self.masks[name].device, dtype=self.masks[name].dtype) for o, name in zip(parts, names)]
        return out
