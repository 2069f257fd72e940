"""Synthetic tasks of the ground-truth models, as ordinary mechscope `Task`s.

Each prompt is a task marker followed by symbols; the answer is one symbol.
The corrupted partner of a prompt is an independent prompt of the same task
and length whose answer differs, so under resample ablation every position
may carry information (not only the one that changed), and the wrong answer
of the logit difference is the corrupted prompt's answer.

- ``first``: the first symbol. ``first c a b e d o`` -> ``c``.
- ``prev``: the symbol before the last. ``prev c a b e d o`` -> ``d``.
- ``induct``: distinct symbols, then a repeat of one of them; the answer is
  the symbol that followed it. ``induct c a b e d o b`` -> ``e``.
- ``major``: symbols from a pair; the more frequent one.
  ``major c g g c g g c`` -> ``g``.

>>> task = synthetic_task("induct", 4, seed=0)
>>> ex = task.examples[0]
>>> words = ex.clean.split(); words[words.index(words[-1]) + 1] == ex.answers[0].strip()
True
"""

from __future__ import annotations

import random

from mechscope.errors import MechscopeError, closest
from mechscope.hypothesis.groundtruth.vocab import SYMBOLS
from mechscope.tasks import Example, Task

TASKS = ("first", "prev", "induct", "major")
LENGTH = 7  # symbols after the marker


def _prompt(kind: str, rng: random.Random) -> tuple[list[str], str]:
    """One prompt's symbols and its answer."""
    if kind in ("first", "prev"):
        words = [rng.choice(SYMBOLS) for _ in range(LENGTH)]
        return words, words[0] if kind == "first" else words[-2]
    if kind == "induct":
        words = rng.sample(SYMBOLS, LENGTH - 1)
        j = rng.randrange(LENGTH - 2)  # the repeated symbol is never the last distinct one
        return words + [words[j]], words[j + 1]
    if kind == "major":
        pair = rng.sample(SYMBOLS, 2)
        n_win = rng.randint(LENGTH // 2 + 1, LENGTH)
        words = [pair[0]] * n_win + [pair[1]] * (LENGTH - n_win)
        rng.shuffle(words)
        return words, pair[0]
    raise MechscopeError(f"unknown synthetic task {kind!r}{closest(kind, TASKS)}; tasks are {', '.join(TASKS)}")


def synthetic_example(kind: str, rng: random.Random) -> Example:
    """A clean prompt and an independent corrupted prompt with another answer."""
    words, answer = _prompt(kind, rng)
    while True:
        bad, bad_answer = _prompt(kind, rng)
        if bad_answer != answer:
            break
    return Example(" ".join([kind, *words]), " ".join([kind, *bad]), " " + answer, " " + bad_answer)


def synthetic_task(kind: str, n: int, seed: int = 0) -> Task:
    """`n` seeded examples of one synthetic task."""
    rng = random.Random(f"{kind}:{seed}")
    return Task(kind, tuple(synthetic_example(kind, rng) for _ in range(n)), source=f"groundtruth:{kind}", seed=seed)
