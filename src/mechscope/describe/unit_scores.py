"""Score descriptions of a model's units: record activations, explain, simulate, compare with random descriptions.

`score_units` runs the protocol of `mechscope.describe.simulate` on many units
at once (one forward pass over the corpus records them all) and returns, per
unit, its description and scores beside the scores of a random description
(another unit's), plus the distribution of both.

>>> from mechscope.models import load
>>> texts = [f"text {i} about cats" for i in range(40)]
>>> res = score_units(load("random:llama-tiny"), ["mlp.0:1", "resid.1:2"], texts=texts)
>>> sorted(res["units"][0]) == sorted(["unit", "description", "scores", "random_scores"])
True
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from mechscope.describe._words import CONCEPTS
from mechscope.describe.simulate import Record, TokenExplainer, TokenSimulator, score_description, split_records
from mechscope.describe.unit import UnitSite, _down, _mlp_width, parse_unit
from mechscope.describe.unittests import TEMPLATES

METRICS = ("correlation", "detection", "fuzzing")


@dataclass(frozen=True)
class DirectionUnit:
    """A direction in the residual stream after layer `layer`; its activation is the projection, shape [d_model]."""

    layer: int
    vector: torch.Tensor
    name: str

    def __str__(self) -> str:
        return f"dir.{self.layer}:{self.name}"


def scoring_corpus(seed: int = 0) -> list[str]:
    """Texts to record units on: shipped question sets, steering sentences, task prompts, concept sentences."""
    texts: list[str] = []
    sets = resources.files("mechscope") / "data" / "sets"
    for name in ("everyday.jsonl", "everyday_reference.jsonl"):
        texts += [json.loads(line)["text"] for line in (sets / name).read_text().splitlines() if line.strip()]
    steer = resources.files("mechscope") / "steer" / "data"
    for name in ("ocean.txt", "wedding.txt", "positive.txt", "negative.txt", "neutral.txt", "heldout.txt"):
        texts += [line.strip() for line in (steer / name).read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    for concept, words in sorted(CONCEPTS.items()):
        texts += [rng.choice(TEMPLATES).format(w=w) for w in rng.sample(words, min(4, len(words)))]
    from mechscope.describe.unit import corpus

    texts += corpus()
    return sorted(set(texts))


def sample_units(model, n_mlp: int, n_resid: int, seed: int = 0) -> list[str]:
    """`n_mlp` MLP neurons and `n_resid` residual dimensions, at seeded random layers and indices.

    >>> from mechscope.models import load
    >>> sample_units(load("random:llama-tiny"), 2, 1, seed=0)
    ['mlp.1:107', 'mlp.0:66', 'resid.1:51']
    """
    rng, a = random.Random(seed), model.adapter
    units = []
    for _ in range(n_mlp):
        layer = rng.randrange(a.n_layers)
        units.append(f"mlp.{layer}:{rng.randrange(_mlp_width(model, layer))}")
    for _ in range(n_resid):
        units.append(f"resid.{rng.randrange(a.n_layers)}:{rng.randrange(a.d_model)}")
    return units


def steering_units(path: str) -> list[DirectionUnit]:
    """The vectors of a steering file (one per residual-stream site ``model.layers.L``) as direction units."""
    from mechscope.steer.file import SteeringFile

    sf = SteeringFile.load(path)
    out = []
    for site, state in sf.method.state_.items():
        vec = state.get("vector", state.get("direction"))
        if vec is not None and site.rsplit(".", 1)[-1].isdigit():
            layer = int(site.rsplit(".", 1)[-1])
            name = f"{Path(path).stem}-{sf.manifest.get('method')}"
            out.append(DirectionUnit(layer, vec.float().reshape(-1), name))
    return out


@torch.no_grad()
def record_units(model, units: list, texts: list[str], batch_size: int = 16) -> dict[str, list[Record]]:
    """Per-token activations of every unit on every text, one forward pass per batch for all units."""
    tok = model.tokenizer
    tok.padding_side = "right"
    mlp: dict[int, list[int]] = {}
    for u in units:
        if isinstance(u, UnitSite) and u.kind == "mlp":
            mlp.setdefault(u.layer, []).append(u.index)
    need_hidden = any(not (isinstance(u, UnitSite) and u.kind == "mlp") for u in units)
    captured: dict[int, torch.Tensor] = {}
    hooks = [
        _down(model, layer).register_forward_pre_hook(
            lambda mod, args, layer=layer, idx=torch.tensor(idx): captured.__setitem__(layer, args[0][..., idx])
        )
        for layer, idx in mlp.items()
    ]
    out: dict[str, list[Record]] = {str(u): [] for u in units}
    try:
        for i in range(0, len(texts), batch_size):
            batch = texts[i : i + batch_size]
            enc = tok(batch, return_tensors="pt", padding=True).to(model.device)
            res = model.hf(**enc, output_hidden_states=need_hidden)
            for b, text in enumerate(batch):
                n = int(enc["attention_mask"][b].sum())
                toks = tuple(tok.decode([t]) for t in enc["input_ids"][b, :n].tolist())
                for u in units:
                    if isinstance(u, DirectionUnit):
                        h = res.hidden_states[u.layer + 1][b, :n].float()
                        a = h @ u.vector.to(h.device)
                    elif u.kind == "mlp":
                        a = captured[u.layer][b, :n, mlp[u.layer].index(u.index)]
                    else:
                        a = res.hidden_states[u.layer + 1][b, :n, u.index]
                    out[str(u)].append(Record(text, toks, a.float().cpu().numpy()))
    finally:
        for h in hooks:
            h.remove()
    return out


def _summary(values: list[float]) -> dict:
    v = np.asarray([x for x in values if x == x], dtype=float)
    if not len(v):
        return {"n": 0}
    q = np.quantile(v, [0.1, 0.5, 0.9])
    return {"n": int(len(v)), "mean": round(float(v.mean()), 4), "p10": round(float(q[0]), 4),
            "median": round(float(q[1]), 4), "p90": round(float(q[2]), 4)}  # fmt: skip


def score_units(
    model,
    units: list,
    explainer=None,
    simulator=None,
    texts: list[str] | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Describe and score every unit, beside a random description (another unit's) for each.

    `units` are strings (``mlp.L:I``, ``resid.L:I``) or `DirectionUnit`s. Returns
    ``{"units": [...], "summary": {kind: {metric: {"explained": dist, "random": dist}}}}``.
    """
    explainer, simulator = explainer or TokenExplainer(), simulator or TokenSimulator()
    sites = [parse_unit(u, model) if isinstance(u, str) else u for u in units]
    records = record_units(model, sites, texts if texts is not None else scoring_corpus(seed))
    splits = {str(u): split_records(records[str(u)], seed) for u in sites}
    rows = []
    for i, u in enumerate(sites):
        sp = splits[str(u)]
        rows.append({"unit": str(u), "description": explainer.explain(sp.top, sp.others)})
        if progress:
            progress(i + 1, 2 * len(sites))
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    for i, row in enumerate(rows):  # random baseline: the description of the unit after it in a shuffled order
        other = rows[order[(order.index(i) + 1) % len(rows)]]["description"] if len(rows) > 1 else ""
        sp = splits[row["unit"]]
        row["scores"] = score_description(row["description"], sp, simulator, seed)
        row["random_scores"] = score_description(other, sp, simulator, seed)
        if progress:
            progress(len(rows) + i + 1, 2 * len(rows))
    summary: dict = {}
    for kind in sorted({r["unit"].split(".")[0] for r in rows}) + ["all"]:
        rs = [r for r in rows if kind == "all" or r["unit"].split(".")[0] == kind]
        summary[kind] = {
            m: {
                "explained": _summary([r["scores"][m] for r in rs]),
                "random": _summary([r["random_scores"][m] for r in rs]),
            }
            for m in METRICS
        }
    return {"units": rows, "summary": summary}
