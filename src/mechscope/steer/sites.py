"""Where steering acts: named sites of a model resolved to real module paths.

A site kind names one module per layer through the model's adapter:

=========  ===================================================  ==============================
kind       module (output is steered)                           SmolLM2 path, layer 10
=========  ===================================================  ==============================
block      the decoder layer (the residual stream after it)     ``model.layers.10``
attn       the attention module (before its residual add)       ``model.layers.10.self_attn``
mlp        the MLP (before its residual add)                    ``model.layers.10.mlp``
norm       both normalisations in front of attention and MLP    ``model.layers.10.input_layernorm``, ...
attn-norm  the normalisation in front of attention              ``model.layers.10.input_layernorm``
mlp-norm   the normalisation in front of the MLP                ``model.layers.10.post_attention_layernorm``
neurons    the MLP's hidden units (the input of its down        ``model.layers.10.mlp.down_proj``
           projection; the only kind steered on the input)
=========  ===================================================  ==============================

Anything else is a regular expression matched against the full module names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from mechscope.errors import MechscopeError, closest

SITE_KINDS = ("block", "attn", "mlp", "norm", "attn-norm", "mlp-norm", "neurons")


@dataclass(frozen=True)
class Site:
    """One steered module: its full path and whether its input (not its output) is steered."""

    path: str
    on_input: bool = False

    @property
    def key(self) -> str:
        return self.path + (":in" if self.on_input else "")

    @classmethod
    def from_key(cls, key: str) -> Site:
        return cls(key[:-3], True) if key.endswith(":in") else cls(key)


def parse_layers(spec: str | int | list[int] | None, n_layers: int) -> list[int]:
    """Layer indices from ``"all"``, ``"10"``, ``"5-15"``, ``"3,7,9"``, ``"-1"`` or a list.

    >>> parse_layers("2-4", 30), parse_layers("all", 3), parse_layers("-1", 30)
    ([2, 3, 4], [0, 1, 2], [29])
    """
    if spec is None or spec == "all":
        return list(range(n_layers))
    if isinstance(spec, int):
        items = [spec]
    elif isinstance(spec, (list, tuple)):
        items = list(spec)
    else:
        items = []
        for part in str(spec).split(","):
            part = part.strip()
            m = re.fullmatch(r"(\d+)-(\d+)", part)
            try:
                items.extend(range(int(m[1]), int(m[2]) + 1) if m else [int(part)])
            except ValueError as exc:
                raise MechscopeError(
                    f"layers {spec!r} is not understood; use 'all', one index ('10'), a range ('5-15') "
                    "or a list ('3,7,9')") from exc
    out = []
    for i in items:
        j = i + n_layers if i < 0 else i
        if not 0 <= j < n_layers:
            raise MechscopeError(f"layer {i} is out of range: the model has {n_layers} layers (0-{n_layers - 1})")
        out.append(j)
    return sorted(set(out))


def resolve_sites(model, kind: str, layers: str | int | list[int] | None = "all") -> list[Site]:
    """The modules a site kind (or a regular expression) names, in forward order.

    `model` is a `mechscope.models.Model`. Layers apply to the kinds, not to a regex.

    >>> from mechscope.models import load
    >>> [s.path for s in resolve_sites(load("random:llama-tiny"), "norm", "1")]
    ['model.layers.1.input_layernorm', 'model.layers.1.post_attention_layernorm']
    >>> [s.path for s in resolve_sites(load("random:llama-tiny"), "attn-norm", "0,1")]
    ['model.layers.0.input_layernorm', 'model.layers.1.input_layernorm']
    """
    a = model.adapter
    names = [n for n, _ in model.hf.named_modules() if n]
    if kind in SITE_KINDS:
        idx = parse_layers(layers, a.n_layers)
        norms = {"attn-norm": a.attn_norm, "mlp-norm": a.mlp_norm}
        if kind in norms and norms[kind] is None or kind == "norm" and a.attn_norm is None and a.mlp_norm is None:
            raise MechscopeError(
                f"sites {kind!r}: {model.spec} ({a.family}) has no normalisation in front of "
                f"{'the MLP' if kind == 'mlp-norm' else 'attention'}; steer 'block', 'attn' or 'mlp' instead")
        per_layer = {
            "block": lambda i: [Site(a.layer_path(i))],
            "attn": lambda i: [Site(a.layer_path(i, a.attn))],
            "mlp": lambda i: [Site(a.layer_path(i, a.mlp))],
            "norm": lambda i: [Site(a.layer_path(i, n)) for n in (a.attn_norm, a.mlp_norm) if n is not None],
            "attn-norm": lambda i: [Site(a.layer_path(i, a.attn_norm))],
            "mlp-norm": lambda i: [Site(a.layer_path(i, a.mlp_norm))],
            "neurons": lambda i: [Site(a.layer_path(i, a.down_proj), on_input=True)],
        }[kind]
        sites = [s for i in idx for s in per_layer(i)]
    else:
        try:
            pattern = re.compile(kind)
        except re.error as exc:
            raise MechscopeError(
                f"sites {kind!r} is neither a kind ({', '.join(SITE_KINDS)}) nor a valid regular expression: {exc}"
            ) from exc
        sites = [Site(n) for n in names if pattern.fullmatch(n)]
        if not sites:
            raise MechscopeError(
                f"sites regex {kind!r} matches no module of {model.spec}{closest(kind, names)}; it must match "
                f"whole module names, e.g. '{a.layers}\\.1[0-4]\\.mlp', or use one of {', '.join(SITE_KINDS)}")
    order = {n: i for i, n in enumerate(names)}
    return sorted(sites, key=lambda s: order[s.path])


def site_module(model, site: Site) -> nn.Module:
    """The `nn.Module` at a site, or a one-line error naming the closest module paths."""
    try:
        return model.hf.get_submodule(site.path)
    except AttributeError as exc:
        names = [n for n, _ in model.hf.named_modules() if n]
        raise MechscopeError(
            f"module {site.path!r} is not in {model.spec}{closest(site.path, names)}; "
            "was this steering fitted on another architecture?") from exc


def get_hidden(value) -> torch.Tensor:
    """The hidden-state tensor of a module's output or input (first element of a tuple)."""
    return value[0] if isinstance(value, tuple) else value


def set_hidden(value, hidden: torch.Tensor):
    """`value` with its hidden-state tensor replaced (tuples are rebuilt, never mutated)."""
    return (hidden, *value[1:]) if isinstance(value, tuple) else hidden


def hook_site(model, site: Site, apply: Callable) -> torch.utils.hooks.RemovableHandle:
    """Register ``apply(value) -> new value | None`` on a site's output (or its input, for ``:in`` sites).

    `value` is what the module returns (or its positional arguments); returning None keeps it.
    The one place where steering, fitting and capture attach to a module; the caller removes the handle.
    """
    module = site_module(model, site)
    if site.on_input:
        return module.register_forward_pre_hook(lambda _m, args: apply(args))
    return module.register_forward_hook(lambda _m, _a, out: apply(out))
