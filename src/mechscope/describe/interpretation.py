"""What an interpreter answers: a description, code, the corrupted domain, the noise."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class Interpretation:
    """An interpreter's answer for one function.

    `code` is Python source defining ``f(x)`` (numeric: x is a float; strings: a
    str). `interval` is the corrupted domain ``[lo, hi]`` or None, `noise` one of
    "normal", "uniform", "poisson" or None. `evidence` holds whatever the
    interpreter wants to show (queries made, top inputs, rounds).
    """

    description: str
    code: str = ""
    interval: list | None = None
    noise: str | None = None
    evidence: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Interpretation:
        return cls(
            **{k: d.get(k) for k in ("description", "code", "interval", "noise")}, evidence=d.get("evidence") or {}
        )


class _Raised:
    """The observation "the call raised": equal only to itself, never to an output."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<raises>"

    def __reduce__(self):
        return "RAISED"


RAISED = _Raised()


def observe(f: Callable, x):
    """``f(x)``, or `RAISED` when the call raises: a black box that fails on an input is an observation.

    >>> observe(lambda s: s[0], "ab"), observe(lambda s: s[0], "")
    ('a', <raises>)
    """
    try:
        return f(x)
    except Exception:  # the black box's own error, whatever it is, is what it does on x
        return RAISED


def as_json(y):
    """An observation as JSON: outputs as they are, `RAISED` as the string ``"<raises>"``."""
    return "<raises>" if y is RAISED else y


def compile_code(code: str, name: str = "f") -> Callable:
    """Exec trusted interpreter code and return its function `name` (or the last one defined).

    >>> compile_code("def f(x):\\n    return 2 * x")(3)
    6
    """
    ns: dict = {"np": np, "__name__": "mechscope_describe_answer"}
    exec(compile(code, "<interpretation>", "exec"), ns)  # noqa: S102 - trusted code; see run_untrusted
    if callable(ns.get(name)):
        return ns[name]
    fns = [
        v
        for k, v in ns.items()
        if callable(v) and getattr(v, "__module__", None) == "mechscope_describe_answer" and not k.startswith("_")
    ]
    if not fns:
        raise ValueError(f"the code defines no function {name!r}")
    return fns[-1]


_CHILD = r"""
import json, sys
import numpy as np
doc = json.loads(sys.stdin.read())
ns = {"np": np, "__name__": "mechscope_describe_answer"}
try:
    exec(compile(doc["code"], "<interpretation>", "exec"), ns)
    f = ns.get("f")
    if not callable(f):
        fns = [v for k, v in ns.items() if callable(v) and getattr(v, "__module__", None) == "mechscope_describe_answer"
               and not k.startswith("_")]
        f = fns[-1]
except Exception:
    print(json.dumps(None))
    sys.exit(0)
outs = []
for x in doc["inputs"]:
    try:
        y = f(x)
        y = y if isinstance(y, str) else float(np.asarray(y, dtype=float).reshape(-1)[0])
        outs.append(y if isinstance(y, str) or np.isfinite(y) else None)
    except Exception:
        outs.append(None)
print(json.dumps(outs))
"""


def run_untrusted(code: str, inputs: list, timeout: float = 20.0) -> list | None:
    """Run code from an untrusted source (an LLM) on inputs in a fresh Python process, with a time limit.

    Returns one output per input (None where it raised or was not finite), or
    None when the code does not compile, define a function, or finish in time.

    >>> run_untrusted("def f(x):\\n    return 2 * x", [1.0, 2.0])
    [2.0, 4.0]
    """
    try:
        res = subprocess.run(
            [sys.executable, "-c", _CHILD],
            input=json.dumps({"code": code, "inputs": list(inputs)}),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return json.loads(res.stdout.strip().splitlines()[-1]) if res.returncode == 0 and res.stdout.strip() else None
    except (subprocess.TimeoutExpired, ValueError, IndexError):
        return None
