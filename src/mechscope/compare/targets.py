"""Which weight matrices an operation changes.

By default every linear projection inside the decoder layers: attention q, k,
v and output projections and the MLP matrices. Embeddings (tied to the
unembedding in SmolLM2), norms and biases stay as they are. `modules` narrows
that with comma-separated shell patterns over module paths, e.g. ``"*mlp*"``
or ``"*.self_attn.q_proj,*.self_attn.k_proj"``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import torch
from torch import nn

from mechscope.errors import MechscopeError
from mechscope.models import Model


@dataclass(frozen=True)
class Target:
    """One weight matrix: its parameter name, its module path, and whether it is stored ``[in, out]``."""

    name: str  # "model.layers.0.self_attn.q_proj.weight"
    module: str  # "model.layers.0.self_attn.q_proj"
    transposed: bool = False  # GPT-2 Conv1D

    def parameter(self, model: Model) -> nn.Parameter:
        return model.hf.get_submodule(self.module).weight

    def matrix(self, model: Model) -> torch.Tensor:
        """The weight as ``[out_features, in_features]`` (a view)."""
        w = self.parameter(model).detach()
        return w.t() if self.transposed else w

    @property
    def layer(self) -> int | None:
        """The decoder layer index: the first numeric part of the path (``model.layers.3.mlp`` -> 3).

        `targets` only returns modules inside the adapter's layer list, whose
        paths are ``<layers>.<index>.<...>`` for every family.
        """
        for part in self.module.split("."):
            if part.isdigit():
                return int(part)
        return None


def targets(model: Model, modules: str = "*") -> list[Target]:
    """The linear weight matrices of the decoder layers whose module path matches `modules`.

    >>> from mechscope.models import load
    >>> [t.module for t in targets(load("random:llama-tiny"), "*.0.self_attn.*")]  # doctest: +NORMALIZE_WHITESPACE
    ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.k_proj', 'model.layers.0.self_attn.v_proj',
     'model.layers.0.self_attn.o_proj']
    """
    from transformers.pytorch_utils import Conv1D

    patterns = [p.strip() for p in modules.split(",") if p.strip()] or ["*"]
    root = model.adapter.layers
    out = []
    for path, module in model.hf.get_submodule(root).named_modules(prefix=root):
        if not isinstance(module, (nn.Linear, Conv1D)):
            continue
        if any(fnmatch.fnmatchcase(path, p) for p in patterns):
            out.append(Target(f"{path}.weight", path, transposed=isinstance(module, Conv1D)))
    if not out:
        raise MechscopeError(f"--modules {modules!r} matches no linear module of {model.spec}; module paths look "
                             f"like '{root}.0.{model.adapter.mlp}.*': use e.g. '*' or '*{model.adapter.mlp}*'")
    return out
