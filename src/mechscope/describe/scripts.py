"""Standalone sources of benchmark functions, and loading them as Python callables.

A function's source defines ``reference(x)`` (the deterministic function that
code answers are scored against) and ``function(x)`` (the black box, with its
noise or corrupted interval). Run as a script it prints input-output pairs:
``python f0003.py 1 2 3`` prints ``Function input - output pairs: (1, ...) ...``.
Python callers exec the same text, so both paths run identical code.
"""

from __future__ import annotations

from mechscope.describe.strings_lib import program_source

_NUMERIC_MAIN = """

if __name__ == "__main__":
    _rng = np.random.default_rng()
    pairs = []
    for arg in sys.argv[1:]:
        try:
            out = float(function(float(arg)))
        except Exception:
            out = None
        pairs.append(f"({arg}, {out})")
    print("Function input - output pairs: " + " ".join(pairs))
"""

_TEXT_MAIN = """

if __name__ == "__main__":
    import sys
    _rng.seed()
    pairs = []
    for arg in sys.argv[1:]:
        try:
            out = function(arg)
        except Exception:
            out = None
        pairs.append(f"({arg!r}, {out!r})")
    print("Function input - output pairs: " + " ".join(pairs))
"""


def numeric_source(fid: str, expr: str | None, variant: dict, seed: int, mlp: dict | None = None) -> str:
    """Source of a numeric function: an expression (or MLP weights) and its variant."""
    head = f'"""mechscope describe benchmark function {fid}: run `python {fid}.py 1 2 3`."""\n'
    head += f"import sys\n\nimport numpy as np\n\nSEED = {seed}\n_rng = np.random.default_rng(SEED)\n"
    if mlp is not None:
        head += (
            f"W1 = np.array({mlp['w1']!r})\nB1 = np.array({mlp['b1']!r})\n"
            f"W2 = np.array({mlp['w2']!r})\nB2 = {mlp['b2']!r}\n"
        )
        body = "np.maximum(np.multiply.outer(x, W1) + B1, 0.0) @ W2 + B2"
    else:
        body = expr
    ref = (
        f'\n\ndef reference(x):\n    x = np.asarray(x, dtype=float)\n    with np.errstate(all="ignore"):\n'
        f"        y = {body}\n    return np.broadcast_to(np.asarray(y, dtype=float), x.shape).copy()\n"
    )
    lines = ["    x = np.asarray(x, dtype=float)", "    y = reference(x)"]
    kind = variant["variant"]
    if kind == "noisy":
        draw = {
            "normal": "_rng.normal(0.0, {s}, size=x.shape)",
            "uniform": "_rng.uniform(-{s}, {s}, size=x.shape)",
            "poisson": "_rng.poisson({s}, size=x.shape)",
        }[variant["noise"]]
        lines.append("    y = y + " + draw.format(s=variant["noise_scale"]))
    elif kind == "corrupted":
        a, b = variant["interval"]
        cond = " & ".join(c for c in [None if a is None else f"(x > {a})", None if b is None else f"(x < {b})"] if c)
        lines.append(
            f"    y = np.where({cond}, _rng.normal({variant['level']}, {variant['level_std']}, size=x.shape), y)"
        )
    lines.append("    return y if y.ndim else float(y)")
    return head + ref + "\n\ndef function(x):\n" + "\n".join(lines) + "\n" + _NUMERIC_MAIN


def string_source(fid: str, program: list, seed: int) -> str:
    """Source of a string function: the primitives it chains, copied verbatim."""
    head = f'"""mechscope describe benchmark function {fid}: run `python {fid}.py hello World`."""\n'
    head += f"import random\n\n_rng = random.Random({seed})\n\n\n"
    return (
        head
        + program_source(program, "reference")
        + "\n\ndef function(s):\n    return reference(str(s))\n"
        + _TEXT_MAIN
    )


def concept_source(fid: str, neuron_src: str) -> str:
    head = f'"""mechscope describe benchmark neuron {fid}: run `python {fid}.py "a dog barked" "red sky"`."""\n'
    return head + neuron_src + _TEXT_MAIN


def load_source(source: str) -> dict:
    """Exec a function's source and return its namespace (``function``, ``reference``).

    >>> ns = load_source(string_source("f0000", [["reverse", None]], seed=0))
    >>> ns["function"]("abc")
    'cba'
    """
    namespace: dict = {"__name__": "mechscope_describe_function"}
    exec(compile(source, "<describe function>", "exec"), namespace)  # noqa: S102 - the benchmark's own code
    return namespace
