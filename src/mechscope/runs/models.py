"""The model a run works on, loaded once per process and reused by the runs after it.

A sweep runs many cells on one model in a row, and a worker of a pool or of Ray runs many cells; loading
SmolLM2 takes seconds, so the last model loaded is kept. Only one is kept: two would double the memory.

>>> cached_model("random:gpt2-tiny") is cached_model("random:gpt2-tiny")
True
"""

from __future__ import annotations

_CACHE: dict = {}


def cached_model(spec: str, store=None, device: str | None = None, dtype: str | None = None):
    """The model `spec` names (a model spec or a version of the store) on `device` in `dtype`, the same object as
    last time if it was."""
    from mechscope.store import Store, load_model

    store = store or Store()
    key = (spec, str(store.root), device, dtype)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = load_model(store, spec, device=device, dtype=dtype)
    return _CACHE[key]


def forget_models() -> None:
    """Drop the kept model (its memory is freed once nothing else holds it)."""
    _CACHE.clear()
