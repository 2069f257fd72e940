"""FIND's string primitives (Schwettmann et al. 2023), with the behaviour of FIND's generated code.

Each primitive is written here afresh to do what the function FIND's generator
writes out does, including its edges: counts are named in English words up to
thirty and raise (KeyError) beyond, characters are indexed without a guard, so
``get_first_character('')`` raises IndexError, ``count_consonants`` counts a
lower-case 'a' (FIND's consonant list has it), ``get_digit_indexes`` names only
the last character's index (FIND's loop resets its list), ``subtract_number_to_string``
shifts every code point, and ``sub_order_of_inx1_to_inx2`` adds (as FIND's
does). ``add_order_to_inx`` and ``sub_order_to_inx`` draw a random index on
every call and raise on the empty string, as in FIND's published functions
(its generator's current code returns strings shorter than two unchanged).
`FIND_PRIMITIVES` maps ``find:<FIND's name>`` to a `FindPrimitive` with its
parameter range (FIND's), how to draw a parameter, and a description.
"""

from __future__ import annotations

import random
import string as _string
from collections.abc import Callable
from dataclasses import dataclass

from mechscope.describe._words import number_words

_rng = random.Random()
VOWELS = "aeiouAEIOU"
LETTERS = _string.ascii_letters


def _say(n, top=30):
    """A count in English words as FIND names it (0..top); beyond, the KeyError FIND's table raises."""
    if not 0 <= n <= top:
        raise KeyError(str(n))
    return number_words(n)


def _shift_any(c, k):
    """FIND's shift of one character: a lower-case letter (by islower) from 'a', else from 'A'."""
    if not c.isalpha():
        return c
    base = 97 if c.islower() else 65
    return chr((ord(c) - base + k) % 26 + base)


def get_string_length(s):
    return _say(len(s)) if len(s) <= 30 else "unknown"


def get_digit_indexes(s):
    return _say(s.find(s[-1])) if s and s[-1].isdigit() else ""


def get_alpha_indexes(s):
    return " ".join(_say(s.find(c)) for c in s if c.isalpha())


def convert_to_lowercase(s):
    return s.lower()


def convert_to_uppercase(s):
    return s.upper()


def capitalize_string(s):
    return s.capitalize()


def reverse_string(s):
    return s[::-1]


def reverse_string_first_half(s):
    h = len(s) // 2
    return s[:h][::-1] + s[h:]


def reverse_string_last_half(s):
    h = len(s) // 2
    return s[:h] + s[h:][::-1]


def extract_digits(s):
    return " ".join(_say("0123456789".index(c)) for c in s if c.isdigit())


def remove_digits(s):
    return "".join(c for c in s if not c.isdigit())


def extract_uppers(s):
    return "".join(c for c in s if c.isupper())


def remove_whitespace(s):
    return "".join(s.split())


def get_first_character(s):
    return s[0]


def get_last_character(s):
    return s[-1]


def get_mid_character(s):
    m = len(s) // 2
    return s[m - 1 : m + 1] if len(s) % 2 == 0 else s[m]


def remove_duplicates(s):
    seen = set()
    return "".join(seen.add(c) or c for c in s if c not in seen)


def reverse_words(s):
    return " ".join(w[::-1] for w in s.split())


def count_vowels(s):
    return _say(sum(c in VOWELS for c in s))


def replace_vowels_with_character(s, c):
    return "".join(c if ch in VOWELS else ch for ch in s)


def replace_vowels_with_first(s):
    r = s[0]
    return "".join(r if ch in VOWELS else ch for ch in s)


def replace_vowels_with_last(s):
    r = s[-1]
    return "".join(r if ch in VOWELS else ch for ch in s)


def replace_vowels_with_mid(s):
    if len(s) < 2:
        return s
    r = s[len(s) // 2]
    return "".join(r if ch in VOWELS else ch for ch in s)


def replace_vowels_with_ind_of_count(s):
    r = s[sum(ch in VOWELS for ch in s) - 1]
    return "".join(r if ch in VOWELS else ch for ch in s)


def reverse_vowels(s):
    chars, i, j = list(s), 0, len(s) - 1
    while i < j:
        if chars[i] not in VOWELS:
            i += 1
        elif chars[j] not in VOWELS:
            j -= 1
        else:
            chars[i], chars[j] = chars[j], chars[i]
            i, j = i + 1, j - 1
    return "".join(chars)


def capitalize_alternating_letters(s):
    return "".join(c.upper() if i % 2 == 0 else c.lower() for i, c in enumerate(s))


def count_consonants(s):
    return _say(sum(c in "abcdfghjklmnpqrstvwxyzBCDFGHJKLMNPQRSTVWXYZ" for c in s))


def count_uppercase(s):
    return _say(sum(c.isupper() for c in s))


def count_lowercase(s):
    return _say(sum(c.islower() for c in s))


def count_character_repetitions(s, c):
    return _say(s.count(c))


def string_strip(s):
    return s.strip()


def string_lstrip(s):
    return s.lstrip()


def string_rstrip(s):
    return s.rstrip()


def add_number_to_string(s, k):
    return "".join(_shift_any(c, k) for c in s)


def _by_order(s, i, sign):
    if len(s) < i + 1:
        return s
    k = sign * (ord(s[i].lower()) - 97)
    return "".join(chr((ord(c.lower()) - 97 + k) % 26 + 97) if c.isalpha() else c for c in s)


def advance_by_character_order(s, i):
    return _by_order(s, i, 1)


def substract_by_character_order(s, i):
    return _by_order(s, i, -1)


def add_len_to_string(s):
    return "".join(_shift_any(c, len(s)) for c in s)


def _at(s, i, k):
    """Shift the character at index i by k places when it is a letter."""
    return s[:i] + _shift_any(s[i], k) + s[i + 1 :] if s[i].isalpha() else s


def _middle(s, k):
    return s if len(s) % 2 == 0 or len(s) < 3 else _at(s, len(s) // 2, k)


def add_number_to_middle(s, k):
    return _middle(s, k)


def add_len_to_middle(s):
    return _middle(s, len(s))


def add_order_to_inx(s, i=None):
    i = _rng.randint(0, len(s) - 1) if i is None else i  # ValueError on '', as in FIND's published functions
    return _at(s, i, i)


def sub_order_to_inx(s, i=None):
    i = _rng.randint(0, len(s) - 1) if i is None else i
    return _at(s, i, -i)


def add_order_of_inx1_to_inx2(s, ij):
    i, j = ij
    return s if len(s) < i + 1 or len(s) < j + 1 else _at(s, j, i)


def sub_order_of_inx1_to_inx2(s, ij):
    i, j = ij
    return s if len(s) < i + 1 or len(s) < j + 1 else _at(s, j, i)


def subtract_number_to_string(s, k):
    return "".join(chr(ord(c) - k) for c in s)


def subtract_middle_character(s, k):
    return _middle(s, -k)


def insert_number(s, k):
    return s[: len(s) // 2] + str(k) + s[len(s) // 2 :]


def add_letter_if_needed(s, c):
    return s if s.endswith(c) else s + c


def insert_letter(s, c):
    return s[: len(s) // 2] + c + s[len(s) // 2 :]


def split_string(s, c):
    return " ".join(s.split(c))


def string_concatenate(s, t):
    return s + t


def count_substring(s, c):
    return _say(s.count(c))


def find_string(s, c):
    i = s.find(c)
    return "none" if i < 0 else _say(i)


def remove_substring(s, c):
    return s.replace(c, "")


def replace_substring(s, old_new):
    return s.replace(old_new[0], old_new[1])


def duplicate_first_letter(s):
    return s + s[0]


def duplicate_last_letter(s):
    return s + s[-1]


def duplicate_mid_letter(s):
    return s + s[len(s) // 2]


def swap_first_last(s):
    return s if len(s) < 2 else s[-1] + s[1:-1] + s[0]


def swap_rand(s, ij):
    i, j = ij
    if len(s) - 1 < i or len(s) - 1 < j:
        return s
    chars = list(s)
    chars[i], chars[j] = s[j], s[i]
    return "".join(chars)


def map_string(s, image):
    return "".join(image[ord(c.lower()) - 97] if "a" <= c.lower() <= "z" and len(c.lower()) == 1 else c for c in s)


def _ordinality(c):
    c = c.lower()
    return "zero" if not c.isalpha() else _say("abcdefghijklmnopqrstuvwxyz".index(c) + 1, 26)


def get_first_character_ordinality(s):
    return _ordinality(s[0])


def get_last_character_ordinality(s):
    return _ordinality(s[-1])


def get_mid_character_ordinality(s):
    return _ordinality(s[len(s) // 2])


def _end_shift(s, first, k, wrap_from, wrap_to):
    c = (s[0] if first else s[-1]) if s else ""
    if not c or not c.isalpha():
        return s
    new = wrap_to[wrap_from.index(c)] if c in wrap_from else chr(ord(c) + k)
    return new + s[1:] if first else s[:-1] + new


def shift_last_letter_rand(s, k):
    return _end_shift(s, False, k, "zZ", "aA")


def shift_first_letter_rand(s, k):
    return _end_shift(s, True, k, "zZ", "aA")


def shift_last_letter_predecessor_rand(s, k):
    return _end_shift(s, False, -k, "aA", "zZ")


def shift_first_letter_predecessor_rand(s, k):
    return _end_shift(s, True, -k, "aA", "zZ")


@dataclass(frozen=True)
class FindPrimitive:
    """One of FIND's primitives: function, the values search enumerates, a parameter draw, a description.

    `params` is () for a primitive without a parameter and None where the
    range is too large to enumerate (a 1-5 letter suffix, a letter permutation):
    those are learned from the probes instead. `random` marks a primitive that
    draws a fresh index on every call.
    """

    name: str
    fn: Callable
    params: tuple | None
    text: str | Callable
    draw: Callable | None = None
    random: bool = False

    def describe(self, p=None) -> str:
        return self.text(p) if callable(self.text) else self.text.format(p=p)

    def call(self, s: str, p=None):
        return self.fn(s) if p is None else self.fn(s, p)


def _letter(rng):
    return rng.choice(LETTERS)


def _digit(rng):
    return rng.randint(1, 9)


def _pair(rng):
    while True:
        i, j = rng.randint(0, 9), rng.randint(0, 9)
        if i != j:
            return [i, j]


def _two_letters(rng):
    while True:
        a, b = rng.choice(LETTERS), rng.choice(LETTERS)
        if a != b:
            return [a, b]


def _suffix(rng):
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(1, 5)))


def _permutation(rng):
    image = list(_string.ascii_lowercase)
    rng.shuffle(image)
    return "".join(image)


def _describe_map(image) -> str:
    return "maps letters, lower-cased, by the table " + " ".join(
        f"{a}->{b}" for a, b in zip(_string.ascii_lowercase, image) if a != b
    )


_DIGITS, _LETTER_VALUES, _SHIFTS = tuple(range(1, 10)), tuple(LETTERS), tuple(range(26))
_PAIRS = tuple((i, j) for i in range(10) for j in range(10) if i != j)
_LETTER_PAIRS = tuple((a, b) for a in LETTERS for b in LETTERS if a != b)
_N = "in English words ('zero'..'thirty')"
# name, enumerated params, draw, description
_SPECS = [
    ("get_string_length", (), None, f"writes the string's length {_N}, 'unknown' above thirty"),
    ("get_digit_indexes", (), None, f"names {_N} the first index of the last character when it is a digit, else ''"),
    ("get_alpha_indexes", (), None, f"lists {_N} the first index of each letter's character"),
    ("convert_to_lowercase", (), None, "converts the string to lower case"),
    ("convert_to_uppercase", (), None, "converts the string to upper case"),
    ("capitalize_string", (), None, "capitalizes the first character and lower-cases the rest"),
    ("reverse_string", (), None, "reverses the string"),
    ("reverse_string_first_half", (), None, "reverses the first half of the string (the shorter half)"),
    ("reverse_string_last_half", (), None, "reverses the second half of the string (the longer half)"),
    ("extract_digits", (), None, "writes out each digit as an English word, separated by spaces"),
    ("remove_digits", (), None, "removes the digits"),
    ("extract_uppers", (), None, "keeps only the upper-case letters"),
    ("remove_whitespace", (), None, "removes all whitespace"),
    ("get_first_character", (), None, "returns the first character (fails on the empty string)"),
    ("get_last_character", (), None, "returns the last character (fails on the empty string)"),
    ("get_mid_character", (), None, "returns the middle character, the middle two of an even-length string"),
    ("remove_duplicates", (), None, "removes repeated characters, keeping the first occurrence of each"),
    ("reverse_words", (), None, "reverses the letters of each word and joins the words with single spaces"),
    ("count_vowels", (), None, f"counts the vowels {_N}"),
    ("replace_vowels_with_character", _LETTER_VALUES, _letter, "replaces every vowel with '{p}'"),
    ("replace_vowels_with_first", (), None, "replaces every vowel with the first character"),
    ("replace_vowels_with_last", (), None, "replaces every vowel with the last character"),
    ("replace_vowels_with_mid", (), None, "replaces every vowel with the middle character (strings of 2 or more)"),
    ("replace_vowels_with_ind_of_count", (), None, "replaces every vowel with the character at index (vowels - 1)"),
    ("reverse_vowels", (), None, "reverses the order of the vowels, leaving other characters in place"),
    ("capitalize_alternating_letters", (), None, "upper-cases even positions and lower-cases odd positions"),
    ("count_consonants", (), None, f"counts the consonants (and lower-case 'a') {_N}"),
    ("count_uppercase", (), None, f"counts the upper-case letters {_N}"),
    ("count_lowercase", (), None, f"counts the lower-case letters {_N}"),
    ("count_character_repetitions", _LETTER_VALUES, _letter, f"counts the occurrences of '{{p}}' {_N}"),
    ("string_strip", (), None, "strips whitespace from both ends"),
    ("string_lstrip", (), None, "strips whitespace from the start"),
    ("string_rstrip", (), None, "strips whitespace from the end"),
    ("add_number_to_string", _DIGITS, _digit, "shifts every letter {p} places forward in the alphabet"),
    ("advance_by_character_order", _DIGITS, _digit, "lower-cases the letters and shifts them forward by the "
     "alphabet index of the character at position {p} (unchanged if shorter)"),
    ("substract_by_character_order", _DIGITS, _digit, "lower-cases the letters and shifts them back by the "
     "alphabet index of the character at position {p} (unchanged if shorter)"),
    ("add_len_to_string", (), None, "shifts every letter forward by the string's length"),
    ("add_number_to_middle", _DIGITS, _digit, "shifts the middle letter of an odd-length string {p} places forward"),
    ("add_len_to_middle", (), None, "shifts the middle letter of an odd-length string forward by the length"),
    ("add_order_to_inx", (), None, "shifts the letter at a random index i forward by i places", True),
    ("add_order_of_inx1_to_inx2", _PAIRS, _pair, "shifts the letter at index {p[1]} forward by {p[0]} places"),
    ("sub_order_to_inx", (), None, "shifts the letter at a random index i back by i places", True),
    ("sub_order_of_inx1_to_inx2", _PAIRS, _pair, "shifts the letter at index {p[1]} forward by {p[0]} places"),
    ("subtract_number_to_string", _DIGITS, _digit, "lowers every character's code point by {p}"),
    ("subtract_middle_character", _DIGITS, _digit, "shifts the middle letter of an odd-length string {p} places back"),
    ("insert_number", _DIGITS, _digit, "inserts the digit {p} in the middle"),
    ("add_letter_if_needed", _LETTER_VALUES, _letter, "appends '{p}' unless the string already ends with it"),
    ("insert_letter", _LETTER_VALUES, _letter, "inserts '{p}' in the middle"),
    ("split_string", _LETTER_VALUES, _letter, "replaces every '{p}' with a space"),
    ("string_concatenate", None, _suffix, "appends '{p}' to the end"),
    ("count_substring", _LETTER_VALUES, _letter, f"counts the occurrences of '{{p}}' {_N}"),
    ("find_string", _LETTER_VALUES, _letter, f"names the first index of '{{p}}' {_N}, 'none' when absent"),
    ("remove_substring", _LETTER_VALUES, _letter, "removes every '{p}'"),
    ("duplicate_first_letter", (), None, "appends a copy of the first character"),
    ("duplicate_last_letter", (), None, "appends a copy of the last character"),
    ("duplicate_mid_letter", (), None, "appends a copy of the character at index length // 2"),
    ("swap_first_last", (), None, "swaps the first and the last character"),
    ("swap_rand", _PAIRS, _pair, "swaps the characters at indices {p[0]} and {p[1]}"),
    ("map_string", None, _permutation, _describe_map),
    ("get_first_character_ordinality", (), None, "writes the alphabet position of the first character in words"),
    ("get_last_character_ordinality", (), None, "writes the alphabet position of the last character in words"),
    ("get_mid_character_ordinality", (), None, "writes the alphabet position of the middle character in words"),
    ("replace_substring", _LETTER_PAIRS, _two_letters, "replaces every '{p[0]}' with '{p[1]}'"),
    ("shift_last_letter_rand", _SHIFTS, lambda r: r.randint(0, 25), "raises the last letter's code point by {p}"),
    ("shift_first_letter_rand", _SHIFTS, lambda r: r.randint(0, 25), "raises the first letter's code point by {p}"),
    ("shift_last_letter_predecessor_rand", _SHIFTS, lambda r: r.randint(0, 25),
     "lowers the last letter's code point by {p}"),
    ("shift_first_letter_predecessor_rand", _SHIFTS, lambda r: r.randint(0, 25),
     "lowers the first letter's code point by {p}"),
]
FIND_PRIMITIVES: dict[str, FindPrimitive] = {}
for _spec in _SPECS:
    _name, _params, _draw, _text = _spec[:4]
    FIND_PRIMITIVES["find:" + _name] = FindPrimitive(
        "find:" + _name, globals()[_name], _params, _text, _draw, len(_spec) > 4 and _spec[4]
    )
HELPERS = (_say, _shift_any, _by_order, _at, _middle, _ordinality, _end_shift)


def random_support(name: str, s: str, p=None) -> list[str]:
    """Every output a random-index primitive can give on `s` (one per index it may draw).

    >>> random_support("find:add_order_to_inx", "abc")
    ['abc', 'acc', 'abe']
    """
    fn = FIND_PRIMITIVES[name].fn
    if not s:
        raise ValueError("empty range for randrange()")  # what the primitive itself raises on ''
    return [fn(s, i) for i in range(len(s))]
