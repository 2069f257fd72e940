"""Several steering files at once (a concept up and another down), and steering away from a concept.

`Composition` applies fitted steerings together, each at its own strength, all scaled by one
multiplier, so `evaluate_steering` sweeps and measures the pair like a single method (its damage on
neutral text is the damage of the pair). `evaluate_reduce` measures steering *away*: generations
start from prompts that invite the concept, and the effect is how much less of it appears.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager

from mechscope.errors import MechscopeError
from mechscope.steer.evaluate import evaluate_steering


class Composition:
    """Steerings applied together: ``apply(model, m)`` applies each part at ``m * strength_i``.

    Parts are `SteeringFile`s or fitted methods; forward hooks on one module run in the order given.

    >>> from mechscope.models import load
    >>> from mechscope.steer.vectors import DiffMean
    >>> m = load("random:llama-tiny")
    >>> up = DiffMean(layers="1").fit(m, ["a cat"], ["a wedding"])
    >>> down = DiffMean(layers="0").fit(m, ["a sea"], ["a desk"])
    >>> pair = Composition([up, down], [2.0, 1.0])
    >>> pair.name, pair.default_strengths[-1]
    ('diffmean+diffmean', 1.5)
    """

    strength_range = (0.0, None)
    default_strengths = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
    default_strength = 1.0

    def __init__(self, parts: list, strengths: list[float] | None = None):
        if len(parts) < 2:
            raise MechscopeError(f"a composition needs at least two steerings; got {len(parts)}")
        self.parts = list(parts)
        methods = [getattr(p, "method", p) for p in self.parts]
        if strengths is None:
            strengths = [float(getattr(p, "default_strength", m.default_strength)) for p, m in zip(parts, methods)]
        if len(strengths) != len(parts):
            raise MechscopeError(f"{len(parts)} steerings but {len(strengths)} strengths; give one strength each")
        for m, s in zip(methods, strengths):
            m.check_strength(s)
        self.strengths = [float(s) for s in strengths]
        self.name = "+".join(m.name for m in methods)
        self.model_fingerprint_ = methods[0].model_fingerprint_
        self._methods = methods

    @property
    def method(self) -> Composition:
        return self

    def check_model(self, model, strict: bool = True) -> None:
        for m in self._methods:
            m.check_model(model, strict=strict)

    def check_strength(self, strength: float) -> float:
        if strength < 0:
            raise MechscopeError(f"the multiplier of a composition must be >= 0; got {strength:g}")
        for m, s in zip(self._methods, self.strengths):
            m.check_strength(s * strength)
        return float(strength)

    @contextmanager
    def apply(self, model, strength: float | None = None, positions: str = "all", strict: bool = True,
              prompt_length: int | None = None):
        """Steer `model` with every part inside a ``with`` block; all hooks come off on exit."""
        mult = self.check_strength(1.0 if strength is None else strength)
        with ExitStack() as stack:
            states = [stack.enter_context(p.apply(model, s * mult, positions=positions, strict=strict,
                                                  prompt_length=prompt_length))
                      for p, s in zip(self.parts, self.strengths)]
            yield states[0]


def evaluate_reduce(model, steering, invite: list[str], neutral: list[str], lexicon: list[str], **kw) -> dict:
    """Steering away: generate from prompts that invite the concept; the effect is the lexicon rate's fall.

    `steering` should push away from the concept (e.g. fitted with source = the concept's sentences and
    target = neutral ones). Returns `evaluate_steering`'s dict with ``reduction`` per row
    (``1 - rate / unsteered rate``) and ``chosen_reduction``.

    >>> from mechscope.models import load
    >>> from mechscope.steer import load_concept
    >>> from mechscope.steer.vectors import DiffMean
    >>> m, c = load("random:llama-tiny"), load_concept("wedding")
    >>> away = DiffMean(layers="1").fit(m, c.target[:4], c.source[:4])
    >>> r = evaluate_reduce(m, away, c.invite[:2], c.neutral[:2], c.lexicon, strengths=[0, 1], max_new_tokens=3)
    >>> "chosen_reduction" in r, len(c.invite)
    (True, 20)
    """
    if not invite:
        raise MechscopeError("the reduce evaluation needs prompts that invite the concept; pass --invite FILE "
                             "(shipped: invite_ocean.txt, invite_wedding.txt)")
    doc = evaluate_steering(model, steering, invite, neutral, lexicon=lexicon, scorer="lexicon", **kw)
    base = doc["unsteered"]["effect"]
    for row in [doc["unsteered"], *doc["sweep"]]:
        row["reduction"] = None if row["effect"] is None or base == 0 else 1 - row["effect"] / base
    doc["evaluation"] = "reduce"
    doc["chosen_reduction"] = doc["chosen"]["reduction"] if doc["chosen"] else None
    return doc


def evaluate_pair(model, pair: Composition, prompts: list[str], neutral: list[str], lexicons: list[list[str]],
                  multipliers: list[float] | None = None, **kw) -> dict:
    """Each part alone and the parts together: each concept's lexicon rate on the same generations, and damage.

    Returns ``{"rows": [{"applied", "strength", "rates", "delta_ppl", "kl", "top1_agreement"}, ...]}`` with one
    row per part alone (at its strength) and one per multiplier for the pair.

    >>> from mechscope.models import load
    >>> from mechscope.steer import load_concept
    >>> from mechscope.steer.vectors import DiffMean
    >>> m, w, o = load("random:llama-tiny"), load_concept("wedding"), load_concept("ocean")
    >>> up = DiffMean(layers="1").fit(m, w.source[:4], w.target[:4])
    >>> down = DiffMean(layers="0").fit(m, o.target[:4], o.source[:4])
    >>> doc = evaluate_pair(m, Composition([up, down], [1.0, 1.0]), w.prompts[:2], w.neutral[:2],
    ...                     [w.lexicon, o.lexicon], [1.0], max_new_tokens=3)
    >>> [r["applied"] for r in doc["rows"]]
    ['none', 'first', 'second', 'both']
    """
    from mechscope.steer.scoring import lexicon_scores

    if len(lexicons) != len(pair.parts):
        raise MechscopeError(f"{len(pair.parts)} steerings but {len(lexicons)} lexicons; give one lexicon each")
    rows = []

    def add(applied: str, steering, strengths: list[float]) -> None:
        lex = next((x for x in lexicons if x), None)
        doc = evaluate_steering(model, steering, prompts, neutral, strengths=strengths, keep_texts=True,
                                max_ppl_rise=float("inf"), lexicon=lex, scorer="lexicon" if lex else "vader", **kw)
        source = [doc["unsteered"]] if steering is None or applied == "none" else doc["sweep"]
        for r in source:
            rates = [sum(lexicon_scores(r["texts"], lex)) / len(r["texts"]) if lex else 0.0 for lex in lexicons]
            rows.append({"applied": applied, "strength": r["strength"], "rates": rates, "delta_ppl": r["delta_ppl"],
                         "kl": r["kl"], "top1_agreement": r["top1_agreement"], "distinct2": r["distinct2"],
                         "examples": r["examples"]})

    first, second = pair.parts
    add("none", first, [0.0])
    add("first", first, [pair.strengths[0]])
    add("second", second, [pair.strengths[1]])
    add("both", pair, list(multipliers or [1.0]))
    return {"pair": pair.name, "strengths": pair.strengths, "rows": rows}
