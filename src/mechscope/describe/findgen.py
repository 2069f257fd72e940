"""Drawing string functions the way FIND's generator does.

FIND (Schwettmann et al. 2023) draws a single primitive with probability 0.3
and otherwise a composition ``outer(inner(s))`` of two. The outer primitive
comes from the whole list; the inner from the list without
``get_first_character``, ``get_last_character``, ``get_mid_character`` and
``map_string``, with ``remove_digits`` listed twice. A pair is redrawn when
the inner step would make the outer trivial or redundant (`avoided`): a
primitive never follows itself; case conversions, whitespace strips and vowel
replacements do not follow their own kind; and steps that read characters,
counts or digits (``extract_digits``, the counters, the single-character
getters) do not follow steps whose output is a number word, a case change, a
strip or a random-index edit. Parameters come from FIND's ranges (digits 1-9,
one ASCII letter, index pairs 0-9, shifts 0-25, suffixes of 1-5 letters, a
permutation of the alphabet).
"""

from __future__ import annotations

import random

from mechscope.describe.find_strings import FIND_PRIMITIVES

P_SINGLE = 0.3
OUTER = [n[5:] for n in FIND_PRIMITIVES]
_NOT_INNER = {"get_first_character", "get_last_character", "get_mid_character", "map_string"}
INNER = [n for n in OUTER if n not in _NOT_INNER] + ["remove_digits"]

_WORDY = {  # inner steps after which a character/count/digit reader says nothing new
    "get_string_length", "convert_to_lowercase", "extract_digits", "remove_digits", "get_digit_indexes",
    "get_alpha_indexes", "count_vowels", "replace_vowels_with_ind_of_count", "count_consonants",
    "count_uppercase", "count_lowercase", "string_strip", "string_lstrip", "string_rstrip", "add_order_to_inx",
    "add_order_of_inx1_to_inx2", "sub_order_to_inx", "sub_order_of_inx1_to_inx2", "find_string", "map_string",
    "count_substring", "count_character_repetitions",
}  # fmt: skip
_READERS = {
    "extract_digits", "get_string_length", "get_digit_indexes", "get_alpha_indexes", "get_first_character",
    "get_last_character", "get_mid_character", "count_vowels", "count_consonants", "count_uppercase",
    "count_lowercase", "count_character_repetitions", "count_substring",
}  # fmt: skip
_STRIPS = {"remove_whitespace", "string_strip", "string_lstrip", "string_rstrip"}
_VOWEL_EDITS = {
    "replace_vowels_with_character", "replace_vowels_with_first", "replace_vowels_with_last",
    "replace_vowels_with_mid", "replace_vowels_with_ind_of_count", "reverse_vowels", "count_vowels",
}  # fmt: skip
_SPECIAL = {
    "convert_to_lowercase": {"convert_to_lowercase", "convert_to_uppercase", "extract_uppers", "count_uppercase"},
    "convert_to_uppercase": {"convert_to_uppercase", "convert_to_lowercase", "count_lowercase"},
    "remove_digits": {"remove_digits", "get_digit_indexes", "extract_digits"},
    "extract_uppers": {"extract_uppers", "count_lowercase"},
    "get_first_character": {"split_string", "remove_substring"},
    "get_last_character": {"split_string", "remove_substring"},
    "get_mid_character": {"split_string", "remove_substring"},
    "count_vowels": {"replace_vowels_with_character"},
}


def avoided(outer: str, inner: str) -> bool:
    """Whether FIND's rule rejects ``outer(inner(s))`` (names without the ``find:`` prefix).

    >>> avoided("count_vowels", "get_string_length"), avoided("reverse_string", "count_vowels")
    (True, False)
    """
    if inner == outer or inner in _SPECIAL.get(outer, ()):
        return True
    if outer in _READERS and inner in _WORDY:
        return True
    if outer in _STRIPS and inner in _STRIPS:
        return True
    return outer in _VOWEL_EDITS - {"reverse_vowels", "count_vowels"} and inner in _VOWEL_EDITS


def _step(name: str, rng: random.Random) -> list:
    prim = FIND_PRIMITIVES["find:" + name]
    return ["find:" + name, prim.draw(rng) if prim.draw else None]


def sample_find_program(rng: random.Random, p_single: float = P_SINGLE) -> list:
    """A FIND string function as a program: steps ``[name, param]`` applied first to last.

    >>> sample_find_program(random.Random(0))
    [['find:capitalize_string', None], ['find:duplicate_first_letter', None]]
    """
    if rng.random() < p_single:
        return [_step(rng.choice(OUTER), rng)]
    outer = rng.choice(OUTER)
    while True:
        inner = rng.choice(INNER)
        if not avoided(outer, inner):
            return [_step(inner, rng), _step(outer, rng)]


def is_random(program: list) -> bool:
    """Whether a program draws a random index on each call."""
    return any(FIND_PRIMITIVES[n].random for n, _ in program if n in FIND_PRIMITIVES)
