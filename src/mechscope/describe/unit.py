"""Describe one unit of a real model: its activation on text is the black-box function.

Sites: ``mlp.L`` is neuron INDEX of layer L's MLP (the input of its down
projection, after the nonlinearity and gating); ``resid.L`` is dimension INDEX
of the residual stream after layer L (``resid.-1`` is the embedding output).
The activation of a text is the unit's largest value over the text's tokens.
The baseline ranks the probe vocabulary and a small corpus of task prompts by
activation and names a concept when the top words share one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from mechscope.describe.concepts import probe_vocabulary
from mechscope.describe.interp_concepts import interpret_concept
from mechscope.describe.interpretation import Interpretation
from mechscope.errors import MechscopeError



@dataclass(frozen=True)
class UnitSite:
    kind: str  # "mlp" or "resid"
    layer: int
    index: int

    def __str__(self) -> str:
        return f"{self.kind}.{self.layer}:{self.index}"


def parse_unit(spec: str, model) -> UnitSite:
    """Parse ``mlp.L:I`` or ``resid.L:I`` and check it against the model.

    >>> from mechscope.models import load
    >>> str(parse_unit("mlp.1:5", load("random:llama-tiny")))
    'mlp.1:5'
    """
    m = re.fullmatch(r"(mlp|resid)\.(-?\d+):(\d+)", spec.strip())
    if not m:
        raise MechscopeError(
            f"unit {spec!r} is not SITE:INDEX; use mlp.<layer>:<neuron> or resid.<layer>:<dim>, e.g. mlp.3:120"
        )
    kind, layer, index = m.group(1), int(m.group(2)), int(m.group(3))
    a = model.adapter
    if not (-1 if kind == "resid" else 0) <= layer < a.n_layers:
        raise MechscopeError(f"unit {spec!r}: layer {layer} is outside 0..{a.n_layers - 1} of {model.spec}")
    size = a.d_model if kind == "resid" else _mlp_width(model, layer)
    if index >= size:
        raise MechscopeError(f"unit {spec!r}: index {index} is outside 0..{size - 1} of {kind} in {model.spec}")
    return UnitSite(kind, layer, index)


def _down(model, layer: int) -> torch.nn.Module:
    a = model.adapter
    return a.layer(model.hf, layer).get_submodule(a.down_proj)


def _mlp_width(model, layer: int) -> int:
    return model.adapter.mlp_width(model.hf, layer)


@torch.no_grad()
def unit_activations(model, site: UnitSite, texts: list[str], batch_size: int = 32) -> list[float]:
    """The unit's largest activation over each text's tokens."""
    tok = model.tokenizer
    tok.padding_side = "right"
    captured: list[torch.Tensor] = []
    hook = None
    if site.kind == "mlp":
        hook = _down(model, site.layer).register_forward_pre_hook(
            lambda mod, args: captured.append(args[0][..., site.index])
        )
    out = []
    try:
        for i in range(0, len(texts), batch_size):
            enc = tok(texts[i : i + batch_size], return_tensors="pt", padding=True).to(model.device)
            captured.clear()
            res = model.hf(**enc, output_hidden_states=site.kind == "resid")
            acts = captured[0] if site.kind == "mlp" else res.hidden_states[site.layer + 1][..., site.index]
            acts = acts.float().masked_fill(enc["attention_mask"] == 0, float("-inf"))
            out += acts.max(dim=1).values.tolist()
    finally:
        if hook is not None:
            hook.remove()
    return out


def corpus() -> list[str]:
    """Texts shown as top-activating inputs beside the vocabulary: built-in task prompts."""
    from mechscope.tasks import BUILTIN_TASKS, load_task

    texts = []
    for name in sorted(BUILTIN_TASKS):
        try:
            texts += [ex.clean for ex in load_task(name, n=24).examples]
        except Exception:
            continue
    return sorted(set(texts))


def describe_unit(model, unit: str, top_k: int = 12) -> Interpretation:
    """Describe a unit from its activations on the probe vocabulary and the task corpus.

    >>> from mechscope.models import load
    >>> interp = describe_unit(load("random:llama-tiny"), "mlp.0:3", top_k=3)
    >>> len(interp.evidence["top_texts"])
    3
    """
    site = parse_unit(unit, model)
    vocab = probe_vocabulary()
    acts = dict(zip(vocab, unit_activations(model, site, vocab)))
    interp = interpret_concept(lambda w: acts[w], vocab, top_k=top_k)
    texts = corpus()
    text_acts = sorted(zip(unit_activations(model, site, texts), texts), reverse=True)[:top_k]
    evidence = {
        **interp.evidence,
        "unit": str(site),
        "model": model.spec,
        "fingerprint": model.fingerprint,
        "top_texts": [[t, round(a, 4)] for a, t in text_acts],
    }
    return Interpretation(interp.description, interp.code, None, None, evidence)
