"""The offline baseline for concept neurons: rank a vocabulary by the neuron's response.

The top-ranked words are the evidence; the concept is named by the concept
lexicon (`_words.CONCEPTS`) whose lists hold most of them. Unit-test words are
never in the probing vocabulary, so naming the concept, not listing the top
words, is what lets a judge pass them.
"""

from __future__ import annotations

from collections.abc import Callable

from mechscope.describe._words import CONCEPTS
from mechscope.describe.concepts import probe_vocabulary
from mechscope.describe.interpretation import Interpretation


def name_concepts(words: list[str], max_concepts: int = 2) -> list[str]:
    """Concepts of the lexicon that cover most of `words`, greedily (each must hold 3 and 40% of those left).

    >>> name_concepts(["dog", "cat", "horse", "red", "apple"])
    ['animals']
    """
    left, named = list(words), []
    while left and len(named) < max_concepts:
        counts = {c: sum(w in ws for w in left) for c, ws in CONCEPTS.items()}
        best = max(counts, key=counts.get)
        if counts[best] < 3 or counts[best] < 0.4 * len(left):
            break
        named.append(best)
        left = [w for w in left if w not in CONCEPTS[best]]
    return named


def interpret_concept(
    f: Callable[[str], float], vocabulary: list[str] | None = None, top_k: int = 12
) -> Interpretation:
    """Describe a text unit by the words it responds to most.

    >>> from mechscope.describe.concepts import activation
    >>> interpret_concept(lambda t: activation({w: 1.0 for w in CONCEPTS["birds"]}, t)).description.split(";")[0]
    'responds to words about birds'
    """
    vocab = vocabulary or probe_vocabulary()
    acts = sorted(((float(f(w)), w) for w in vocab), reverse=True)
    top_act = acts[0][0] if acts else 0.0
    floor = sorted(a for a, _ in acts)[len(acts) // 2] if acts else 0.0
    strong = [w for a, w in acts if a > floor + 0.5 * (top_act - floor)]
    top = [w for _, w in acts[:top_k]]
    named = name_concepts(strong)
    if named:
        text = "responds to words about " + " or ".join(named)
    else:
        text = "responds most to the words " + ", ".join(top[:5])
    text += "; top inputs: " + ", ".join(f"{w} ({a:.2f})" for a, w in acts[:top_k])
    words = sorted({w for c in named for w in CONCEPTS[c]} | set(strong))
    code = (
        f"WORDS = {words!r}\n\n\ndef f(text):\n    import re\n"
        "    return float(any(w in WORDS for w in re.findall(r'[a-z]+', str(text).lower())))\n"
    )
    return Interpretation(
        text,
        code,
        None,
        None,
        {"top_inputs": [[w, round(a, 4)] for a, w in acts[:top_k]], "concepts": named, "queries": len(vocab)},
    )
