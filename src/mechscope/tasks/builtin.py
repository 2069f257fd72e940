"""Built-in tasks, generated from templates and word lists with a seed.

Every built-in is a function ``(n=None, seed=0) -> Task``; the same (n, seed) gives
the same examples, and the first n examples of a larger n are the same. All
names and words are single tokens with a leading space in the SmolLM2 tokenizer
(``data/words.json``), so clean and corrupt prompts have the same token length.

Measured on smollm2-135m (n=200, seed 0; `evaluate`; accuracy: every answer's logit
beats every wrong answer's; top1: the argmax is an answer):

================  ========  =====  ============  ==============  ==========
task              accuracy  top1   clean metric  corrupt metric  metric
================  ========  =====  ============  ==============  ==========
ioi               0.975     0.900  5.28          -0.16           logit_diff
induction         0.965     0.755  4.69          -0.23           logit_diff
greater-than      0.905     0.365  0.54          -0.72           prob_diff
gendered-pronoun  1.000     0.855  3.93          -3.85           logit_diff
================  ========  =====  ============  ==============  ==========

greater-than's top1 is low by design: the model's favourite next digit is most
often the start year's own tens digit (1732 -> 173x), which is neither an answer
nor a wrong answer (in 96 sampled prompts its top digit was never below the start's).

>>> task = ioi(n=4)
>>> len(task), task.metric
(4, 'logit_diff')
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from functools import lru_cache
from importlib import resources

from mechscope.errors import MechscopeError
from mechscope.tasks.base import Example, Task

DEFAULT_N = 100


@lru_cache(maxsize=1)
def words() -> dict[str, tuple[str, ...]]:
    """The bundled word lists: female_names, male_names, nouns (each a single token after a space)."""
    text = resources.files("mechscope.tasks").joinpath("data/words.json").read_text(encoding="utf-8")
    return {k: tuple(v) for k, v in json.loads(text).items()}


def _size(n: int | None) -> int:
    if n is None:
        return DEFAULT_N
    if n < 1:
        raise MechscopeError(f"task size n must be at least 1, got {n}; e.g. use n={DEFAULT_N}")
    return n


# --- indirect object identification (Wang et al. 2023) -------------------------------------------

_IOI_TEMPLATES = (
    "Then, {A} and {B} went to the {P}. {S} gave a {O} to",
    "Then, {A} and {B} had a lot of fun at the {P}. {S} gave a {O} to",
    "Then, {A} and {B} were working at the {P}. {S} decided to give a {O} to",
    "Then, {A} and {B} were thinking about going to the {P}. {S} wanted to give a {O} to",
    "Then, {A} and {B} had a long argument, and afterwards {S} said to",
    "After {A} and {B} went to the {P}, {S} gave a {O} to",
    "When {A} and {B} got a {O} at the {P}, {S} decided to give it to",
    "While {A} and {B} were working at the {P}, {S} gave a {O} to",
    "Friends {A} and {B} found a {O} at the {P}. {S} gave it to",
    "The {P} {A} and {B} went to had a {O}. {S} gave it to",
)
_PLACES = ("store", "garden", "restaurant", "school", "hospital", "office", "house", "station")
_OBJECTS = ("ring", "kiss", "bone", "basketball", "computer", "necklace", "drink", "snack")


def ioi(n: int | None = None, seed: int = 0) -> Task:
    """Indirect object identification: "When Mary and John went to the store, John gave a drink to" -> " Mary".

    Answer: the indirect object (IO); wrong answer: the subject (S). Both orders
    of the first two names (ABBA and BABA) appear. Corruption is the ABC
    distribution of Wang et al.: the three name slots get three other, distinct
    names, so the prompt no longer says who is the IO and who the S.

    >>> ex = ioi(n=1).examples[0]
    >>> ex.answers[0].strip() in ex.clean and ex.answers[0].strip() not in ex.corrupt
    True
    """
    w = words()
    names = w["female_names"] + w["male_names"]
    rng = random.Random(seed)
    examples = []
    for _ in range(_size(n)):
        template = rng.choice(_IOI_TEMPLATES)
        io, s, c1, c2, c3 = rng.sample(names, 5)
        place, obj = rng.choice(_PLACES), rng.choice(_OBJECTS)
        first, second = (io, s) if rng.random() < 0.5 else (s, io)
        clean = template.format(A=first, B=second, S=s, P=place, O=obj)
        corrupt = template.format(A=c1, B=c2, S=c3, P=place, O=obj)
        examples.append(Example(clean, corrupt, (" " + io,), (" " + s,)))
    return Task("ioi", tuple(examples), "logit_diff", source="builtin:ioi", seed=seed)


# --- induction -----------------------------------------------------------------------------------

_INDUCTION_PREFIX = "Random words:"
_INDUCTION_LENGTH = 10


def induction(n: int | None = None, seed: int = 0) -> Task:
    """Induction: a random word sequence A, then A again up to word k; predict A[k].

    Prompt: "Random words:" + A (10 nouns) + A[:k], k in 3..8. Answer: A[k]; wrong
    answer: A[k+1] (copying one word too far). Corruption replaces the first A
    with 10 other nouns, so there is nothing to copy; the token length is the same.

    >>> ex = induction(n=1).examples[0]
    >>> len(ex.clean.split()) == len(ex.corrupt.split())
    True
    """
    nouns = words()["nouns"]
    rng = random.Random(seed)
    examples = []
    for _ in range(_size(n)):
        drawn = rng.sample(nouns, 2 * _INDUCTION_LENGTH)
        a, b = drawn[:_INDUCTION_LENGTH], drawn[_INDUCTION_LENGTH:]
        k = rng.randint(3, _INDUCTION_LENGTH - 2)
        clean = _INDUCTION_PREFIX + "".join(" " + x for x in a + a[:k])
        corrupt = _INDUCTION_PREFIX + "".join(" " + x for x in b + a[:k])
        examples.append(Example(clean, corrupt, (" " + a[k],), (" " + a[k + 1],)))
    return Task("induction", tuple(examples), "logit_diff", source="builtin:induction", seed=seed)


# --- greater-than (Hanna et al. 2023), for tokenizers that split digits ---------------------------

_GT_TEMPLATE = "The {E} lasted from the year {C}{Y} to the year {C}"
_GT_EVENTS = (
    "war", "contract", "plan", "marriage", "campaign", "study", "trial", "trip", "project", "program",
    "deal", "siege", "journey", "reign", "expedition", "dynasty", "treaty", "voyage", "rivalry", "riot",
    "invasion", "friendship", "pilgrimage", "occupation", "investigation", "negotiation", "epidemic",
    "alliance", "drought", "famine", "festival", "partnership", "rebellion", "reform", "strike", "tour",
)


def greater_than(n: int | None = None, seed: int = 0) -> Task:
    """Greater-than: "The war lasted from the year 1732 to the year 17" -> a tens digit above 3.

    SmolLM2 writes every digit as its own token, so the next token after "17" is
    the end year's tens digit t'. Answers: digits above the start's tens digit t
    (t in 1..8); wrong answers: digits below it; t itself is neither, since the
    year could still be later (1732 -> 1738). Corruption: start year C01, as in
    the original "01" corruption. Metric: probability difference.

    >>> ex = greater_than(n=1, seed=3).examples[0]
    >>> ex.clean, ex.corrupt[-19:], ex.answers[0], ex.wrong_answers[-1]
    ('The festival lasted from the year 1435 to the year 14', '1401 to the year 14', '4', '2')
    """
    rng = random.Random(seed)
    examples = []
    for _ in range(_size(n)):
        century, tens, units = rng.randint(11, 18), rng.randint(1, 8), rng.randint(0, 9)
        event = rng.choice(_GT_EVENTS)
        clean = _GT_TEMPLATE.format(E=event, C=century, Y=f"{tens}{units}")
        corrupt = _GT_TEMPLATE.format(E=event, C=century, Y="01")
        answers = tuple(str(d) for d in range(tens + 1, 10))
        wrong = tuple(str(d) for d in range(tens))
        examples.append(Example(clean, corrupt, answers, wrong))
    return Task("greater-than", tuple(examples), "prob_diff", source="builtin:greater-than", seed=seed)


# --- gendered pronoun (Mathwin et al.) -----------------------------------------------------------

_PRONOUN_TEMPLATES = (
    "Yesterday {N} went to the {P} because",
    "When {N} woke up,",
    "After {N} finished the {O},",
    "So {N} is such a good cook, isn't",
)
_PRONOUN_OBJECTS = ("book", "meal", "report", "race", "game", "puzzle", "painting", "letter")


def gendered_pronoun(n: int | None = None, seed: int = 0) -> Task:
    """Gendered pronoun: "Yesterday Mary went to the store because" -> " she", not " he".

    Half the examples use a female name, half a male name (alternating).
    Corruption swaps the name for one of the other gender, which flips the
    right pronoun, so the clean metric is positive and the corrupt one negative.

    >>> [ex.answers for ex in gendered_pronoun(n=2).examples]
    [(' she',), (' he',)]
    """
    w = words()
    rng = random.Random(seed)
    examples = []
    for i in range(_size(n)):
        female = i % 2 == 0
        name = rng.choice(w["female_names"] if female else w["male_names"])
        other = rng.choice(w["male_names"] if female else w["female_names"])
        template = rng.choice(_PRONOUN_TEMPLATES)
        place, obj = rng.choice(_PLACES), rng.choice(_PRONOUN_OBJECTS)
        right, wrong = (" she", " he") if female else (" he", " she")
        clean = template.format(N=name, P=place, O=obj)
        corrupt = template.format(N=other, P=place, O=obj)
        examples.append(Example(clean, corrupt, (right,), (wrong,)))
    return Task("gendered-pronoun", tuple(examples), "logit_diff", source="builtin:gendered-pronoun", seed=seed)


BUILTIN_TASKS: dict[str, Callable[..., Task]] = {
    "ioi": ioi,
    "induction": induction,
    "greater-than": greater_than,
    "gendered-pronoun": gendered_pronoun,
}

# MIB's forms (tasks/builtin_mib.py); only those SmolLM2 solves are built-ins (accuracies measured there)
from mechscope.tasks.builtin_mib import SOLVED_MIB_TASKS  # noqa: E402 (it reads this module's word lists)

BUILTIN_TASKS.update(SOLVED_MIB_TASKS)
