"""Tokenise sentences and pool the activations that steering methods are fitted on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from mechscope.errors import MechscopeError
from mechscope.steer.sites import Site, get_hidden, hook_site, set_hidden

POOLINGS = ("mean", "last", "tokens")


@dataclass(frozen=True)
class TokenBatch:
    """A padded batch: ``input_ids``, ``attention_mask`` and ``position_ids``, each ``[batch, seq]``.

    Position ids count real tokens only, so a left-padded row gets the same
    positions as the same text unpadded.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor

    @property
    def lengths(self) -> torch.Tensor:
        return self.attention_mask.sum(-1)

    def model_inputs(self) -> dict:
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask,
                "position_ids": self.position_ids}


def encode(model, texts: list[str], padding_side: str = "right", max_length: int = 128) -> TokenBatch:
    """Tokenise `texts` for `model` (a `mechscope.models.Model`), padded on one side.

    >>> from mechscope.models import load
    >>> e = encode(load("random:llama-tiny"), ["a b c", "a"], padding_side="left")
    >>> e.attention_mask.tolist(), e.position_ids.tolist()
    ([[1, 1, 1], [0, 0, 1]], [[0, 1, 2], [0, 0, 0]])
    """
    if not texts:
        raise MechscopeError("no texts to encode; pass at least one sentence")
    tok = model.tokenizer
    old = tok.padding_side
    tok.padding_side = padding_side
    try:
        enc = tok(list(texts), return_tensors="pt", padding=True, truncation=True, max_length=max_length,
                  add_special_tokens=True)
    finally:
        tok.padding_side = old
    mask = enc["attention_mask"]
    if (mask.sum(-1) == 0).any():
        empty = [t for t, n in zip(texts, mask.sum(-1).tolist()) if n == 0]
        raise MechscopeError(f"text {empty[0]!r} has no tokens; remove empty lines from the data")
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    dev = model.device
    return TokenBatch(enc["input_ids"].to(dev), mask.to(dev), position_ids.to(dev))


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool ``hidden [batch, seq, d]`` over real tokens to ``[batch, d]``: their mean, or the last one.

    >>> h = torch.arange(6.0).reshape(1, 3, 2); mask = torch.tensor([[1, 1, 0]])
    >>> pool(h, mask, "mean").tolist(), pool(h, mask, "last").tolist()
    ([[1.0, 2.0]], [[2.0, 3.0]])
    """
    m = attention_mask.to(hidden.dtype)
    if pooling == "mean":
        return (hidden * m[..., None]).sum(-2) / m.sum(-1, keepdim=True)
    if pooling == "last":
        # the last real token: the highest column with mask 1 (left or right padding alike)
        cols = torch.arange(hidden.shape[-2], device=hidden.device)
        last = (attention_mask.bool() * (cols + 1)).argmax(-1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    raise MechscopeError(f"pooling {pooling!r} is not one of {', '.join(POOLINGS)}")


class _Stop(Exception):
    """Raised after the last site: nothing later in the model is needed."""


def run_to_last_site(model, sites: list[Site], inputs: dict,
                     on_value: Callable[[Site, torch.Tensor], torch.Tensor | None]) -> None:
    """One forward pass of `inputs` that calls ``on_value(site, hidden)`` at each site, in forward order.

    ``hidden`` is the site's hidden state ``[batch, seq, d]``; a returned tensor replaces it (None
    keeps it). The pass stops right after the last site, and a site that never ran is a one-line
    error. Gradients flow only if the caller enables them.

    >>> from mechscope.models import load
    >>> from mechscope.steer.sites import resolve_sites
    >>> m = load("random:llama-tiny")
    >>> seen = []
    >>> run_to_last_site(m, resolve_sites(m, "block", "0,1"), encode(m, ["a b"]).model_inputs(),
    ...                  lambda site, h: seen.append((site.key, tuple(h.shape))))
    >>> seen
    [('model.layers.0', (1, 2, 64)), ('model.layers.1', (1, 2, 64))]
    """
    done: set[str] = set()

    def hook(site: Site):
        def apply(value):
            new = on_value(site, get_hidden(value))
            done.add(site.key)
            if len(done) == len(sites):
                raise _Stop
            return None if new is None else set_hidden(value, new)
        return apply

    handles = []
    try:
        for site in sites:
            handles.append(hook_site(model, site, hook(site)))
        try:
            model.hf(**inputs, use_cache=False)
        except _Stop:
            pass
    finally:
        for h in handles:
            h.remove()
    missing = [s.key for s in sites if s.key not in done]
    if missing:
        raise MechscopeError(f"sites {missing[:3]} never ran in a forward pass of {model.spec}; choose modules "
                             "that the model calls (module lists and unused heads are not called)")


def fit_pass(model, sites: list[Site], source: list[str], target: list[str], pooling: str,
             fit_site: Callable[[Site, torch.Tensor, torch.Tensor], Callable[[torch.Tensor], torch.Tensor] | None]
             ) -> None:
    """Run source and target sentences through the model once, fitting each site in forward order.

    At each site the pooled activations of the source rows ``[n_source, d]``
    and target rows ``[n_target, d]`` go to ``fit_site(site, source, target)``
    (with ``pooling="tokens"`` every real token is a row: ``[source tokens, d]``).
    If it returns a transform, that transform is applied to the source rows
    before the forward pass goes on, so every later site is fitted with the
    earlier ones already applied (causal estimation, as in AcT); target rows
    stay as the model computes them. The pass stops after the last site.
    """
    enc = encode(model, list(source) + list(target), padding_side="right")
    n_source = len(source)

    def fit(site: Site, h: torch.Tensor) -> torch.Tensor | None:
        if h.dim() != 3 or h.shape[0] != enc.input_ids.shape[0]:
            raise MechscopeError(
                f"site {site.key!r} gives hidden states of shape {tuple(h.shape)}, not [batch, seq, d]; "
                "choose modules whose output is a per-token hidden state")
        if pooling == "tokens":  # every real token is a sample
            real = enc.attention_mask.bool()
            src, tgt = h[:n_source][real[:n_source]].float(), h[n_source:][real[n_source:]].float()
        else:
            pooled = pool(h.float(), enc.attention_mask, pooling)
            src, tgt = pooled[:n_source], pooled[n_source:]
        transform = fit_site(site, src, tgt)
        if transform is None:
            return None
        new = h.clone()
        new[:n_source] = transform(h[:n_source])
        return new

    with torch.no_grad():
        run_to_last_site(model, sites, enc.model_inputs(), fit)
