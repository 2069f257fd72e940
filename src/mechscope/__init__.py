"""mechscope: find, test, steer, compare and describe the mechanisms inside language models.

The top level holds the few names most work needs; the rest is one import
deeper (`mechscope.graph`, `mechscope.tasks`, ...).

>>> import mechscope as ms
>>> model = ms.load("random:gpt2-tiny")
>>> ms.Graph.from_model(model).n_edges
110
"""

from __future__ import annotations

import logging as _logging

from mechscope import heap as _heap

_heap.use_huge_pages()  # before torch allocates a tensor: it reads the setting once, at its first allocation

__version__ = "0.1.0"

# transformers imports torchao where it is installed, and on a CPU machine torchao logs a failed load of each
# of its CUDA-only kernel libraries (and torch a deprecation note per torchao enum): noise, not news.
for _noisy in ("torchao", "torch.utils._pytree"):
    _logging.getLogger(_noisy).setLevel(_logging.ERROR)

_LAZY = {
    "load": ("mechscope.models", "load"),
    "Model": ("mechscope.models", "Model"),
    "Graph": ("mechscope.graph", "Graph"),
    "EdgeMask": ("mechscope.graph", "EdgeMask"),
    "load_task": ("mechscope.tasks", "load_task"),
    "Task": ("mechscope.tasks", "Task"),
    "MechscopeError": ("mechscope.errors", "MechscopeError"),
    "show": ("mechscope.ui", "show"),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    # Lazy, so `mechscope --help` does not pay for importing torch and transformers.
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'mechscope' has no attribute {name!r}")
