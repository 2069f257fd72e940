"""AxBench's three axes, offline: concept, instruction relevance, fluency, and their harmonic mean.

AxBench (Wu et al. 2025) rates each steered generation 0-2 by an LLM judge on three axes and
reports their harmonic mean. Without an endpoint mechscope scores each generation in [0, 1] on
the same three axes with calibrated offline judges (an LLM judge can be passed instead):

- concept: the probability that the text is about the concept, from a one-dimensional logistic
  regression on the embedding cosine between the text and the concept's description, calibrated
  on half of the concept's target sentences and of the held-out neutral sentences and checked on
  the other half (`Judges.concept_accuracy`); the lexicon rate is reported beside it;
- instruction relevance: the probability that the continuation belongs to its own prompt rather
  than to another one, a logistic regression on the prompt-continuation embedding cosine calibrated
  on the unsteered generations (own prompt versus a shifted one);
- fluency: ``min(1, ref / ppl) * distinct2`` per text, where ``ppl`` is the text's perplexity under
  the unsteered model after its prompt, ``ref`` the median over unsteered generations and
  ``distinct2`` the text's share of unique word bigrams (repetition lowers it).

The harmonic mean is taken per generation (0 if any axis is 0) and averaged, as AxBench does.
The embedding function is passed in (``texts -> unit vectors [n, dim]``), e.g. MiniLM from
`mechscope.data.embed`, so this layer loads no embedding model itself.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mechscope.errors import MechscopeError
from mechscope.steer.evaluate import score_texts
from mechscope.steer.scoring import distinct_n, lexicon_scores, words

Embed = Callable[[list[str]], np.ndarray]  # texts -> unit vectors [n, dim]
AXES = ("concept", "instruction", "fluency")


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 50) -> tuple[float, float]:
    """A one-feature logistic regression ``p = sigmoid(a x + b)`` by Newton's method (lightly L2-regularised).

    >>> a, b = fit_logistic(np.array([0.0, 0.1, 0.9, 1.0]), np.array([0, 0, 1, 1]))
    >>> a > 0 and 1 / (1 + math.exp(-(a * 0.95 + b))) > 0.9
    True
    """
    X = np.stack([np.asarray(x, float), np.ones(len(x))], 1)
    w = np.zeros(2)
    y = np.asarray(y, float)
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(X @ w, -30, 30)))
        grad = X.T @ (p - y) + l2 * w
        hess = X.T @ (X * (p * (1 - p))[:, None]) + l2 * np.eye(2)
        w = w - np.linalg.solve(hess, grad)
    return float(w[0]), float(w[1])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(z, -30, 30)))


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1)


@dataclass(frozen=True)
class Judges:
    """The calibrated offline judges for one concept, prompt set and model (see the module docstring)."""

    embed: Embed
    description: np.ndarray  # [dim] unit vector of the concept description
    concept_ab: tuple[float, float]
    concept_accuracy: float  # on the held-out half of the calibration sentences
    relevance_ab: tuple[float, float]
    relevance_accuracy: float
    ref_ppl: float  # median perplexity of unsteered generations
    lexicon: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"concept_ab": list(self.concept_ab), "concept_accuracy": self.concept_accuracy,
                "relevance_ab": list(self.relevance_ab), "relevance_accuracy": self.relevance_accuracy,
                "ref_ppl": self.ref_ppl}


def per_text_ppl(model, prompts: list[str], texts: list[str], prefix: str = "") -> list[float]:
    """Each text's perplexity under `model` (unsteered) after its prompt; NaN for an empty text."""
    out = [math.nan] * len(texts)
    keep = [i for i, t in enumerate(texts) if t.strip()]
    if not keep:
        return out
    scored = score_texts(model, [texts[i] for i in keep], [prefix + prompts[i] for i in keep], keep_logp=False)
    nll = -scored.logp.squeeze(-1)
    start = 0
    for i, n in zip(keep, scored.counts):
        out[i] = math.exp(float(nll[start:start + n].mean())) if n else math.nan
        start += n
    return out


def text_distinct2(text: str) -> float:
    """A text's share of unique word bigrams (1.0 for fewer than two words).

    >>> text_distinct2("the sea the sea the sea"), text_distinct2("sea")
    (0.4, 1.0)
    """
    return distinct_n([text], 2) if len(words(text)) >= 2 else 1.0


def calibrate(model, embed: Embed, description: str, concept_sentences: list[str], other_sentences: list[str],
              prompts: list[str], unsteered: list[str], lexicon: list[str]) -> Judges:
    """Fit the concept and relevance judges and the fluency reference (see the module docstring).

    `unsteered` are the unsteered continuations of `prompts`, in order.
    """
    if len(concept_sentences) < 4 or len(other_sentences) < 4 or len(prompts) < 2:
        raise MechscopeError("calibrating the offline judges needs at least 4 concept and 4 other sentences and "
                             f"2 prompts; got {len(concept_sentences)}, {len(other_sentences)} and {len(prompts)}")
    desc = embed([description])[0]
    pos, neg = embed(concept_sentences), embed(other_sentences)
    x = np.concatenate([_cos(pos, desc), _cos(neg, desc)])
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    half = np.arange(len(x)) % 2 == 0
    a, b = fit_logistic(x[half], y[half])
    acc = float(((_sigmoid(a * x[~half] + b) > 0.5) == (y[~half] > 0.5)).mean())
    a, b = fit_logistic(x, y)
    p_emb, c_emb = embed(prompts), embed([t if t.strip() else " " for t in unsteered])
    own = _cos(p_emb, c_emb)
    other = _cos(p_emb, np.roll(c_emb, 1, axis=0))
    rx = np.concatenate([own, other])
    ry = np.concatenate([np.ones(len(own)), np.zeros(len(other))])
    ra, rb = fit_logistic(rx, ry)
    racc = float(((_sigmoid(ra * rx + rb) > 0.5) == (ry > 0.5)).mean())
    ppl = [p for p in per_text_ppl(model, prompts, unsteered) if not math.isnan(p)]
    return Judges(embed, desc, (a, b), acc, (ra, rb), racc, statistics.median(ppl) if ppl else 1.0,
                  tuple(lexicon))


def harmonic(values: list[float]) -> float:
    """Harmonic mean, 0 if any value is 0.

    >>> harmonic([1.0, 0.5, 0.5]), harmonic([1.0, 0.0, 1.0])
    (0.6, 0.0)
    """
    if any(v <= 0 for v in values):
        return 0.0
    return len(values) / sum(1 / v for v in values)


def score_axes(model, judges: Judges, prompts: list[str], texts: list[str], prefix: str = "",
               judge: Callable[[str, str], dict[str, float]] | None = None) -> dict:
    """Mean scores on the three axes, their per-generation harmonic mean, and the per-text scores.

    `judge(prompt, text) -> {"concept", "instruction", "fluency"}` (each in [0, 1]), e.g. an LLM judge,
    replaces the offline judges when given. `prefix` is what came before each prompt (prompting).
    """
    if len(prompts) != len(texts):
        raise MechscopeError(f"{len(prompts)} prompts but {len(texts)} texts; give one text per prompt")
    safe = [t if t.strip() else " " for t in texts]
    if judge is not None:
        per = [judge(p, t) for p, t in zip(prompts, texts)]
        c = np.array([s["concept"] for s in per]); r = np.array([s["instruction"] for s in per])  # noqa: E702
        f = np.array([s["fluency"] for s in per])
    else:
        emb, p_emb = judges.embed(safe), judges.embed(prompts)
        c = _sigmoid(judges.concept_ab[0] * _cos(emb, judges.description) + judges.concept_ab[1])
        r = _sigmoid(judges.relevance_ab[0] * _cos(p_emb, emb) + judges.relevance_ab[1])
        ppl = per_text_ppl(model, prompts, texts, prefix)
        f = np.array([0.0 if math.isnan(p) else min(1.0, judges.ref_ppl / p) * text_distinct2(t)
                      for p, t in zip(ppl, texts)])
    h = [harmonic([float(a), float(b), float(d)]) for a, b, d in zip(c, r, f)]
    lex = lexicon_scores(texts, list(judges.lexicon)) if judges.lexicon else [0.0] * len(texts)
    return {"concept": float(c.mean()), "concept_rate": float((c > 0.5).mean()), "instruction": float(r.mean()),
            "fluency": float(f.mean()), "harmonic": float(np.mean(h)), "lexicon": float(np.mean(lex)),
            "per_text": {"concept": c.tolist(), "instruction": r.tolist(), "fluency": f.tolist(), "harmonic": h}}


def add_axes(model, doc: dict, judges: Judges, prompts: list[str], keep_per_text: bool = False) -> dict:
    """Add ``axes`` (from `score_axes`) to the unsteered row and every sweep row of an evaluation that kept
    its texts (``evaluate_steering(..., keep_texts=True)``); rows without texts get ``axes`` None.
    Also to a prompting row (``evaluate_prompting(..., keep_texts=True)``) given as `doc`."""
    rows = [doc] if "sweep" not in doc else [doc["unsteered"], *doc["sweep"]]
    for row in rows:
        texts = row.get("texts") or []
        if len(texts) != len(prompts):
            row["axes"] = None
            continue
        prefix = (row.get("instruction", "").strip() + "\n\n") if row.get("instruction") else ""
        axes = score_axes(model, judges, prompts, texts, prefix=prefix)
        if not keep_per_text:
            axes.pop("per_text")
        row["axes"] = axes
    if "sweep" in doc:
        doc["judges"] = judges.to_dict()
    return doc
