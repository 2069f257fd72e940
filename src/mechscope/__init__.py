"""mechscope: find, test, steer, compare and describe the mechanisms inside language models.

The top level holds the few names most work needs; the rest is one import
deeper (`mechscope.graph`, `mechscope.tasks`, ...).

>>> import mechscope as ms
>>> model = ms.load("random:gpt2-tiny")
>>> ms.Graph.from_model(model).n_edges
110
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "load": ("mechscope.models", "load"),
    "Model": ("mechscope.models", "Model"),
    "Graph": ("mechscope.graph", "Graph"),
    "EdgeMask": ("mechscope.graph", "EdgeMask"),
    "load_task": ("mechscope.tasks", "load_task"),
    "Task": ("mechscope.tasks", "Task"),
    "MechscopeError": ("mechscope.errors", "MechscopeError"),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    # Lazy, so `mechscope --help` does not pay for importing torch and transformers.
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'mechscope' has no attribute {name!r}")
