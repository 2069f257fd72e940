"""Scored descriptions of real units: the explainer/simulator protocol (Bills et al. 2023; Delphi).

For each unit (an MLP neuron, a residual-stream dimension, or any direction in
the residual stream, e.g. a steering vector) the per-token activations on a
text corpus are recorded, and the corpus is split in two. An explainer reads
the top-activating texts of the first half (tokens with their activations) and
some random ones, and writes a description. A simulator reads only that
description and predicts an activation 0-10 for every token of held-out texts
from the second half: the top-activating ones and as many random ones. Scores:

- ``correlation`` (Bills et al.): Pearson correlation of simulated with true
  activations over all held-out tokens;
- ``detection`` (Delphi): AUROC with which the simulated text maximum tells
  held-out activating texts from held-out texts at or below the median;
- ``fuzzing`` (Delphi, judged through the simulator): balanced accuracy with
  which "the highlighted tokens are where it fires" holds for the truly
  top-activating tokens of an activating text and fails for as many random ones.

"Where it fires" is relative to the unit's typical activation (the median over
the tokens shown or scored), so that a direction whose projection is never
near zero is read the same way as a sparse neuron. The random-description
baseline scores each unit with another unit's
description. Explainers and simulators are pluggable: `TokenExplainer` and
`TokenSimulator` run offline (a token list, with the concept it belongs to and
whether the first position dominates), `LLMExplainer` and `LLMSimulator` ask
any OpenAI-compatible chat endpoint (`describe serve` for the embedded model).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from mechscope.describe._words import CONCEPTS

N_TOP = 10  # top-activating texts shown to the explainer, and held out for scoring
N_RANDOM = 10  # random texts beside them, in both halves
_QUOTED = re.compile(r"'([^']{1,40})'")


@dataclass(frozen=True)
class Record:
    """One text through one unit: its tokens and the unit's activation at each, shape [tokens]."""

    text: str
    tokens: tuple[str, ...]
    acts: np.ndarray

    @property
    def max(self) -> float:
        return float(self.acts.max()) if len(self.acts) else 0.0


def _norm(token: str) -> str:
    return token.strip().lower()


def baseline(records: list[Record]) -> float:
    """The unit's typical activation: the median over every token of `records` (0 for a sparse neuron)."""
    acts = [r.acts for r in records if len(r.acts)]
    return float(np.median(np.concatenate(acts))) if acts else 0.0


def hot(acts: np.ndarray, peak: float, base: float) -> np.ndarray:
    """Tokens at least halfway from the unit's typical activation to `peak`, shape [tokens] (bool).

    >>> hot(np.array([0.0, 1.0, 4.0]), 4.0, 0.0).tolist()
    [False, False, True]
    """
    return (acts >= base + 0.5 * (peak - base)) & (peak > base)


class TokenExplainer:
    """Offline explainer: the tokens where the unit fires most, their concept, and position 0 if it dominates."""

    name = "tokens"

    def explain(self, top: list[Record], others: list[Record]) -> str:
        first = sum(int(np.argmax(r.acts)) == 0 for r in top if len(r.acts))
        if top and first >= 0.7 * len(top):
            return "fires on the first token of the text"
        peak, base = max((r.max for r in top), default=0.0), baseline(top + others)
        counts: Counter = Counter()
        for r in top:
            for tok, a, h in zip(r.tokens, r.acts, hot(r.acts, peak, base)):
                if h and _norm(tok):
                    counts[_norm(tok)] += float(a - base)
        words = [w for w, _ in counts.most_common(6)]
        if not words:
            return "fires on no token in particular"
        concept = next((c for c, ws in CONCEPTS.items() if sum(w in ws for w in words) >= 2), None)
        text = "fires on the tokens " + ", ".join(f"'{w}'" for w in words)
        return text + (f" (words about {concept})" if concept else "")


class TokenSimulator:
    """Offline simulator: 10 on a token the description quotes or a word of a concept it names, else 0."""

    name = "tokens"

    def simulate(self, description: str, tokens: tuple[str, ...]) -> list[float]:
        if "first token" in description:
            return [10.0] + [0.0] * (len(tokens) - 1) if tokens else []
        words = {_norm(w) for w in _QUOTED.findall(description)}
        for concept, ws in CONCEPTS.items():
            if re.search(rf"\b{concept}\b", description.lower()):
                words |= set(ws)
        return [10.0 if _norm(t) in words else 0.0 for t in tokens]


def _marked(r: Record, peak: float, base: float) -> str:
    return "".join(f"<<{t}>>" if h else t for t, h in zip(r.tokens, hot(r.acts, peak, base)))


class LLMExplainer:
    """An explainer that asks a chat endpoint, showing texts with the top tokens marked <<like this>>."""

    name = "llm"

    def __init__(self, url: str, model: str, timeout: float = 120.0):
        self.url, self.model, self.timeout = url, model, timeout

    def explain(self, top: list[Record], others: list[Record]) -> str:
        from mechscope.describe.llm import chat

        peak, base = max((r.max for r in top), default=0.0), baseline(top + others)
        lines = [
            "A neuron in a language model fires on some tokens. In these texts the tokens where it fires most "
            "are marked <<like this>>:"
        ]
        lines += [f"{i + 1}. {_marked(r, peak, base)}" for i, r in enumerate(top)]
        lines.append("In these texts it barely fires:")
        lines += [f"- {r.text}" for r in others[:5]]
        lines.append("In one short sentence starting 'fires on', say which tokens or contexts make it fire.")
        reply = chat(self.url, self.model, [{"role": "user", "content": "\n".join(lines)}], self.timeout, 80)
        return reply.strip().splitlines()[0] if reply.strip() else ""


class LLMSimulator:
    """A simulator that asks a chat endpoint for one activation 0-10 per token (Bills et al.'s task)."""

    name = "llm"

    def __init__(self, url: str, model: str, timeout: float = 120.0):
        self.url, self.model, self.timeout = url, model, timeout

    def simulate(self, description: str, tokens: tuple[str, ...]) -> list[float]:
        from mechscope.describe.llm import chat

        listing = "\n".join(f"{i + 1}\t{t!r}" for i, t in enumerate(tokens))
        content = (
            f"A neuron {description}.\nFor each token below, predict how strongly the neuron fires on it, "
            f"from 0 (not at all) to 10 (most). Answer with one line per token: index<TAB>number.\n{listing}"
        )
        reply = chat(self.url, self.model, [{"role": "user", "content": content}], self.timeout, 8 * len(tokens) + 16)
        pred = [0.0] * len(tokens)
        for i, v in re.findall(r"(\d+)\s*[\t:=,-]\s*(\d+(?:\.\d+)?)", reply):
            if 1 <= int(i) <= len(tokens):
                pred[int(i) - 1] = min(10.0, float(v))
        return pred


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def auroc(pos: list[float], neg: list[float]) -> float:
    """Probability that a positive outscores a negative (ties count half).

    >>> auroc([2.0, 3.0], [1.0, 2.0])
    0.875
    """
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@dataclass(frozen=True)
class Split:
    """A unit's records split into what the explainer sees and what the simulator is scored on."""

    top: list[Record]
    others: list[Record]
    held_top: list[Record]
    held_random: list[Record]
    held_low: list[Record]


def split_records(records: list[Record], seed: int = 0) -> Split:
    """Seeded halves; from each, the top-activating texts and random ones (the held-out low ones too)."""
    idx = list(range(len(records)))
    random.Random(seed).shuffle(idx)
    half = len(idx) // 2
    first, second = [records[i] for i in idx[:half]], [records[i] for i in idx[half:]]
    by_max = sorted(second, key=lambda r: -r.max)
    rng = random.Random(seed + 1)
    rest = by_max[N_TOP:]
    median = float(np.median([r.max for r in second])) if second else 0.0
    return Split(
        top=sorted(first, key=lambda r: -r.max)[:N_TOP],
        others=rng.sample(first, min(N_RANDOM, len(first))),
        held_top=by_max[:N_TOP],
        held_random=rng.sample(rest, min(N_RANDOM, len(rest))),
        held_low=[r for r in rest if r.max <= median][: 2 * N_RANDOM],
    )


def score_description(description: str, split: Split, simulator, seed: int = 0) -> dict:
    """Correlation, detection and fuzzing scores of one description on a unit's held-out texts."""
    scored = split.held_top + split.held_random
    texts = list({id(r): r for r in scored + split.held_low}.values())
    if hasattr(simulator, "simulate_many"):  # one call for every text (a model reuses the description's cache)
        preds = simulator.simulate_many(description, [r.tokens for r in texts])
    else:
        preds = [simulator.simulate(description, r.tokens) for r in texts]
    sims = {id(r): np.asarray(p, dtype=float) for r, p in zip(texts, preds)}
    true = np.concatenate([r.acts for r in scored]) if scored else np.zeros(0)
    pred = np.concatenate([sims[id(r)] for r in scored]) if scored else np.zeros(0)
    detection = auroc(
        [float(sims[id(r)].max(initial=0.0)) for r in split.held_top],
        [float(sims[id(r)].max(initial=0.0)) for r in split.held_low],
    )
    rng, right, wrong = random.Random(seed), [], []
    base = baseline(split.held_top + split.held_random)
    for r in split.held_top:
        marked = [int(i) for i in np.flatnonzero(hot(r.acts, r.max, base))]
        cold = [i for i in range(len(r.acts)) if i not in marked]
        if not marked or not cold:
            continue
        fake = rng.sample(cold, min(len(marked), len(cold)))
        s = sims[id(r)]
        right.append(_fits(s, marked))
        wrong.append(not _fits(s, fake))
    fuzzing = (np.mean(right) + np.mean(wrong)) / 2 if right else float("nan")
    return {"correlation": _pearson(true, pred), "detection": detection, "fuzzing": float(fuzzing)}


def _fits(sim: np.ndarray, marked: list[int]) -> bool:
    """The simulator's verdict that the marked tokens are where the unit fires: it predicts more there."""
    rest = [i for i in range(len(sim)) if i not in marked]
    return bool(sim[marked].mean() > (sim[rest].mean() if rest else 0.0))
