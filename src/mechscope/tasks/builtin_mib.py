"""Built-in tasks in MIB's forms (Mueller et al. 2025) and multi-step key retrieval in code.

- ``ioi-mib``: IOI with MIB's counterfactual, ``s2_io_flip``: the second mention of
  the subject becomes the indirect object, so the right answer flips (the ABC
  corruption of ``ioi`` only removes the information).
- ``mcqa``: MIB's copy-colours multiple choice: an object's colour is stated, four
  lettered colours are offered; the counterfactual (``symbol_counterfactual``)
  permutes the choices so the right colour sits under another letter.
- ``arithmetic``: two-digit addition and subtraction, ``"23+45="``; the answer is the
  first digit of the result (SmolLM2 writes one digit per token); the counterfactual
  (``random_counterfactual``) has other operands whose result starts with another digit.
- ``code-retrieval``: a chain of Python functions, ``def f3(): return f7()``, ending in
  a constant; the prompt asks for ``fK()``'s value. Depth 1..3 look-ups, the called
  function defined before or after its caller (``order``). The counterfactual changes
  the final constant.

Every generator is ``(n=None, seed=0, ...) -> Task``; the same arguments give the same examples.

>>> ex = ioi_mib(n=1).examples[0]
>>> ex.answers[0].strip() in ex.corrupt.split(",")[-1]
True
"""

from __future__ import annotations

import random

from mechscope.errors import MechscopeError
from mechscope.tasks.base import Example, Task
from mechscope.tasks.builtin import _IOI_TEMPLATES, _OBJECTS, _PLACES, _size, words


def ioi_mib(n: int | None = None, seed: int = 0) -> Task:
    """IOI with MIB's ``s2_io_flip`` counterfactual: "... John gave a drink to" becomes "... Mary gave a drink to".

    Answer: the indirect object of the clean prompt; wrong answer: its subject. On the
    counterfactual the roles swap, so its metric is about minus the clean one.

    >>> ex = ioi_mib(n=1, seed=1).examples[0]
    >>> [(a, b) for a, b in zip(ex.clean.split(), ex.corrupt.split()) if a != b]  # only the second subject flips
    [('Emily', 'Ralph')]
    >>> ex.answers, ex.wrong_answers
    ((' Ralph',), (' Emily',))
    """
    w = words()
    names = w["female_names"] + w["male_names"]
    rng = random.Random(seed)
    examples = []
    for _ in range(_size(n)):
        template = rng.choice(_IOI_TEMPLATES)
        io, s = rng.sample(names, 2)
        place, obj = rng.choice(_PLACES), rng.choice(_OBJECTS)
        first, second = (io, s) if rng.random() < 0.5 else (s, io)
        clean = template.format(A=first, B=second, S=s, P=place, O=obj)
        corrupt = template.format(A=first, B=second, S=io, P=place, O=obj)
        examples.append(Example(clean, corrupt, (" " + io,), (" " + s,)))
    return Task("ioi-mib", tuple(examples), "logit_diff", source="builtin:ioi-mib", seed=seed)


_COLOURED = (("banana", "yellow"), ("grass", "green"), ("sky", "blue"), ("snow", "white"), ("coal", "black"),
             ("tomato", "red"), ("orange", "orange"), ("plum", "purple"), ("lemon", "yellow"), ("cherry", "red"),
             ("leaf", "green"), ("ocean", "blue"), ("milk", "white"), ("crow", "black"), ("strawberry", "red"),
             ("carrot", "orange"))
_COLOURS = ("yellow", "green", "blue", "white", "black", "red", "orange", "purple", "brown", "pink", "gray")
_LETTERS = "ABCD"


def _mcqa_prompt(obj: str, colour: str, choices: list[str]) -> str:
    lines = [f"The {obj} is {colour}. What color is the {obj}?"]
    lines += [f"{letter}. {c}" for letter, c in zip(_LETTERS, choices)]
    return "\n".join(lines) + "\nAnswer:"


def mcqa(n: int | None = None, seed: int = 0) -> Task:
    """Copy-colours multiple choice (MIB's MCQA): answer the letter of the stated colour.

    The counterfactual offers the same four colours in another order, the right one
    under another letter; wrong answer: that letter.

    >>> ex = mcqa(n=1).examples[0]
    >>> ex.clean.endswith("Answer:"), ex.answers != ex.wrong_answers
    (True, True)
    """
    rng = random.Random(seed)
    examples = []
    for _ in range(_size(n)):
        obj, colour = rng.choice(_COLOURED)
        others = rng.sample([c for c in _COLOURS if c != colour], 3)
        choices = others + [colour]
        rng.shuffle(choices)
        moved = choices[:]
        while moved.index(colour) == choices.index(colour):
            rng.shuffle(moved)
        clean, corrupt = _mcqa_prompt(obj, colour, choices), _mcqa_prompt(obj, colour, moved)
        examples.append(Example(clean, corrupt, (" " + _LETTERS[choices.index(colour)],),
                                (" " + _LETTERS[moved.index(colour)],)))
    return Task("mcqa", tuple(examples), "logit_diff", source="builtin:mcqa", seed=seed)


def arithmetic(n: int | None = None, seed: int = 0, op: str = "+") -> Task:
    """Two-digit addition (``op="+"``) or subtraction (``"-"``): "23+45=" -> "6" (the first digit of 68).

    The counterfactual has fresh operands whose result has another first digit; wrong
    answer: that digit. Subtraction keeps the result at 10 or more, addition below 100.

    >>> arithmetic(n=1, seed=2).examples[0].clean[-1]
    '='
    """
    if op not in ("+", "-"):
        raise MechscopeError(f"arithmetic is '+' or '-', got {op!r}")
    rng = random.Random(seed)

    def draw() -> tuple[int, int, int]:
        while True:
            a, b = rng.randint(10, 99), rng.randint(10, 99)
            r = a + b if op == "+" else a - b
            if 10 <= r <= 99:
                return a, b, r

    examples = []
    for _ in range(_size(n)):
        a, b, r = draw()
        while True:
            c, d, q = draw()
            if str(q)[0] != str(r)[0]:
                break
        examples.append(Example(f"{a}{op}{b}=", f"{c}{op}{d}=", (str(r)[0],), (str(q)[0],)))
    name = "arithmetic" if op == "+" else "arithmetic-sub"
    return Task(name, tuple(examples), "logit_diff", source=f"builtin:{name}", seed=seed)


def arithmetic_sub(n: int | None = None, seed: int = 0) -> Task:
    """Two-digit subtraction, as `arithmetic` with ``op="-"``."""
    return arithmetic(n, seed, op="-")


_FUNCS = tuple(f"f{i}" for i in range(1, 10))


_CODE_QUERIES = {  # how the prompt asks for f's value; the answer digit is the next token
    "session": ">>> {f}()\n",          # a Python session: the value on the next line
    "assert": "assert {f}() == ",      # the digit after "== " (SmolLM2 writes " 7" as " " then "7")
    "comment": "# {f}() returns ",
}


def code_retrieval(n: int | None = None, seed: int = 0, depth: int = 1, order: str = "before",
                   distractors: int = 2, form: str = "session") -> Task:
    """Multi-step key retrieval in code: follow `depth` calls to a constant.

    The chain ``f_a() -> f_b() -> ... -> return 7`` (depth 1: ``f_a`` returns the
    constant itself) is written with each callee defined before its caller
    (``order="before"``) or after it (``"after"``); `distractors` other functions return
    other constants. The prompt asks for ``f_a()``'s value in one of three forms: as a
    Python session, ``>>> f_a()`` and a newline (``form="session"``), as ``assert f_a() == ``
    (``"assert"``) or as a comment ``# f_a() returns `` (``"comment"``); the answer is the
    constant (one digit, the next token); the counterfactual changes that constant, and its
    value is the wrong answer.

    >>> ex = code_retrieval(n=1, depth=2).examples[0]
    >>> ex.clean.count("def "), ex.clean.endswith("()" + chr(10))
    (4, True)
    >>> code_retrieval(n=1, form="assert").examples[0].clean.splitlines()[-1][:7]
    'assert '
    """
    if depth < 1 or order not in ("before", "after") or distractors < 0 or depth + distractors > len(_FUNCS):
        raise MechscopeError(f"code retrieval needs depth >= 1, order 'before' or 'after' and at most "
                             f"{len(_FUNCS)} functions in all; got depth={depth}, order={order!r}, "
                             f"distractors={distractors}")
    if form not in _CODE_QUERIES:
        raise MechscopeError(f"code retrieval asks in one of the forms {', '.join(_CODE_QUERIES)}; got form={form!r}")
    rng = random.Random(seed)
    examples = []
    for _ in range(_size(n)):
        names = rng.sample(_FUNCS, depth + distractors)
        chain, others = names[:depth], names[depth:]
        value, other_value = rng.sample(range(10), 2)
        digits = rng.sample([d for d in range(10) if d not in (value, other_value)], distractors)

        def program(v: int) -> str:
            defs = {chain[i]: f"def {chain[i]}():\n    return {chain[i + 1]}()" for i in range(depth - 1)}
            defs[chain[-1]] = f"def {chain[-1]}():\n    return {v}"
            for f, d in zip(others, digits):
                defs[f] = f"def {f}():\n    return {d}"
            body = list(reversed(chain)) if order == "before" else list(chain)
            blocks = [defs[f] for f in body]
            for f in others:  # distractors at random places
                blocks.insert(rng_positions[f], defs[f])
            return "\n".join(blocks) + "\n" + _CODE_QUERIES[form].format(f=chain[0])

        rng_positions = {f: rng.randint(0, depth + i) for i, f in enumerate(others)}
        examples.append(Example(program(value), program(other_value), (str(value),), (str(other_value),)))
    name = _code_name(depth, order, form)
    source = f"builtin:code-retrieval:{depth}:{order}" + _form_suffix(form, ":")
    return Task(name, tuple(examples), "logit_diff", source=source, seed=seed)


def _form_suffix(form: str, sep: str) -> str:
    """What a code-retrieval form adds to a task's name or source: nothing for the session form, the original.

    >>> _form_suffix("assert", "-"), _form_suffix("session", ":")
    ('-assert', '')
    """
    return "" if form == "session" else f"{sep}{form}"


def _code_name(depth: int, order: str, form: str) -> str:
    """A code-retrieval task's name.

    >>> _code_name(1, "before", "assert"), _code_name(2, "after", "session")
    ('code-retrieval-d1-before-assert', 'code-retrieval-d2-after')
    """
    return f"code-retrieval-d{depth}-{order}" + _form_suffix(form, "-")


SOLVED_MIB_TASKS = {"ioi-mib": ioi_mib}  # registered as built-ins: see the module docstring for accuracies

MIB_TASKS = {
    "ioi-mib": ioi_mib,
    "mcqa": mcqa,
    "arithmetic": arithmetic,
    "arithmetic-sub": arithmetic_sub,
    "code-retrieval": code_retrieval,
    **{_code_name(d, o, f):
       (lambda d, o, f: lambda n=None, seed=0: code_retrieval(n, seed, depth=d, order=o, form=f))(d, o, f)
       for d in (1, 2, 3) for o in ("before", "after") for f in _CODE_QUERIES},
}
