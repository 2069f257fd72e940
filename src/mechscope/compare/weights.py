"""Per-module weight change and sparsity of a version against its base."""

from __future__ import annotations

import torch

from mechscope.models import Model


def base_weights(model: Model) -> dict[str, torch.Tensor]:
    """References (no copies) to every distinct parameter of `model`, for `weight_changes` later.

    >>> from mechscope.models import load
    >>> "model.norm.weight" in base_weights(load("random:llama-tiny"))
    True
    """
    return {name: p.detach() for name, p in model.hf.named_parameters()}


def weight_changes(base: dict[str, torch.Tensor], model: Model) -> dict:
    """Which parameters differ from `base`, by how much, and how sparse they are.

    Returns ``{"changed_tensors", "relative_change", "sparsity", "base_sparsity", "modules": [...]}``:
    relative change ``||W - W_base||_F / ||W_base||_F`` and the fraction of exact zeros over all
    changed tensors, then one entry per changed tensor (``tensor``, ``layer``, ``relative_change``,
    ``sparsity``, ``base_sparsity``).

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> weight_changes(base_weights(m), m)["changed_tensors"]
    0
    """
    rows = []
    diff_sq = base_sq = zeros = base_zeros = numel = 0.0
    for name, p in model.hf.named_parameters():
        b = base.get(name)
        w = p.detach()
        if b is not None and b.shape == w.shape and torch.equal(b, w):
            continue
        if b is None or b.shape != w.shape:
            rows.append({"tensor": name, "layer": _layer(name), "relative_change": None,
                         "sparsity": float((w == 0).float().mean()), "base_sparsity": None})
            continue
        d = float(torch.linalg.norm((w.double() - b.double()).flatten()) ** 2)
        n = float(torch.linalg.norm(b.double().flatten()) ** 2)
        z, bz = float((w == 0).sum()), float((b == 0).sum())
        diff_sq, base_sq, zeros, base_zeros = diff_sq + d, base_sq + n, zeros + z, base_zeros + bz
        numel += w.numel()
        rows.append({"tensor": name, "layer": _layer(name),
                     "relative_change": (d / n) ** 0.5 if n else None,
                     "sparsity": z / w.numel(), "base_sparsity": bz / w.numel()})
    return {"changed_tensors": len(rows),
            "relative_change": (diff_sq / base_sq) ** 0.5 if base_sq else 0.0,
            "sparsity": zeros / numel if numel else 0.0,
            "base_sparsity": base_zeros / numel if numel else 0.0,
            "modules": rows}


def _layer(name: str) -> int | None:
    parts = name.split(".")
    for a, b in zip(parts, parts[1:]):
        if a in ("layers", "h") and b.isdigit():
            return int(b)
    return None
