"""The offline baseline for string functions: search programs consistent with probes.

It queries the black box on fixed probe strings (several times each, to see
whether it is random), then searches the library (our primitives and FIND's,
each with every parameter in its range) for one step or a chain of two that
reproduces every probe, failures included: a call that raises is an
observation like any output. Chains are searched from the outside in: the
inner steps' outputs on the probes are computed once and grouped; an outer
step with an inverse looks its middle up among them (meet in the middle), any
other is run on each distinct middle, grouped by its value on one anchor probe,
and checked on the rest only where the anchor agrees. Steps learned from the
probes (a constant, an affix, a character map) stand in for primitives with
unenumerable parameters and for held-out ones (`heldout`). A black box that
gives different outputs on one input is searched among programs with one
random-index step, by whether every observed output is one the program can give.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from functools import lru_cache

from mechscope.describe.find_strings import FIND_PRIMITIVES, random_support
from mechscope.describe.interpretation import RAISED, Interpretation, as_json, observe
from mechscope.describe.strings_inverse import inverse
from mechscope.describe.strings_learned import describe_char_map, learn_char_map_after, learned_source, learned_steps
from mechscope.describe.strings_lib import PRIMITIVES, describe_program, primitive, program_source

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
    "Ocean view 17!",
    "banana Split",
    "The quick brown fox jumps over 13 lazy dogs",
    "Go",
    # bit k of a letter's alphabet index says whether it is in the k-th of these (both cases)
    "bdfhjlnprtvxz BDFHJLNPRTVXZ",
    "cdghklopstwx CDGHKLOPSTWX",
    "efghmnopuvwx EFGHMNOPUVWX",
    "ijklmnopyz IJKLMNOPYZ",
    "qrstuvwxyz QRSTUVWXYZ",
]
REPEATS = 5  # calls per probe to tell a random black box from a deterministic one
SAMPLES = 40  # calls per probe once it is known to be random
TRIE_DEPTH = 6  # anchor probes an outer step is checked on, level by level, before the rest


def heldout_primitives(fraction: float, seed: int = 0) -> frozenset[str]:
    """A seeded random `fraction` of each library's primitive names (ours, FIND's), held out of the search.

    >>> len(heldout_primitives(0.25)) == round(0.25 * len(PRIMITIVES)) + round(0.25 * len(FIND_PRIMITIVES))
    True
    """
    out: set[str] = set()
    for names in (sorted(PRIMITIVES), sorted(FIND_PRIMITIVES)):
        out |= set(random.Random(seed).sample(names, round(fraction * len(names))))
    return frozenset(out)


def _call(name: str, p, s):
    """One step on an observation: a failed input stays failed, a failing call is `RAISED`."""
    if not isinstance(s, str):
        return RAISED
    return observe(lambda z: primitive(name).call(z, p), s)


@lru_cache(maxsize=1)
def _library() -> tuple[list[tuple], dict[tuple, tuple]]:
    """Every deterministic step ``(name, param)`` and its outputs on the probes (computed once)."""
    steps = []
    for name, prim in [*PRIMITIVES.items(), *FIND_PRIMITIVES.items()]:
        if getattr(prim, "random", False) or prim.params is None:
            continue
        steps += [(name, p if not isinstance(p, tuple) else list(p)) for p in (prim.params or (None,))]
    vecs = {_key(st): tuple(_call(st[0], st[1], s) for s in PROBES) for st in steps}
    return steps, vecs


def _key(step) -> tuple:
    return (step[0], tuple(step[1]) if isinstance(step[1], list) else step[1])


class _Search:
    def __init__(self, target: tuple, heldout: frozenset[str]):
        self.target, self.tried = target, 0
        steps, vecs = _library()
        self.steps = [st for st in steps if st[0] not in heldout]
        self.vec = {_key(st): vecs[_key(st)] for st in self.steps}
        self.anchors = [i for i, t in enumerate(target) if isinstance(t, str)]
        mids: dict[tuple, tuple] = {}
        for st in self.steps:  # distinct middles, each with the first (simplest) step giving it
            mids.setdefault(self.vec[_key(st)], st)
        self.mids = mids

    def single(self):
        for st in self.steps:
            self.tried += 1
            if self.vec[_key(st)] == self.target:
                return [list(st)]
        return None

    def chain(self):
        if not self.anchors:
            return None
        # a trie over the middles, keyed by their values on the anchors with the fewest distinct values first
        order = sorted(self.anchors, key=lambda a: len({m[a] for m in self.mids}))[:TRIE_DEPTH]
        trie: dict = {}
        for m in self.mids:
            node = trie
            for a in order[:-1]:
                node = node.setdefault(m[a], {})
            node.setdefault(m[order[-1]], []).append(m)
        by_anchors = defaultdict(list)
        keys = self.anchors[:3]
        for m in self.mids:
            by_anchors[tuple(m[a] for a in keys)].append(m)
        for outer in self.steps:
            name, p = outer
            inv = inverse(name, p)
            if inv is not None:
                self.tried += 1
                cands = by_anchors.get(tuple(inv(self.target[a]) for a in keys), [])
            else:
                cands = self._descend(trie, order, 0, name, p)
            for m in cands:
                if all(_call(name, p, z) == t for z, t in zip(m, self.target)):
                    return [list(self.mids[m]), list(outer)]
        return None

    def _descend(self, node, order: list, level: int, name: str, p) -> list:
        """Middles whose values on the trie's anchors the outer step maps to the target's."""
        want, out = self.target[order[level]], []
        for value, child in node.items():
            self.tried += 1
            if _call(name, p, value) == want:
                out += child if level == len(order) - 1 else self._descend(child, order, level + 1, name, p)
        return out

    def learned(self):
        """A learned step alone or after one library step; or a library step after a learned one."""
        for first in [None, *self.mids]:
            mids = PROBES if first is None else first
            for step, text, fn in learned_steps(mids, self.target):
                self.tried += 1
                if all((RAISED if not isinstance(z, str) else observe(fn, z)) == t for z, t in zip(mids, self.target)):
                    return ([] if first is None else [list(self.mids[first])]), (step, text)
        for outer in self.steps:  # inner learned: the outer's inverse gives the middle to learn
            inv = inverse(*outer)
            if inv is None:
                continue
            mids = [inv(t) if isinstance(t, str) else None for t in self.target]
            if any(m is None for m, t in zip(mids, self.target) if isinstance(t, str)):
                continue
            for step, text, fn in learned_steps(PROBES, mids):
                self.tried += 1
                if all(_call(outer[0], outer[1], observe(fn, z)) == t for z, t in zip(PROBES, self.target)):
                    return [list(outer)], (step, text), True
        return None


def _random_search(samples: list[set], heldout: frozenset[str]):
    """A program with one random-index step that can give every observed output.

    Returns a program, or (program, learned outer step) when only a character map learned after the random
    step explains the outputs; None when nothing does.
    """
    rand = [n for n, prim in FIND_PRIMITIVES.items() if prim.random and n not in heldout]
    steps, vecs = _library()
    steps = [st for st in steps if st[0] not in heldout]

    def fits(support_of):
        return all(obs <= support_of(i) for i, obs in enumerate(samples))

    def sup(name, s):
        if not isinstance(s, str):
            return {RAISED}
        try:
            return set(random_support(name, s))
        except Exception:  # the step raises on this input whatever it draws
            return {RAISED}

    for r in rand:
        if fits(lambda i, r=r: sup(r, PROBES[i])):
            return [[r, None]]
    for r in rand:
        for st in steps:  # random inner, library outer
            if fits(lambda i, r=r, st=st: {_call(st[0], st[1], m) for m in sup(r, PROBES[i])}):
                return [[r, None], list(st)]
        for st in steps:  # library inner, random outer
            mid = vecs[_key(st)]
            if fits(lambda i, r=r, mid=mid: sup(r, mid[i])):
                return [list(st), [r, None]]
    for r in rand:  # random inner, then a character map learned from the outputs (FIND's map_string)
        table = learn_char_map_after([sup(r, s) for s in PROBES], samples)
        if table is not None:
            return [[r, None]], (("charmap", table), describe_char_map(table))
    return None


def interpret_strings(f: Callable[[str], str], heldout: frozenset[str] = frozenset()) -> Interpretation:
    """Find a program of at most two steps consistent with `f` on the probes.

    >>> interpret_strings(lambda s: s[::-1] + "!").description
    "reverses the string, then appends '!' to the end"
    """
    samples = [{observe(f, s) for _ in range(REPEATS)} for s in PROBES]
    if any(len(obs) > 1 for obs in samples):
        samples = [obs | {observe(f, s) for _ in range(SAMPLES)} for obs, s in zip(samples, PROBES)]
        program = _random_search(samples, heldout)
        evidence = {"random": True, "outputs_seen": sum(len(o) for o in samples)}
        if isinstance(program, tuple):  # a random step, then a learned one
            return _answer(*program, 0, evidence)
        if program is not None:
            return _answer(program, None, 0, evidence)
        return Interpretation("", "", None, None, {**evidence, "consistent": False, "probes": len(PROBES)})
    target = tuple(next(iter(obs)) for obs in samples)
    search = _Search(target, heldout)
    program = search.single() or search.chain()
    if program is not None:
        return _answer(program, None, search.tried)
    found = search.learned()
    if found is not None:
        return _answer(*found[:2], search.tried, inner_learned=len(found) > 2)
    vecs = search.vec
    best = max(search.steps, key=lambda st: sum(a == b for a, b in zip(vecs[_key(st)], target)))
    hits = sum(a == b for a, b in zip(vecs[_key(best)], target))
    interp = _answer([list(best)], None, search.tried)
    return Interpretation(
        interp.description,
        interp.code,
        None,
        None,
        {**interp.evidence, "consistent": False, "probes_matched": hits, "target": [as_json(t) for t in target]},
    )


def _answer(program: list, learned, n_tried: int, extra: dict | None = None, inner_learned: bool = False):
    text = describe_program(program) if program else ""
    if learned is None:
        code = program_source(program, "f")
    else:
        step, ltext = learned
        src = program_source(program, "_lib") if program else "def _lib(s):\n    return s\n"
        code = src + "\n\n" + learned_source(step, "_learned") + "\n\n"
        if inner_learned:
            text = f"{ltext}, then {text}"
            code += "def f(s):\n    return _lib(_learned(s))\n"
        else:
            text = f"{text}, then {ltext}" if text else ltext
            code += "def f(s):\n    return _learned(_lib(s))\n"
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
            **(extra or {}),
        },
    )
