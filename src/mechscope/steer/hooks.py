"""Apply per-site transforms to a running model: hooks that always come off.

`steering_hooks` registers one hook per site and a pre-hook on the whole model
that records where in the sequence each forward call starts (0 without a KV
cache, the cache length with one), so that "prompt only" and "generated only"
positions are right in cached generation, uncached generation and plain
forward passes alike. The hooks are removed when the ``with`` block ends, also
when it ends with an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from mechscope.errors import MechscopeError
from mechscope.steer.sites import Site, get_hidden, hook_site, set_hidden

POSITIONS = ("all", "prompt", "generated")

Transform = Callable[[torch.Tensor], torch.Tensor]  # hidden [batch, seq, d] -> same shape


@dataclass
class HookState:
    """What the hooks know about the current forward call.

    `offset` is the sequence column of the call's first position (the KV cache
    length). `prompt_length` is the column where generation starts: set it
    before an uncached generation loop; with a cache it is taken from the first
    call that starts at column 0.
    """

    positions: str = "all"
    prompt_length: int | None = None
    offset: int = 0
    calls: int = 0
    handles: list = field(default_factory=list)

    def position_mask(self, seq: int, device: torch.device) -> torch.Tensor | None:
        """``[seq]`` bool: which positions of this call are steered (None: all of them)."""
        if self.positions == "all":
            return None
        if self.prompt_length is None:
            raise MechscopeError(
                f"positions={self.positions!r} needs the prompt length; run the prompt first (with use_cache=True) "
                "or set prompt_length on the handle before an uncached generation loop")
        cols = self.offset + torch.arange(seq, device=device)
        return cols < self.prompt_length if self.positions == "prompt" else cols >= self.prompt_length


def _cache_length(kwargs: dict) -> int:
    # transformers 5.x passes the KV cache as `cache`; 4.x as `past_key_values`.
    cache = kwargs.get("cache", kwargs.get("past_key_values"))
    if cache is None:
        return 0
    if hasattr(cache, "get_seq_length"):
        return int(cache.get_seq_length())
    return int(cache[0][0].shape[-2])  # legacy tuple cache: [layer][k|v] of [batch, heads, seq, d]


def _call_length(args: tuple, kwargs: dict) -> int:
    ids = kwargs.get("input_ids", args[0] if args else None)
    if ids is None:
        ids = kwargs.get("inputs_embeds")
    return int(ids.shape[1])


@contextmanager
def steering_hooks(model, transforms: dict[Site, Transform], positions: str = "all",
                   prompt_length: int | None = None) -> Iterator[HookState]:
    """Run `model` (a `mechscope.models.Model`) with each site's hidden states transformed.

    Each transform maps hidden states ``[batch, seq, d]`` to the same shape; at
    positions that are not steered the original values are kept.

    >>> import torch
    >>> from mechscope.models import load
    >>> from mechscope.steer.sites import Site
    >>> m = load("random:llama-tiny")
    >>> ids = torch.tensor([[1, 2, 3]])
    >>> with steering_hooks(m, {Site("model.layers.0"): lambda h: h * 0}):
    ...     steered = m.hf(ids).logits
    >>> bool((steered != m.hf(ids).logits).any()), len(m.hf.model.layers[0]._forward_hooks)
    (True, 0)
    """
    if positions not in POSITIONS:
        raise MechscopeError(f"positions {positions!r} is not one of {', '.join(POSITIONS)}")
    state = HookState(positions=positions, prompt_length=prompt_length)

    def track(_module, args, kwargs):
        state.offset = _cache_length(kwargs)
        if state.offset == 0 and state.prompt_length is None and positions != "all":
            state.prompt_length = _call_length(args, kwargs)
        state.calls += 1

    def wrap(fn: Transform):
        def apply(value):
            h = get_hidden(value)
            new = fn(h)
            keep = state.position_mask(h.shape[-2], h.device) if h.dim() >= 2 else None
            if keep is not None:
                new = torch.where(keep[:, None], new, h)
            return set_hidden(value, new)
        return apply

    try:
        state.handles.append(model.hf.register_forward_pre_hook(track, with_kwargs=True))
        for site, fn in transforms.items():
            state.handles.append(hook_site(model, site, wrap(fn)))
        yield state
    finally:
        for handle in state.handles:
            handle.remove()
        state.handles.clear()
