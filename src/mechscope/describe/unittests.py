"""Multiple-choice unit tests: which of three input-output pairs fits a function?

For every benchmark item, `add_unit_tests` stores tests of three pairs of which
exactly one is a true execution of the function; the others are executions of
other benchmark functions that disagree with it on their input. Concept tests
ask which of three texts makes the neuron fire.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from mechscope.describe import concepts as cn
from mechscope.describe._words import CONCEPTS
from mechscope.describe.interpretation import RAISED, as_json, observe
from mechscope.describe.stringgen import random_string

GRID = np.arange(-128, 128) + 0.5
TEMPLATES = [
    "I saw the {w} yesterday.",
    "They talked about the {w} all evening.",
    "Nobody mentioned the {w}.",
    "Her notes were full of {w}.",
    "The word of the day is {w}.",
    "We will discuss {w} tomorrow.",
]


def _differs(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a != b
    return bool(np.isfinite(b)) and abs(a - b) > 0.1 * (abs(a) + abs(b)) + 1e-6


def _numeric_test(f: Callable, others: list, rng: random.Random, domain=(-128.0, 128.0)) -> dict:
    ys_all = np.asarray(f(GRID), dtype=float)
    ok = np.isfinite(ys_all) & (GRID >= domain[0]) & (GRID <= domain[1])
    pool = list(GRID[ok]) or list(GRID)
    xs = [float(x) for x in rng.sample(pool, 3)]
    answer = rng.randrange(3)
    ys = []
    for j, x in enumerate(xs):
        y = float(f(x))
        if j != answer:
            for _ in range(50):
                cand = float(rng.choice(others)(x))
                if np.isfinite(cand) and (not np.isfinite(y) or _differs(y, cand)):
                    y = cand
                    break
            else:
                y = 1.5 * y + 1.0 if np.isfinite(y) else 0.0
        ys.append(y)
    return {"inputs": xs, "outputs": ys, "answer": answer}


def _string_test(f: Callable, others: list, rng: random.Random) -> dict:
    xs = [random_string(rng) for _ in range(3)]
    answer = rng.randrange(3)
    for _ in range(20):  # the true pair is an input where the function gives an output
        if observe(f, xs[answer]) is not RAISED:
            break
        xs[answer] = random_string(rng)
    ys = []
    for j, x in enumerate(xs):
        y = observe(f, x)
        if j != answer:
            for _ in range(50):
                cand = observe(rng.choice(others), x)
                if cand != y and cand is not RAISED:
                    y = cand
                    break
            else:
                y = str(as_json(y)) + "?"
        ys.append(as_json(y))
    return {"inputs": xs, "outputs": ys, "answer": answer}


def _concept_test(item: dict, f: Callable, rng: random.Random) -> dict:
    mine = [w for c in item["concepts"] for w in cn.reserved_words(c)]
    others = [c for c in CONCEPTS if c not in item["concepts"]]
    answer = rng.randrange(3)
    xs = []
    for j in range(3):
        word = rng.choice(mine) if j == answer else rng.choice(cn.reserved_words(rng.choice(others)))
        xs.append(rng.choice(TEMPLATES).format(w=word))
    claim = float(f(xs[answer]))
    return {"inputs": xs, "outputs": [claim] * 3, "answer": answer}


def add_unit_tests(items: list[dict], refs: dict[str, Callable], rng: random.Random, n: int = 5) -> None:
    """Attach `n` unit tests to every item (in place), drawing distractors from its domain."""
    by_domain: dict[str, list] = {}
    for it in items:
        by_domain.setdefault(it["domain"], []).append(it["id"])
    for it in items:
        f = refs[it["id"]]
        others = [refs[o] for o in by_domain[it["domain"]] if o != it["id"]] or [lambda x: x]
        if it["domain"] == "numeric":
            # inputs from the function's domain, where an MLP variant was trained to follow it
            it["unit_tests"] = [_numeric_test(f, others, rng, it.get("fn_domain", (-128.0, 128.0))) for _ in range(n)]
        elif it["domain"] == "strings":
            it["unit_tests"] = [_string_test(f, others, rng) for _ in range(n)]
        else:
            it["unit_tests"] = [_concept_test(it, f, rng) for _ in range(n)]
