"""String primitives of the benchmark: each a total function of one string.

Every primitive is a plain top-level function ``name(s)`` or ``name(s, p)`` whose
source is copied verbatim into the standalone scripts, so a script and the
Python callable run the same code. `PRIMITIVES` names each with its parameter
values and a canonical description (the ground-truth language of a function).
"""

from __future__ import annotations

import inspect
import string as _string
from dataclasses import dataclass

from mechscope.describe._words import _ONES, _TENS, number_words

VOWELS = "aeiouAEIOU"


def lower(s):
    return s.lower()


def upper(s):
    return s.upper()


def capitalize(s):
    return s.capitalize()


def swapcase(s):
    return s.swapcase()


def title_words(s):
    return " ".join(w[:1].upper() + w[1:] for w in s.split(" "))


def reverse(s):
    return s[::-1]


def reverse_word_order(s):
    return " ".join(s.split(" ")[::-1])


def reverse_each_word(s):
    return " ".join(w[::-1] for w in s.split(" "))


def reverse_first_half(s):
    h = len(s) // 2
    return s[:h][::-1] + s[h:]


def reverse_second_half(s):
    h = len(s) // 2
    return s[:h] + s[h:][::-1]


def caesar(s, k):
    out = []
    for c in s:
        if "a" <= c <= "z":
            out.append(chr((ord(c) - 97 + k) % 26 + 97))
        elif "A" <= c <= "Z":
            out.append(chr((ord(c) - 65 + k) % 26 + 65))
        else:
            out.append(c)
    return "".join(out)


def atbash(s):
    out = []
    for c in s:
        if "a" <= c <= "z":
            out.append(chr(219 - ord(c)))
        elif "A" <= c <= "Z":
            out.append(chr(155 - ord(c)))
        else:
            out.append(c)
    return "".join(out)


def replace_vowels(s, c):
    return "".join(c if ch in "aeiouAEIOU" else ch for ch in s)


def remove_vowels(s):
    return "".join(ch for ch in s if ch not in "aeiouAEIOU")


def remove_digits(s):
    return "".join(ch for ch in s if not ch.isdigit())


def remove_spaces(s):
    return s.replace(" ", "")


def remove_uppercase(s):
    return "".join(ch for ch in s if not ch.isupper())


def keep_uppercase(s):
    return "".join(ch for ch in s if ch.isupper())


def spell_digits(s):
    return " ".join(number_words(int(ch)) for ch in s if ch.isdigit())


def count_vowels(s):
    return number_words(sum(ch in "aeiouAEIOU" for ch in s))


def count_consonants(s):
    return number_words(sum(ch.isalpha() and ch not in "aeiouAEIOU" for ch in s))


def count_chars(s):
    return number_words(len(s))


def count_uppercase(s):
    return number_words(sum(ch.isupper() for ch in s))


def count_digits(s):
    return number_words(sum(ch.isdigit() for ch in s))


def count_words(s):
    return number_words(len(s.split()))


def first_char(s):
    return s[:1]


def last_char(s):
    return s[-1:]


def middle_char(s):
    return s[len(s) // 2 : len(s) // 2 + 1]


def dedupe_chars(s):
    seen = set()
    out = []
    for ch in s:
        if ch not in seen:
            seen.add(ch)
            out.append(ch)
    return "".join(out)


def sort_chars(s):
    return "".join(sorted(s))


def double_chars(s):
    return "".join(ch + ch for ch in s)


def space_out(s):
    return " ".join(s)


def alternate_case(s):
    return "".join(ch.upper() if i % 2 == 0 else ch.lower() for i, ch in enumerate(s))


def swap_first_last(s):
    return s if len(s) < 2 else s[-1] + s[1:-1] + s[0]


def append_char(s, c):
    return s + c


def prepend_char(s, c):
    return c + s


def insert_middle(s, c):
    return s[: len(s) // 2] + c + s[len(s) // 2 :]


def duplicate_first(s):
    return s + s[:1]


def duplicate_last(s):
    return s + s[-1:]


def rotate_left(s, k):
    k = k % len(s) if s else 0
    return s[k:] + s[:k]


def rotate_right(s, k):
    k = k % len(s) if s else 0
    return s[len(s) - k :] + s[: len(s) - k]


def first_letter_position(s):
    for ch in s:
        if ch.isalpha() and ch.isascii():
            return number_words(ord(ch.lower()) - 96)
    return "zero"


def replace_spaces(s, c):
    return s.replace(" ", c)


def reverse_vowels(s):
    vs = [ch for ch in s if ch in "aeiouAEIOU"]
    return "".join(vs.pop() if ch in "aeiouAEIOU" else ch for ch in s)


def upper_vowels(s):
    return "".join(ch.upper() if ch in "aeiouAEIOU" else ch for ch in s)


def keep_first(s, k):
    return s[:k]


def drop_first(s, k):
    return s[k:]


def repeat_twice(s):
    return s + s


def mirror(s):
    return s + s[::-1]


def shift_digits(s, k):
    return "".join(str((int(ch) + k) % 10) if ch in "0123456789" else ch for ch in s)


def letters_only(s):
    return "".join(ch for ch in s if ch.isalpha())


@dataclass(frozen=True)
class Primitive:
    """One string primitive: its function, parameter values and description template."""

    name: str
    fn: object
    params: tuple
    text: str  # description; "{p}" stands for the parameter

    def describe(self, p=None) -> str:
        return self.text.format(p=p)

    def call(self, s: str, p=None) -> str:
        return self.fn(s) if p is None else self.fn(s, p)


_LETTERS = tuple(_string.ascii_lowercase)
_SPECS = [
    (lower, (), "converts the string to lower case"),
    (upper, (), "converts the string to upper case"),
    (capitalize, (), "capitalizes the first character and lower-cases the rest"),
    (swapcase, (), "swaps the case of every letter"),
    (title_words, (), "capitalizes the first letter of every word"),
    (reverse, (), "reverses the string"),
    (reverse_word_order, (), "reverses the order of the words"),
    (reverse_each_word, (), "reverses the letters of each word, keeping the word order"),
    (reverse_first_half, (), "reverses the first half of the string"),
    (reverse_second_half, (), "reverses the second half of the string"),
    (caesar, tuple(range(1, 26)), "shifts every letter {p} places forward in the alphabet"),
    (atbash, (), "replaces every letter by its mirror in the alphabet (a<->z, b<->y)"),
    (replace_vowels, ("x", "z", "q", "*", "#"), "replaces every vowel with '{p}'"),
    (remove_vowels, (), "removes the vowels"),
    (remove_digits, (), "removes the digits"),
    (remove_spaces, (), "removes the spaces"),
    (remove_uppercase, (), "removes the upper-case letters"),
    (keep_uppercase, (), "keeps only the upper-case letters"),
    (spell_digits, (), "writes out each digit as an English word, separated by spaces"),
    (count_vowels, (), "counts the vowels and writes the count out in English words"),
    (count_consonants, (), "counts the consonants and writes the count out in English words"),
    (count_chars, (), "counts the characters and writes the count out in English words"),
    (count_uppercase, (), "counts the upper-case letters and writes the count out in English words"),
    (count_digits, (), "counts the digits and writes the count out in English words"),
    (count_words, (), "counts the words and writes the count out in English words"),
    (first_char, (), "returns the first character"),
    (last_char, (), "returns the last character"),
    (middle_char, (), "returns the middle character"),
    (dedupe_chars, (), "removes repeated characters, keeping the first occurrence of each"),
    (sort_chars, (), "sorts the characters by code point"),
    (double_chars, (), "doubles every character"),
    (space_out, (), "puts a space between every two characters"),
    (alternate_case, (), "upper-cases characters at even positions and lower-cases the others"),
    (swap_first_last, (), "swaps the first and the last character"),
    (append_char, _LETTERS, "appends '{p}' to the end"),
    (prepend_char, _LETTERS, "prepends '{p}' to the start"),
    (insert_middle, _LETTERS, "inserts '{p}' in the middle"),
    (duplicate_first, (), "appends a copy of the first character"),
    (duplicate_last, (), "appends a copy of the last character"),
    (rotate_left, (1, 2, 3), "moves the first {p} characters to the end"),
    (rotate_right, (1, 2, 3), "moves the last {p} characters to the start"),
    (first_letter_position, (), "writes out in English words the alphabet position of the first letter"),
    (replace_spaces, ("-", "_", "."), "replaces every space with '{p}'"),
    (reverse_vowels, (), "reverses the order of the vowels, leaving other characters in place"),
    (upper_vowels, (), "upper-cases the vowels"),
    (keep_first, (2, 3, 4, 5), "keeps the first {p} characters"),
    (drop_first, (1, 2, 3), "removes the first {p} characters"),
    (repeat_twice, (), "repeats the string twice"),
    (mirror, (), "appends the reversed string to the string"),
    (shift_digits, (1, 2, 3, 5), "adds {p} to every digit, modulo 10"),
    (letters_only, (), "keeps only the letters"),
]
PRIMITIVES: dict[str, Primitive] = {
    fn.__name__: Primitive(fn.__name__, fn, params, text) for fn, params, text in _SPECS
}


def primitive(name: str):
    """The primitive of a program step: ours by name, FIND's as ``find:<name>``."""
    if name.startswith("find:"):
        from mechscope.describe.find_strings import FIND_PRIMITIVES

        return FIND_PRIMITIVES[name]
    return PRIMITIVES[name]


def run_program(program: list, s: str) -> str:
    """Apply a program, a list of ``[name, param]`` steps, to a string.

    >>> run_program([["reverse", None], ["caesar", 1]], "abc")
    'dcb'
    >>> run_program([["find:reverse_string", None], ["find:count_vowels", None]], "banana")
    'three'
    """
    for name, p in program:
        s = primitive(name).call(s, p)
    return s


def describe_program(program: list) -> str:
    """The canonical description of a program.

    >>> describe_program([["reverse", None], ["upper", None]])
    'reverses the string, then converts the string to upper case'
    """
    return ", then ".join(primitive(name).describe(p) for name, p in program)


def _ident(name: str) -> str:
    return name.replace(":", "_")


def program_source(program: list, fname: str = "f") -> str:
    """Standalone Python source defining ``fname(s)`` that runs the program.

    FIND's primitives are renamed ``find_<name>`` so that they never clash with ours.
    """
    helpers = [inspect.getsource(number_words)]
    used = sorted({name for name, _ in program})
    if any(n.startswith("find:") for n in used):
        from mechscope.describe import find_strings as fs

        helpers = ["import random\n\n_rng = random.Random()\nVOWELS = 'aeiouAEIOU'"] + helpers
        helpers += [inspect.getsource(h) for h in fs.HELPERS]
    body = []
    for n in used:
        src = inspect.getsource(primitive(n).fn)
        body.append(src.replace(f"def {primitive(n).fn.__name__}(", f"def {_ident(n)}(", 1))
    steps = "".join(f"    s = {_ident(name)}(s{'' if p is None else ', ' + repr(p)})\n" for name, p in program)
    return (
        f"_ONES = {_ONES!r}\n_TENS = {_TENS!r}\n\n\n"
        + "\n\n".join(helpers + body)
        + f"\n\ndef {fname}(s):\n{steps}    return s\n"
    )
