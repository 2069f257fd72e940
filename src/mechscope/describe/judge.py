"""Judges for description unit tests: which of three input-output pairs fits a description?

`RuleJudge` (the default) reads the benchmark's description language: a
formula after ``f(x) =`` for numeric functions; steps joined by ", then " that
match primitive descriptions (or the learned steps the baseline writes) for
strings; concept names and member words for concepts. It abstains (None) when
it cannot read a description, which scores as a wrong answer. Any object with
``choose(domain, description, test) -> int | None`` is a judge, e.g. `LLMJudge`.
"""

from __future__ import annotations

import re

import numpy as np

from mechscope.describe._words import CONCEPTS
from mechscope.describe.concepts import WORD
from mechscope.describe.find_strings import FIND_PRIMITIVES, random_support
from mechscope.describe.interpretation import RAISED, as_json, observe
from mechscope.describe.strings_lib import PRIMITIVES, run_program

_MATH = {
    name: getattr(np, name)
    for name in (
        "sin",
        "cos",
        "tan",
        "tanh",
        "exp",
        "log",
        "sqrt",
        "abs",
        "floor",
        "ceil",
        "sign",
        "heaviside",
        "maximum",
        "minimum",
        "where",
        "pi",
        "e",
    )
}
_EXACT = {
    prim.describe(p): (name, p)
    for name, prim in [*PRIMITIVES.items(), *FIND_PRIMITIVES.items()]
    if prim.params is not None
    for p in (prim.params or (None,))
}
_STEPS = {k.lower(): v for k, v in reversed(_EXACT.items())}


def numeric_formula(description: str):
    """The callable formula after the last ``f(x) =`` in a description, or None.

    >>> numeric_formula("a line; f(x) = 2*x + 1")(np.array([3.0])).tolist()
    [7.0]
    """
    found = re.findall(r"(?:f\(x\)|y)\s*=\s*([^\n;]+)", description)
    if not found:
        return None
    expr = found[-1].strip().rstrip(".").replace("^", "**")

    def f(x):
        with np.errstate(all="ignore"):
            y = eval(expr, {"np": np, "__builtins__": {}, **_MATH}, {"x": np.asarray(x, dtype=float)})  # noqa: S307
        return np.broadcast_to(np.asarray(y, dtype=float), np.shape(x))

    return f


def _charmap(text: str):
    pairs = dict(re.findall(r"(\S)->(\S)", text))
    return lambda s: "".join(pairs.get(c, c) for c in s)


def _map_letters(text: str):
    image = dict(re.findall(r"([a-z])->([a-z])", text))
    return lambda s: "".join(image.get(c.lower(), c.lower()) if "a" <= c.lower() <= "z" else c for c in s)


def string_program(description: str):
    """A callable giving the set of outputs a description in the canonical step language allows, or None.

    A step that draws a random index allows each output it can give; a failing
    call gives ``"<raises>"``.

    >>> run = string_program("reverses the string, then shifts the letter at a random index i forward by i places")
    >>> sorted(run("ab"))
    ['ba', 'bb']
    """
    steps = []
    for part in re.split(r",\s*then\s+|;\s*then\s+", description.strip().rstrip(".")):
        key = part.strip().lower()
        name, p = _EXACT.get(part.strip()) or _STEPS.get(key) or (None, None)
        prim = FIND_PRIMITIVES.get(name) if name else None
        if name and prim is not None and prim.random:
            steps.append(("set", lambda s, name=name: set(random_support(name, s))))
        elif name:
            steps.append(lambda s, name=name, p=p: run_program([[name, p]], s))
        elif m := re.fullmatch(r"shifts the letter at a random index i (forward|back) by i places", key):
            steps.append(("set", lambda s, m=m: set(random_support(
                "find:add_order_to_inx" if m.group(1) == "forward" else "find:sub_order_to_inx", s))))
        elif part.strip().startswith("maps letters, lower-cased, by the table"):
            steps.append(_map_letters(part))
        elif m := re.fullmatch(r"(prepends|appends) '(.*)' to the (start|end)", part.strip()):
            steps.append(lambda s, m=m: m.group(2) + s if m.group(1) == "prepends" else s + m.group(2))
        elif m := re.fullmatch(r"always returns '(.*)'", part.strip()):
            steps.append(lambda s, m=m: m.group(1))
        elif part.strip().startswith("maps characters by the table"):
            steps.append(_charmap(part))
        elif m := re.fullmatch(r"shifts (lower|upper) letters (\d+) places forward( and makes them (\w+) case)?", key):
            cls, k, case = m.group(1), int(m.group(2)), m.group(4)

            def shift(s, cls=cls, k=k, case=case):
                out = []
                for c in s:
                    if c.isascii() and (c.islower() if cls == "lower" else c.isupper()):
                        ch = chr((ord(c.lower()) - 97 + k) % 26 + 97)
                        c = ch.upper() if (case or cls) == "upper" else ch
                    out.append(c)
                return "".join(out)

            steps.append(shift)
        else:
            return None

    def run(s) -> set:
        outs = {s}
        for step in steps:
            many = isinstance(step, tuple)
            fn = step[1] if many else step
            nxt = set()
            for x in outs:
                y = observe(fn, x) if isinstance(x, str) else RAISED
                nxt |= ({RAISED} if y is RAISED else y) if many else {y}
            outs = nxt
        return {as_json(y) for y in outs}

    return run if steps else None


def concept_words(description: str) -> set[str]:
    """Words of the lexicon concepts a description names (by name or by members).

    >>> "hawk" in concept_words("responds to words about birds")
    True
    """
    tokens = WORD.findall(description.lower())
    score = {c: 3 * tokens.count(c) + sum(t in ws for t in tokens) for c, ws in CONCEPTS.items()}
    top = max(score.values())
    if top == 0:
        return set()
    chosen = [c for c, v in score.items() if v >= max(3, top / 2)] or [max(score, key=score.get)]
    return {w for c in chosen for w in CONCEPTS[c]}


class RuleJudge:
    """The default, offline judge."""

    name = "rule"

    def choose(self, domain: str, description: str, test: dict) -> int | None:
        try:
            if domain == "numeric":
                f = numeric_formula(description)
                if f is None:
                    return None
                preds = [float(f(np.array([x]))[0]) for x in test["inputs"]]
                errs = [
                    abs(p - y) / (1.0 + abs(p)) if np.isfinite(p) else np.inf for p, y in zip(preds, test["outputs"])
                ]
                return int(np.argmin(errs)) if np.isfinite(min(errs)) else None
            if domain == "strings":
                f = string_program(description)
                if f is None:
                    return None
                hits = [i for i, (x, y) in enumerate(zip(test["inputs"], test["outputs"])) if y in f(x)]
                return hits[0] if len(hits) == 1 else None
            words = concept_words(description)
            hits = [sum(w in words for w in WORD.findall(x.lower())) for x in test["inputs"]]
            return int(np.argmax(hits)) if max(hits) > 0 and hits.count(max(hits)) == 1 else None
        except Exception:
            return None


class LLMJudge:
    """A judge that asks an OpenAI-compatible chat endpoint (FIND's unit-test protocol)."""

    name = "llm"

    def __init__(self, url: str, model: str, timeout: float = 120.0):
        self.url, self.model, self.timeout = url, model, timeout

    def choose(self, domain: str, description: str, test: dict) -> int | None:
        from mechscope.describe.llm import chat

        lines = [
            f"Here is a description of a function f(x):\n{description}\n",
            "Which one of these input-output pairs is a correct execution of f(x)?",
        ]
        lines += [
            f"Example {i + 1}: input = {x!r}, output = {y!r}"
            for i, (x, y) in enumerate(zip(test["inputs"], test["outputs"]))
        ]
        lines.append('Reply exactly as "[ANSWER]: <index>" with the number of the correct example.')
        reply = chat(self.url, self.model, [{"role": "user", "content": "\n".join(lines)}], timeout=self.timeout)
        m = re.search(r"\[ANSWER\]\s*:?\s*(\d)", reply) or re.search(r"\b([123])\b", reply)
        return int(m.group(1)) - 1 if m else None
