"""Concept "neurons" on text: the activation is high for words of a ground-truth concept.

A neuron gives every word of its concept (one concept, or two for a
polysemantic neuron) a seeded strength in [0.5, 1]; its activation on a text is
the largest strength among the text's words, plus small noise. A fixed quarter
of each concept's words is reserved for the unit tests: probing vocabularies
(`probe_vocabulary`) never contain them.
"""

from __future__ import annotations

import random
import re

from mechscope.describe._words import CONCEPTS, FILLER

WORD = re.compile(r"[a-z]+")


def reserved_words(concept: str) -> list[str]:
    """Words of a concept kept out of every probing vocabulary (used in unit tests)."""
    return CONCEPTS[concept][3::4]


def probe_vocabulary() -> list[str]:
    """Words an interpreter may probe with: every concept word not reserved, and filler words.

    >>> "dog" in probe_vocabulary(), "cow" in probe_vocabulary(), "cow" in reserved_words("animals")
    (True, False, True)
    """
    words = [w for c, ws in CONCEPTS.items() for w in ws if w not in reserved_words(c)]
    return sorted(set(words) | set(FILLER))


def sample_neuron(rng: random.Random, p_pair: float = 0.2) -> dict:
    """Draw a neuron: its concepts and a strength for each of their words."""
    names = sorted(CONCEPTS)
    k = 2 if rng.random() < p_pair else 1
    concepts = rng.sample(names, k)
    weights = {w: round(rng.uniform(0.5, 1.0), 3) for c in concepts for w in CONCEPTS[c]}
    return {"concepts": concepts, "weights": weights, "noise_std": 0.02}


def activation(weights: dict, text: str) -> float:
    """The noiseless activation: the largest strength among the text's words.

    >>> activation({"dog": 0.9, "cat": 0.6}, "A cat and a Dog.")
    0.9
    """
    return max((weights.get(w, 0.0) for w in WORD.findall(text.lower())), default=0.0)


def describe_truth(concepts: list[str]) -> str:
    """The ground-truth description of a neuron.

    >>> describe_truth(["fruits", "metals"])
    'responds to words about fruits or metals'
    """
    return "responds to words about " + " or ".join(concepts)


def neuron_source(weights: dict, noise_std: float, seed: int) -> str:
    """Standalone source of a neuron: ``reference(text)`` and noisy ``function(text)``."""
    return f"""import random
import re

SEED = {seed}
_rng = random.Random(SEED)
WEIGHTS = {weights!r}
NOISE_STD = {noise_std!r}
_WORD = re.compile(r"[a-z]+")


def reference(text):
    return max((WEIGHTS.get(w, 0.0) for w in _WORD.findall(str(text).lower())), default=0.0)


def function(text):
    return round(min(1.0, max(0.0, reference(text) + _rng.gauss(0.0, NOISE_STD))), 3)
"""
