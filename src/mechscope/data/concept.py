"""The concept that steers the generator in `augment --method concept`, and the scorer that checks it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mechscope.errors import MechscopeError

FITTED_STRENGTH = 2.0  # DiffMean on SmolLM2, wedding: at 4, 38 of 40 rewrites left their seed; at 2, 5 were kept


@dataclass(frozen=True, eq=False)
class ConceptSpec:
    """A steering method for the generator, its strength, and what the concept is known by.

    `examples` are the sentences that carry the concept (None for a steering file without them);
    `lexicon` and `scorer` come from the steering file or the shipped concept.
    """

    name: str
    steering: object
    strength: float
    lexicon: list[str] | None = None
    scorer: str | None = None
    examples: list[str] | None = field(default=None, repr=False)

    def scorer_for(self, choice, embedder) -> tuple[str, Callable[[list[str]], list[float]]]:
        """(name, function) of the scorer: the one chosen, else the concept's own, else ``similarity``
        (cosine of a text's embedding to the mean embedding of the concept's examples)."""
        from mechscope.data.behaviour import resolve_scorer

        choice = choice or self.scorer or ("lexicon" if self.lexicon else "similarity")
        if choice != "similarity":
            return resolve_scorer(choice, self.lexicon)
        if not self.examples:
            raise MechscopeError(f"scorer 'similarity' needs the concept's example sentences, and {self.name!r} "
                                 "has none; pass --scorer lexicon --lexicon WORDS, vader or toxicity")
        centre = embedder.embed(self.examples).mean(0)
        centre = centre / np.linalg.norm(centre)
        return "similarity", lambda texts: (embedder.embed(list(texts)) @ centre).astype(float).tolist()


def resolve_concept(concept: str, model, strength: float | None = None, lexicon: list[str] | None = None
                    ) -> ConceptSpec:
    """A steering file (``.safetensors`` from `mechscope steer fit`), a shipped concept name, or a file of
    example sentences (a DiffMean direction fitted on the fly, from the shipped neutral sentences to them).

    >>> from mechscope.models import load
    >>> c = resolve_concept("wedding", load("random:llama-tiny"))
    >>> c.name, c.scorer, c.strength
    ('wedding', 'lexicon', 2.0)
    """
    from mechscope.steer import SteeringFile, load_concept
    from mechscope.steer.concepts import CONCEPTS, read_sentences
    from mechscope.steer.vectors import DiffMean

    if str(concept).endswith(".safetensors"):
        sf = SteeringFile.load(concept)
        sf.method.check_model(model, strict=False)
        m = sf.manifest
        return ConceptSpec(m.get("concept") or Path(concept).stem, sf,
                           sf.default_strength if strength is None else strength,
                           lexicon or m.get("lexicon"), m.get("scorer"))
    if concept in CONCEPTS and not Path(concept).exists():
        c = load_concept(concept)
        steering = DiffMean().fit(model, c.source, c.target)
        return ConceptSpec(concept, steering, FITTED_STRENGTH if strength is None else strength,
                           lexicon or c.lexicon, "lexicon" if lexicon else c.scorer, c.target)
    examples = read_sentences(concept)
    if len(examples) < 3:
        raise MechscopeError(f"concept file {concept!r} has {len(examples)} sentences; give at least 3 that carry "
                             "the concept, one a line")
    neutral = load_concept("wedding").source  # the shipped neutral everyday sentences
    steering = DiffMean().fit(model, neutral, examples)
    return ConceptSpec(Path(concept).stem, steering, FITTED_STRENGTH if strength is None else strength,
                       lexicon, "lexicon" if lexicon else None, examples)
