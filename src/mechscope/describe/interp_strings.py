"""The offline baseline for string functions: search programs consistent with probes.

It queries the black box on a fixed set of probe strings, then searches the
primitive library for one primitive, or a chain of two, that reproduces every
probe. Held-out primitives (`heldout`) are removed from the library, so the
search must fall back on steps it learns from the probes themselves: a
character map (generalised to an alphabet shift where the probes agree with
one), a constant prefix and suffix, or a constant output, alone or after a
library primitive.
"""

from __future__ import annotations

import inspect
import itertools
import random
from collections.abc import Callable

from mechscope.describe.interpretation import RAISED, Interpretation, observe
from mechscope.describe.strings_lib import PRIMITIVES, describe_program, program_source

PROBES = [
    "hello",
    "Hello World",
    "abcdefghijklm",
    "NOPQRSTUVWXYZ",
    "nopqrstuvwxyz",
    "ABCDEFGHIJKLM",
    "a1b2c3",
    "Quick brown Fox 42",
    "xyz",
    "",
    "Q",
    "The 3 little pigs",
    "MiXeD CaSe 7",
    "aeiou AEIOU",
    "sphinx of quartz",
    "0123456789",
    "well-known, right?",
    "Zebra",
    "tic tac toe",
    "Data 2024 report",
    "  padded  ",
    "a b",
    "I",
    "Mississippi 9",
]


def heldout_primitives(fraction: float, seed: int = 0) -> frozenset[str]:
    """A seeded random `fraction` of the primitive names, to hold out of the search.

    >>> len(heldout_primitives(0.25)) == round(0.25 * len(PRIMITIVES))
    True
    """
    names = sorted(PRIMITIVES)
    return frozenset(random.Random(seed).sample(names, round(fraction * len(names))))


def _shift_rule(pairs: list[tuple[str, str]], base: str, size: int):
    """(shift, output_case) if every pair of one character class is the same cyclic shift."""
    shifts, cases = set(), set()
    for a, b in pairs:
        if not (b.isascii() and b.isalnum()):
            return None
        if base == "0":
            if not b.isdigit():
                return None
            shifts.add((int(b) - int(a)) % 10)
        else:
            if not b.isalpha():
                return None
            shifts.add((ord(b.lower()) - ord(a.lower())) % 26)
            cases.add("upper" if b.isupper() else "lower")
    if len(shifts) == 1 and len(cases) <= 1:
        return shifts.pop(), (cases.pop() if cases else None)
    return None


def learn_char_map(inputs: list[str], outputs: list[str]) -> dict | None:
    """A per-character map consistent with every pair, with shift rules where they fit."""
    if any(len(a) != len(b) for a, b in zip(inputs, outputs)):
        return None
    table: dict[str, str] = {}
    for a, b in zip(inputs, outputs):
        for ca, cb in zip(a, b):
            if table.setdefault(ca, cb) != cb:
                return None
    rules = {}
    for cls, test, base, size in (
        ("lower", str.islower, "a", 26),
        ("upper", str.isupper, "A", 26),
        ("digit", str.isdigit, "0", 10),
    ):
        pairs = [(a, b) for a, b in table.items() if a.isascii() and test(a)]
        rule = _shift_rule(pairs, base, size) if len(pairs) >= 3 else None
        if rule:
            case = None if rule[1] == cls else rule[1]  # None: the case is kept
            if (rule[0], case) != (0, None):
                rules[cls] = [rule[0], case]
    others = {a: b for a, b in table.items() if a != b and not (a.isascii() and a.isalnum() and _cls(a) in rules)}
    return {"rules": rules, "table": others}


def _cls(c: str) -> str:
    return "lower" if c.islower() else "upper" if c.isupper() else "digit"


def apply_char_map(m: dict, s: str) -> str:
    """Apply a learned character map."""
    out = []
    for c in s:
        rule = m["rules"].get(_cls(c)) if c.isascii() and c.isalnum() else None
        if rule is None:
            out.append(m["table"].get(c, c))
        elif c.isdigit():
            out.append(str((int(c) + rule[0]) % 10))
        else:
            ch = chr((ord(c.lower()) - 97 + rule[0]) % 26 + 97)
            out.append(ch.upper() if (rule[1] or ("upper" if c.isupper() else "lower")) == "upper" else ch)
    return "".join(out)


def _describe_map(m: dict) -> str:
    parts = []
    lo, up = m["rules"].get("lower", [0, None]), m["rules"].get("upper", [0, None])
    cases = (lo[1] or "lower", up[1] or "upper")
    if lo[0] == up[0] and (cases[0] == cases[1] or cases == ("lower", "upper")):
        if lo[0]:
            parts.append(f"shifts every letter {lo[0]} places forward in the alphabet")
        if cases[0] == cases[1]:
            parts.append(f"converts the string to {cases[0]} case")
    else:
        parts += [
            f"shifts {c} letters {r[0]} places forward" + (f" and makes them {r[1]} case" if r[1] else "")
            for c, r in m["rules"].items()
            if c != "digit"
        ]
    if "digit" in m["rules"]:
        parts.append(f"adds {m['rules']['digit'][0]} to every digit, modulo 10")
    if m["table"]:
        parts.append("maps characters by the table " + " ".join(f"{a}->{b}" for a, b in sorted(m["table"].items())))
    return ", then ".join(parts) or "returns the string unchanged"


def _learned_steps(inputs: list, outputs: list):
    """Programs learned from (inputs, outputs) alone: constant, affix, character map.

    Only pairs where both sides are strings teach anything; a step learned from
    them must still reproduce every pair (failures included) to be accepted.
    """
    pairs = [(a, b) for a, b in zip(inputs, outputs) if isinstance(a, str) and isinstance(b, str)]
    if not pairs:
        return
    inputs, outputs = [a for a, _ in pairs], [b for _, b in pairs]
    if len(set(outputs)) == 1:
        c = outputs[0]
        yield ("constant", c), f"always returns {c!r}", lambda s, c=c: c
    pre_suf = _affix(inputs, outputs)
    if pre_suf:
        p, q = pre_suf
        text = ", then ".join(
            t for t in [f"prepends {p!r} to the start" if p else "", f"appends {q!r} to the end" if q else ""] if t
        )
        yield ("affix", p, q), text, lambda s, p=p, q=q: p + s + q
    m = learn_char_map(inputs, outputs)
    if m is not None:
        yield ("charmap", m), _describe_map(m), lambda s, m=m: apply_char_map(m, s)


def _affix(inputs: list[str], outputs: list[str]):
    pq = None
    for a, b in zip(inputs, outputs):
        if not a:
            continue
        i = b.find(a)
        if i < 0:
            return None
        cand = (b[:i], b[i + len(a) :])
        if pq is None:
            pq = cand
        elif pq != cand:
            return None
    return pq if pq and any(pq) else None


def _learned_source(step: tuple, name: str) -> str:
    if step[0] == "constant":
        return f"def {name}(s):\n    return {step[1]!r}\n"
    if step[0] == "affix":
        return f"def {name}(s):\n    return {step[1]!r} + s + {step[2]!r}\n"
    return (
        inspect.getsource(_cls)
        + "\n\n"
        + inspect.getsource(apply_char_map).split('"""')[0].rstrip()
        + "\n"
        + inspect.getsource(apply_char_map).split('"""', 2)[2].lstrip("\n")
        + "\n\n"
        + f"def {name}(s):\n    return apply_char_map({step[1]!r}, s)\n"
    )


def interpret_strings(f: Callable[[str], str], heldout: frozenset[str] = frozenset()) -> Interpretation:
    """Find a program of at most two steps consistent with `f` on the probes.

    >>> interpret_strings(lambda s: s[::-1] + "!").description
    "reverses the string, then appends '!' to the end"
    """
    target = [observe(f, s) for s in PROBES]
    library = [(n, p) for n, prim in PRIMITIVES.items() if n not in heldout for p in (prim.params or (None,))]
    outs = {step: [_step(step, s) for s in PROBES] for step in library}
    n_tried = 0
    for step in library:
        n_tried += 1
        if outs[step] == target:
            return _answer([list(step)], None, n_tried)
    for a, b in itertools.product(library, library):
        n_tried += 1
        if all(_step(b, z) == t for z, t in zip(outs[a], target)):
            return _answer([list(a), list(b)], None, n_tried)
    for first in [None] + library:
        mids = PROBES if first is None else outs[first]
        for learned, text, fn in _learned_steps(mids, target):
            n_tried += 1
            if all(_apply(fn, z) == t for z, t in zip(mids, target)):
                return _answer([] if first is None else [list(first)], (learned, text), n_tried)
    best = max(library, key=lambda st: sum(o == t for o, t in zip(outs[st], target)))
    hits = sum(o == t for o, t in zip(outs[best], target))
    interp = _answer([list(best)], None, n_tried)
    return Interpretation(
        interp.description, interp.code, None, None, {**interp.evidence, "consistent": False, "probes_matched": hits}
    )


def _step(step: tuple, s):
    """One library step on an observation: a failed input stays failed, a failing call is `RAISED`."""
    if not isinstance(s, str):
        return RAISED
    return observe(lambda z: PRIMITIVES[step[0]].call(z, step[1]), s)


def _apply(fn: Callable, s):
    return RAISED if not isinstance(s, str) else observe(fn, s)


def _answer(program: list, learned, n_tried: int) -> Interpretation:
    text = describe_program(program) if program else ""
    if learned is None:
        code = program_source(program, "f")
    else:
        step, ltext = learned
        text = f"{text}, then {ltext}" if text else ltext
        src = program_source(program, "_first") if program else "def _first(s):\n    return s\n"
        code = src + "\n\n" + _learned_source(step, "_learned") + "\n\ndef f(s):\n    return _learned(_first(s))\n"
    return Interpretation(
        text,
        code,
        None,
        None,
        {
            "program": program,
            "learned": learned[0][0] if learned else None,
            "programs_tried": n_tried,
            "probes": len(PROBES),
            "consistent": True,
        },
    )
