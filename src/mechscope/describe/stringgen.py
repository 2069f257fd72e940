"""Sampling string programs (one primitive or a chain of two) and test strings."""

from __future__ import annotations

import random

from mechscope.describe._words import POOL
from mechscope.describe.strings_lib import PRIMITIVES, run_program

CHECK_STRINGS = [
    "hello",
    "Hello World",
    "abc123",
    "Quick brown Fox",
    "a",
    "",
    "zebra 42 Apple",
    "MiXeD cAsE",
    "banana",
    "Tree 7",
    "ocean view",
    "XYZ",
    "the 3 cats",
    "Zoo",
    "python rocks 9",
]


def _instance(rng: random.Random) -> list:
    name = rng.choice(sorted(PRIMITIVES))
    params = PRIMITIVES[name].params
    return [name, rng.choice(params) if params else None]


def _outputs(program: list) -> list[str]:
    return [run_program(program, s) for s in CHECK_STRINGS]


def sample_program(rng: random.Random, p_single: float = 0.3) -> list:
    """A single primitive (30%, as FIND's default ratio) or a chain of two, never degenerate.

    A chain is redrawn when it acts like the identity, like either of its steps
    alone, or gives one output for every check string.

    >>> sample_program(random.Random(3))
    [['reverse', None]]
    """
    while True:
        if rng.random() < p_single:
            program = [_instance(rng)]
        else:
            program = [_instance(rng), _instance(rng)]
        outs = _outputs(program)
        if outs == CHECK_STRINGS or len(set(outs)) <= 2:
            continue
        if len(program) == 2 and (outs == _outputs(program[:1]) or outs == _outputs(program[1:])):
            continue
        return program


def random_string(rng: random.Random) -> str:
    """A test string: 1-3 words in a random case style, sometimes with digits or punctuation."""
    words = [rng.choice(POOL) for _ in range(rng.choice([1, 1, 2, 2, 3]))]
    style = rng.choice(["lower", "title", "upper", "first", "mixed"])
    if style == "title":
        words = [w.title() for w in words]
    elif style == "upper":
        words = [w.upper() for w in words]
    elif style == "first":
        words[0] = words[0].title()
    elif style == "mixed":
        words = ["".join(c.upper() if rng.random() < 0.4 else c for c in w) for w in words]
    s = " ".join(words)
    if rng.random() < 0.4:
        s += " " * rng.randint(0, 1) + str(rng.randint(0, 999))
    if rng.random() < 0.15:
        s += rng.choice("!?.,")
    return s


def test_strings(rng: random.Random, n: int) -> list[str]:
    """`n` distinct random test strings."""
    out: list[str] = []
    while len(out) < n:
        s = random_string(rng)
        if s not in out:
            out.append(s)
    return out
