"""Errors that users see.

Every error mechscope raises for bad input is a `MechscopeError` whose message is
one line: the thing, the rule, the value got, and the fix. The CLI prints it
without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class MechscopeError(ValueError):
    """Bad input or an unmet precondition, explained in one line."""


def closest(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Return "; did you mean 'a', 'b'?" for the choices closest to `name`, or "".

    >>> closest("a3.h55.q", ["a3.h5.q", "a3.h4.q", "m3"])
    "; did you mean 'a3.h5.q', 'a3.h4.q'?"
    """
    matches = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.6)
    if not matches:
        return ""
    return "; did you mean " + ", ".join(repr(m) for m in matches) + "?"
