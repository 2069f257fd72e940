"""Pruning: magnitude and Wanda, unstructured or N:M (2:4).

- ``magnitude``: zero the smallest ``|w|`` of each matrix, with
  ``torch.nn.utils.prune.l1_unstructured`` (exactly ``round(sparsity * numel)``
  entries per matrix).
- ``wanda`` (Sun et al. 2023): score ``|w_ij| * ||x_j||``, the weight times the
  norm of its input feature over calibration tokens; zero the lowest-scoring
  ``round(sparsity * in_features)`` entries of each output row (the paper's
  per-output comparison group).
- N:M (``2:4``): in every run of M consecutive inputs of a row keep the N
  highest-scoring entries (by ``|w|``, or by the Wanda score), with torchao's
  ``mask_creator``: the pattern that sparse tensor cores run.

Pruned matrices are stored as a bitmask plus the kept values.
"""

from __future__ import annotations

import torch
from torch import nn

from mechscope.compare.encoding import EncodedWeight, sparse
from mechscope.compare.targets import Target, targets
from mechscope.errors import MechscopeError
from mechscope.models import Model

METHODS = ("magnitude", "wanda")


def prune_weights(
    model: Model,
    method: str = "magnitude",
    sparsity: float | None = 0.5,
    *,
    n_m: tuple[int, int] | None = None,
    modules: str = "*",
    calibration: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, EncodedWeight]:
    """Prune the target matrices of `model` (left unchanged); returns their sparse encodings.

    - sparsity: fraction of each matrix (magnitude) or of each row (wanda) set
      to zero; ignored when `n_m` is given.
    - n_m: ``(n, m)``: keep n of every m consecutive inputs (``(2, 4)``).
    - calibration: ``(input_ids, attention_mask)`` for wanda (see `calibration_tokens`).

    >>> from mechscope.models import load
    >>> enc = prune_weights(load("random:llama-tiny"), "magnitude", 0.5, modules="*.0.mlp.up_proj")
    >>> w = enc["model.layers.0.mlp.up_proj.weight"].decode()
    >>> float((w == 0).float().mean())
    0.5
    """
    if method not in METHODS:
        raise MechscopeError(f"unknown pruning method {method!r}; use one of {', '.join(METHODS)} (e.g. wanda:0.5)")
    if n_m is None and (sparsity is None or not 0.0 <= sparsity < 1.0):
        raise MechscopeError(f"pruning sparsity must be in [0, 1), got {sparsity}; e.g. magnitude:0.5")
    if n_m is not None and not 0 < n_m[0] <= n_m[1]:
        raise MechscopeError(f"N:M pruning keeps N of every M weights, 0 < N <= M; got {n_m[0]}:{n_m[1]}")
    chosen = targets(model, modules)
    norms = None
    if method == "wanda":
        if calibration is None:
            raise MechscopeError("wanda pruning needs calibration tokens: pass calibration=calibration_tokens(model)")
        norms = input_norms(model, chosen, *calibration)
    out = {}
    for t in chosen:
        w = t.matrix(model).float()
        score = w.abs() if norms is None else w.abs() * norms[t.module][None, :]
        if n_m is not None:
            keep = n_m_mask(score, *n_m)
        elif method == "magnitude":
            keep = _magnitude_mask(w, sparsity)
        else:
            keep = row_mask(score, sparsity)
        out[t.name] = sparse(w * keep, tuple(t.parameter(model).shape), t.transposed)
    return out


def _magnitude_mask(w: torch.Tensor, sparsity: float) -> torch.Tensor:
    from torch.nn.utils import prune as torch_prune

    holder = nn.Linear(w.shape[1], w.shape[0], bias=False)
    with torch.no_grad():
        holder.weight.copy_(w)
    torch_prune.l1_unstructured(holder, "weight", amount=float(sparsity))
    return holder.weight_mask.detach().clone()


def row_mask(score: torch.Tensor, sparsity: float) -> torch.Tensor:
    """1 where an entry is kept: the lowest ``round(sparsity * cols)`` scores of every row are dropped.

    >>> row_mask(torch.tensor([[3.0, 1.0, 2.0, 4.0]]), 0.5).tolist()
    [[1.0, 0.0, 0.0, 1.0]]
    """
    k = round(sparsity * score.shape[1])
    keep = torch.ones_like(score)
    if k:
        keep.scatter_(1, score.topk(k, dim=1, largest=False).indices, 0.0)
    return keep


def n_m_mask(score: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """1 where an entry is kept: the n highest scores of every m consecutive entries of a row.

    >>> n_m_mask(torch.tensor([[4.0, 1.0, 3.0, 2.0]]), 2, 4).tolist()
    [[1.0, 0.0, 1.0, 0.0]]
    """
    from torchao.sparsity.utils import mask_creator

    if score.shape[1] % m:
        raise MechscopeError(f"{n}:{m} pruning needs rows whose length divides by {m}; got {score.shape[1]}; "
                             "leave that module out with --modules")
    return mask_creator(score, N=n, M=m).to(score.dtype)


def input_norms(model: Model, chosen: list[Target], input_ids: torch.Tensor,
                attention_mask: torch.Tensor, batch_size: int = 8) -> dict[str, torch.Tensor]:
    """``||x_j||_2`` of every input feature of each target module over the real calibration tokens.

    >>> from mechscope.models import load
    >>> model = load("random:llama-tiny")
    >>> t = targets(model, "*.0.mlp.down_proj")
    >>> input_norms(model, t, torch.tensor([[1, 2, 3]]), torch.ones(1, 3))["model.layers.0.mlp.down_proj"].shape
    torch.Size([128])
    """
    sums: dict[str, torch.Tensor] = {}
    state = {"mask": None}

    def hook_for(path: str):
        def hook(module, args):
            x = args[0].detach().float()
            w = state["mask"].to(x.dtype)[..., None]
            part = ((x * x) * w).sum(dim=tuple(range(x.dim() - 1)))
            sums[path] = sums[path] + part if path in sums else part
        return hook

    handles = [model.hf.get_submodule(t.module).register_forward_pre_hook(hook_for(t.module)) for t in chosen]
    try:
        with torch.no_grad():
            for start in range(0, input_ids.shape[0], batch_size):
                ids = input_ids[start : start + batch_size].to(model.device)
                mask = attention_mask[start : start + batch_size].to(model.device)
                state["mask"] = mask
                model.hf(input_ids=ids, attention_mask=mask, use_cache=False)
    finally:
        for h in handles:
            h.remove()
    return {k: v.sqrt().cpu() for k, v in sums.items()}


def calibration_tokens(model: Model, source: str = "generated", n: int = 32, length: int = 64,
                       seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Calibration text for Wanda: ``(input_ids [n, length], attention_mask)``.

    ``generated``: `n` sequences sampled from the model itself (temperature 1,
    seeded), starting from its BOS token: offline, and close to the text the
    model expects. Any other value is a task name or file whose clean prompts
    are used.

    >>> from mechscope.models import load
    >>> ids, mask = calibration_tokens(load("random:llama-tiny"), n=2, length=5)
    >>> tuple(ids.shape), int(mask.sum())
    ((2, 5), 10)
    """
    if source != "generated":
        from mechscope.tasks import load_task

        enc = load_task(source).encode(model.tokenizer)
        return enc.clean_ids, enc.attention_mask
    tok = model.tokenizer
    start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    ids = torch.full((n, 1), int(start), dtype=torch.long, device=model.device)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        out = model.hf.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True, top_k=0,
                                top_p=1.0, temperature=1.0, max_new_tokens=length - 1, min_new_tokens=length - 1,
                                use_cache=True, pad_token_id=tok.pad_token_id)
    return out[:, :length].cpu(), torch.ones(out.shape[0], length, dtype=torch.long)
