"""describe on FIND's string space: its primitives behave as FIND's generated code, its composition
rule holds, the baseline solves its chains and random-index functions, and FIND's scoring protocol
is reported beside ours."""

import random

import numpy as np
import pytest

from mechscope.describe import find_strings as fs
from mechscope.describe.findgen import INNER, OUTER, avoided, is_random, sample_find_program
from mechscope.describe.interp_strings import interpret_strings
from mechscope.describe.interpretation import RAISED, compile_code, observe
from mechscope.describe.scoring import TEST_X, score_code
from mechscope.describe.stringgen import test_strings as draw_strings
from mechscope.describe.strings_lib import program_source, run_program


def test_find_primitives_keep_the_edges_of_finds_code():
    assert observe(fs.get_first_character, "") is RAISED and observe(fs.duplicate_first_letter, "") is RAISED
    assert fs.count_consonants("a") == "one" and fs.count_consonants("e") == "zero"  # FIND's list has 'a'
    assert fs.get_digit_indexes("a1b2") == "three" and fs.get_digit_indexes("12a") == ""  # only the last char
    assert fs.subtract_number_to_string("a! ", 1) == "` \x1f"  # every code point
    assert fs.sub_order_of_inx1_to_inx2("abcd", [2, 1]) == fs.add_order_of_inx1_to_inx2("abcd", [2, 1]) == "adcd"
    assert fs.get_string_length("x" * 31) == "unknown" and observe(fs.count_vowels, "a" * 31) is RAISED
    assert fs.find_string("hello", "l") == "two" and fs.find_string("hello", "z") == "none"
    assert fs.get_mid_character("abcd") == "bc" and fs.get_mid_character("abc") == "b"
    assert fs.shift_last_letter_rand("abz", 3) == "aba" and fs.shift_last_letter_rand("abc", 3) == "abf"
    assert fs.map_string("Ab!", "bcdefghijklmnopqrstuvwxyza") == "bc!"  # lower-cases what it maps
    assert sorted(fs.random_support("find:sub_order_to_inx", "bcd")) == ["bbd", "bcb", "bcd"]


def test_find_generator_follows_finds_rule_and_ranges():
    rng = random.Random(0)
    programs = [sample_find_program(rng) for _ in range(3000)]
    singles = sum(len(p) == 1 for p in programs) / len(programs)
    assert 0.27 < singles < 0.33  # FIND's ratio
    chains = [p for p in programs if len(p) == 2]
    assert not [p for p in chains if avoided(p[1][0][5:], p[0][0][5:])]
    assert not {p[0][0][5:] for p in chains} - set(INNER) and "find:map_string" not in {p[0][0] for p in chains}
    assert {p[-1][0][5:] for p in programs} == set(OUTER)  # every primitive is drawn
    for name, p in (step for prog in programs for step in prog):
        short = name[5:]
        if short in ("add_number_to_string", "insert_number", "advance_by_character_order"):
            assert 1 <= p <= 9
        elif short == "string_concatenate":
            assert 1 <= len(p) <= 5 and p.isalpha()
        elif short in ("swap_rand", "add_order_of_inx1_to_inx2"):
            assert p[0] != p[1] and 0 <= min(p) and max(p) <= 9
        elif short.startswith("shift_"):
            assert 0 <= p <= 25
    assert 0.01 < sum(map(is_random, programs)) / len(programs) < 0.1


def _exact(program, ans, tests):
    g = compile_code(ans.code)
    f = lambda s: run_program(program, s)  # noqa: E731
    return sum(observe(f, s) == observe(g, s) for s in tests) / len(tests)


@pytest.mark.parametrize(
    "program",
    [
        [["find:count_substring", "L"], ["find:swap_rand", [4, 7]]],
        [["find:string_concatenate", "jqQ"], ["find:reverse_string", None]],  # learned inner
        [["find:reverse_words", None], ["find:map_string", "mulqawkgnibzrtsfcpjvhodeyx"]],  # learned outer
        [["find:convert_to_uppercase", None], ["find:replace_substring", ["P", "f"]]],
        [["find:get_first_character_ordinality", None], ["find:shift_first_letter_predecessor_rand", 23]],
        [["find:duplicate_mid_letter", None], ["find:insert_letter", "W"]],
        [["keep_uppercase", None], ["duplicate_first", None]],  # the inverse maps '' to ''
    ],
)
def test_baseline_solves_find_chains(program):
    ans = interpret_strings(lambda s: run_program(program, s))
    assert ans.evidence["consistent"] and _exact(program, ans, draw_strings(random.Random(1), 30)) == 1.0


def test_baseline_solves_most_sampled_find_functions():
    rng = random.Random(7)
    programs = [p for p in (sample_find_program(rng) for _ in range(24)) if not is_random(p)][:20]
    scores = [_exact(p, interpret_strings(lambda s, p=p: run_program(p, s)), draw_strings(rng, 10)) for p in programs]
    assert np.mean(scores) >= 0.9, scores


def test_random_index_functions_are_found_and_scored_by_distribution():
    program = [["find:reverse_string", None], ["find:add_order_to_inx", None]]
    ans = interpret_strings(lambda s: run_program(program, s))
    assert ans.evidence["random"] and ans.evidence["program"][1] == program[1]  # after reverse, ours or FIND's
    inputs = ["Hello World", "banana", "Quick brown Fox"]
    item = {"domain": "strings", "random": True, "test_inputs": inputs}
    ref = lambda s: run_program(program, s)  # noqa: E731
    item["one_call"] = [ref(s) for s in inputs]
    good = score_code(item, ans.code, ref)
    bad = score_code(item, program_source(program[:1]), ref)  # the deterministic half alone
    assert good["score"] == 1.0 and bad["score"] == 0.0
    assert good["find_score"] < 1.0  # one recorded call: a right random answer rarely draws the same index


@pytest.mark.parametrize("perm", ["mulqawkgnibzrtsfcpjvhodeyx", "bcdefghijklmnopqrstuvwxyza"])
def test_a_random_step_then_a_learned_character_map_is_found_and_scored_by_distribution(perm):
    program = [["find:sub_order_to_inx", None], ["find:map_string", perm]]  # map_string's table is learned
    ref = lambda s: run_program(program, s)  # noqa: E731
    ans = interpret_strings(ref)
    assert ans.evidence["random"] and ans.evidence["program"] == [program[0]] and ans.evidence["learned"] == "charmap"
    assert ans.description.startswith(fs.FIND_PRIMITIVES["find:sub_order_to_inx"].describe(None) + ", then ")
    inputs = ["Hello World", "banana", "Quick brown Fox", "zebra 42"]
    item = {"domain": "strings", "random": True, "test_inputs": inputs, "one_call": [ref(s) for s in inputs]}
    assert score_code(item, ans.code, ref)["score"] == 1.0
    other = [program[0], ["find:map_string", perm[1:] + perm[0]]]  # another table: every input mismatches
    assert score_code(item, ans.code, lambda s: run_program(other, s))["score"] == 0.0


def test_char_map_after_a_random_step_is_refused_when_no_map_explains_the_outputs():
    from mechscope.describe.strings_learned import learn_char_map_after

    m = learn_char_map_after([{"ab", "bb"}, {"aa"}], [{"XY", "YY"}, {"XX"}])
    assert m is not None and m["table"] == {"a": "X", "b": "Y"}
    assert learn_char_map_after([{"ab"}, {"aa"}], [{"XY"}, {"YY"}]) is None  # 'a' cannot map to both X and Y
    assert learn_char_map_after([{"ab"}], [{"XYZ"}]) is None  # no middle of the output's length


def test_find_protocol_scores_against_the_recorded_call():
    ref = lambda x: 2.0 * np.asarray(x)  # noqa: E731
    item = {"domain": "numeric", "one_call": [float(y) for y in 2.0 * TEST_X + 100.0]}  # noisy, say
    rec = score_code(item, "def f(x):\n    return 2.0 * x\n", ref)
    assert rec["score"] == 1.0 and rec["find_score"] == 0.0
    s_item = {"domain": "strings", "test_inputs": ["ab", ""], "one_call": ["ba", "<raises>"]}
    rec = score_code(s_item, "def f(s):\n    return s[-1] and s[::-1]\n", lambda s: s[::-1])
    assert rec["score"] == 0.5 and rec["find_score"] == 1.0  # '' raises in the code; FIND recorded a raise

