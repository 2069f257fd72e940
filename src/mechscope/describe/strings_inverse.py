"""Inverses of string primitives, for the baseline's meet-in-the-middle search of two-step chains.

For an outer step ``o`` with an inverse, the chain ``o(i(s))`` that produces
target ``t`` needs ``i(s) = inverse(t)``; the search looks that middle up among
the inner steps' outputs instead of trying every inner step. An inverse only
proposes a middle (None when ``t`` cannot be an output): every proposal is
checked by running the chain forward, so an inverse that is right on most
strings is enough.
"""

from __future__ import annotations

from collections.abc import Callable

from mechscope.describe import find_strings as fs
from mechscope.describe import strings_lib as sl


def _drop_last(t: str):
    return t[:-1]  # '' stays '': appending the first character of '' appends nothing


def _without_middle(mark: str | None = None):
    def inv(t: str):
        if not t:
            return None
        h = (len(t) - 1) // 2
        return t[:h] + t[h + 1 :] if mark is None or t[h] == mark else None

    return inv


def _half(t: str):
    return t[: len(t) // 2] if len(t) % 2 == 0 else None


def _unshift_at(ij):
    i, j = ij

    def inv(t: str):
        return t if len(t) < i + 1 or len(t) < j + 1 else fs._at(t, j, -i)

    return inv


def _self(name: str, p=None) -> Callable:
    prim = sl.primitive(name)
    return lambda t: prim.call(t, p)


_FIXED: dict[str, Callable[[object], Callable]] = {
    # ours
    "reverse": lambda p: _self("reverse"),
    "reverse_word_order": lambda p: _self("reverse_word_order"),
    "reverse_each_word": lambda p: _self("reverse_each_word"),
    "reverse_first_half": lambda p: _self("reverse_first_half"),
    "reverse_second_half": lambda p: _self("reverse_second_half"),
    "swapcase": lambda p: _self("swapcase"),
    "atbash": lambda p: _self("atbash"),
    "swap_first_last": lambda p: _self("swap_first_last"),
    "reverse_vowels": lambda p: _self("reverse_vowels"),
    "caesar": lambda k: _self("caesar", 26 - k),
    "shift_digits": lambda k: _self("shift_digits", 10 - k),
    "rotate_left": lambda k: _self("rotate_right", k),
    "rotate_right": lambda k: _self("rotate_left", k),
    "append_char": lambda c: lambda t: t[:-1] if t.endswith(c) else None,
    "prepend_char": lambda c: lambda t: t[1:] if t.startswith(c) else None,
    "insert_middle": lambda c: _without_middle(c),
    "duplicate_first": lambda p: _drop_last,
    "duplicate_last": lambda p: _drop_last,
    "repeat_twice": lambda p: _half,
    "mirror": lambda p: _half,
    "double_chars": lambda p: lambda t: t[::2] if len(t) % 2 == 0 else None,
    "space_out": lambda p: lambda t: t[::2] if len(t) % 2 == 1 or not t else None,
    # FIND's
    "find:reverse_string": lambda p: fs.reverse_string,
    "find:reverse_string_first_half": lambda p: fs.reverse_string_first_half,
    "find:reverse_string_last_half": lambda p: fs.reverse_string_last_half,
    "find:swap_first_last": lambda p: fs.swap_first_last,
    "find:swap_rand": lambda ij: lambda t: fs.swap_rand(t, ij),
    "find:reverse_vowels": lambda p: fs.reverse_vowels,
    "find:reverse_words": lambda p: fs.reverse_words,
    "find:add_number_to_string": lambda k: lambda t: fs.add_number_to_string(t, -k),
    "find:subtract_number_to_string": lambda k: lambda t: "".join(chr(ord(c) + k) for c in t),
    "find:add_len_to_string": lambda p: lambda t: fs.add_number_to_string(t, -len(t)),
    "find:add_number_to_middle": lambda k: lambda t: fs._middle(t, -k),
    "find:subtract_middle_character": lambda k: lambda t: fs._middle(t, k),
    "find:add_len_to_middle": lambda p: lambda t: fs._middle(t, -len(t)),
    "find:add_order_of_inx1_to_inx2": _unshift_at,
    "find:sub_order_of_inx1_to_inx2": _unshift_at,
    "find:insert_number": lambda k: _without_middle(str(k)),
    "find:insert_letter": lambda c: _without_middle(c),
    "find:duplicate_first_letter": lambda p: _drop_last,
    "find:duplicate_last_letter": lambda p: _drop_last,
    "find:duplicate_mid_letter": lambda p: _drop_last,
}


def inverse(name: str, p=None) -> Callable[[str], str | None] | None:
    """A function proposing the input of step ``(name, p)`` from its output, or None if it has none.

    >>> inverse("find:insert_letter", "q")("heqllo")
    'hello'
    """
    make = _FIXED.get(name)
    if make is None:
        return None
    inv = make(p)

    def safe(t):
        if not isinstance(t, str):
            return None
        try:
            return inv(t)
        except Exception:  # an output no input of this step gives
            return None

    return safe
