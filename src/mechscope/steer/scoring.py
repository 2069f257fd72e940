"""How much generated text carries a concept (effect scorers) and how repetitive it is."""

from __future__ import annotations

import re
from collections.abc import Callable

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")

Scorer = Callable[[list[str]], list[float]]  # texts -> one score per text


def words(text: str) -> list[str]:
    """Lower-case words of a text.

    >>> words("The Bride's bouquet!")
    ['the', "bride's", 'bouquet']
    """
    return _WORD.findall(text.lower())


def lexicon_matcher(lexicon: list[str]) -> Callable[[str], bool]:
    """A test "is this word in the lexicon?"; entries ending in ``*`` match any ending.

    >>> m = lexicon_matcher(["wedding*", "vow"])
    >>> m("weddings"), m("vow"), m("vowel")
    (True, True, False)
    """
    exact = {w.lower() for w in lexicon if not w.endswith("*")}
    prefixes = tuple(w[:-1].lower() for w in lexicon if w.endswith("*"))
    return lambda w: w in exact or (bool(prefixes) and w.startswith(prefixes)) or w.split("'")[0] in exact


def lexicon_scores(texts: list[str], lexicon: list[str]) -> list[float]:
    """1.0 for each text that contains a lexicon word, else 0.0 (their mean is the lexicon rate).

    >>> lexicon_scores(["a lovely wedding", "a cat"], ["wedding*"])
    [1.0, 0.0]
    """
    match = lexicon_matcher(lexicon)
    return [1.0 if any(match(w) for w in words(t)) else 0.0 for t in texts]


def vader_scores(texts: list[str]) -> list[float]:
    """VADER compound sentiment per text, in [-1, 1] (vaderSentiment ships its lexicon).

    >>> vader_scores(["I love this wonderful day"])[0] > 0.5
    True
    """
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return [float(analyzer.polarity_scores(t)["compound"]) for t in texts]


def toxicity_scores(texts: list[str]) -> list[float]:
    """Probability of profanity per text, a toxicity proxy (alt-profanity-check's bundled linear model).

    >>> toxicity_scores(["have a nice day"])[0] < 0.5
    True
    """
    from profanity_check import predict_prob

    return [float(p) for p in predict_prob(list(texts))] if texts else []


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Mean over texts of unique n-grams / n-grams (1.0: no repetition; texts shorter than n are skipped).

    >>> distinct_n(["a b a b a b", "a b c"], 2)
    0.7
    """
    values = []
    for t in texts:
        w = words(t)
        grams = [tuple(w[i:i + n]) for i in range(len(w) - n + 1)]
        if grams:
            values.append(len(set(grams)) / len(grams))
    return sum(values) / len(values) if values else 0.0


def make_scorers(lexicon: list[str] | None) -> dict[str, Scorer]:
    """The built-in scorers by name: ``lexicon`` (if a lexicon is given), ``vader`` and ``toxicity``."""
    scorers: dict[str, Scorer] = {"vader": vader_scores, "toxicity": toxicity_scores}
    if lexicon:
        scorers = {"lexicon": lambda texts: lexicon_scores(texts, lexicon), **scorers}
    return scorers
