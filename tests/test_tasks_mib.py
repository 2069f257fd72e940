"""MIB-form tasks and code key retrieval: the answers are right, the counterfactuals are what MIB uses."""

import pytest

from mechscope.errors import MechscopeError
from mechscope.models.loading import smollm2_tokenizer
from mechscope.tasks import load_task
from mechscope.tasks.builtin_mib import MIB_TASKS, arithmetic, code_retrieval, ioi_mib, mcqa


@pytest.fixture(scope="module")
def tok():
    return smollm2_tokenizer()


@pytest.mark.parametrize("name", sorted(MIB_TASKS))
def test_generators_are_deterministic_and_encode_for_smollm2(name, tok):
    make = MIB_TASKS[name]
    assert make(n=40, seed=3).examples == make(n=40, seed=3).examples
    assert make(n=40, seed=3).examples[:20] == make(n=20, seed=3).examples
    enc = make(n=40).encode(tok)  # equal token lengths, single-token answers
    assert enc.clean_ids.shape == enc.corrupt_ids.shape and bool((enc.answer_ids >= 0).all())
    assert bool((enc.answer_ids != enc.wrong_ids).all())


def test_ioi_mib_flips_the_second_subject_to_the_indirect_object():
    for ex in ioi_mib(n=30).examples:
        io, s = ex.answers[0].strip(), ex.wrong_answers[0].strip()
        c, k = ex.clean.split(), ex.corrupt.split()
        diff = [i for i, (a, b) in enumerate(zip(c, k)) if a != b]
        assert len(diff) == 1 and c[diff[0]].strip(",.") == s and k[diff[0]].strip(",.") == io
    assert load_task("ioi-mib", n=5).source == "builtin:ioi-mib"


def test_mcqa_letters_point_at_the_stated_colour():
    for ex in mcqa(n=30).examples:
        colour = ex.clean.split(" is ")[1].split(".")[0]
        for prompt, letter in ((ex.clean, ex.answers[0].strip()), (ex.corrupt, ex.wrong_answers[0].strip())):
            assert f"\n{letter}. {colour}\n" in prompt
        # the same four colours, in another order
        assert sorted(x[3:] for x in ex.clean.splitlines()[1:5]) == sorted(x[3:] for x in ex.corrupt.splitlines()[1:5])


@pytest.mark.parametrize("op", ["+", "-"])
def test_arithmetic_answers_are_the_first_digit_of_the_result(op):
    for ex in arithmetic(n=50, op=op).examples:
        for prompt, digit in ((ex.clean, ex.answers[0]), (ex.corrupt, ex.wrong_answers[0])):
            assert str(eval(prompt[:-1]))[0] == digit  # noqa: S307 (our own "23+45")
        assert ex.answers[0] != ex.wrong_answers[0]


@pytest.mark.parametrize("depth,order", [(1, "before"), (2, "before"), (2, "after"), (3, "after")])
def test_code_retrieval_answer_is_what_python_prints(depth, order):
    for ex in code_retrieval(n=20, depth=depth, order=order).examples:
        for prompt, value in ((ex.clean, ex.answers[0]), (ex.corrupt, ex.wrong_answers[0])):
            program, call = prompt.rsplit(">>> ", 1)
            scope: dict = {}
            exec(program, scope)  # noqa: S102 (the task's own function definitions)
            assert str(eval(call.strip(), scope)) == value  # noqa: S307
        names = [line.split()[1][:-3] for line in ex.clean.splitlines() if line.startswith("def ")]
        first = ex.clean.rsplit(">>> ", 1)[1].strip()[:-2]
        callee = next(line.split()[1][:-2] for line in ex.clean.splitlines() if "return f" in line) if depth > 1 else None
        if callee:  # the callee of a caller is defined before (or after) it
            caller = next(line.split()[1][:-3] for line in ex.clean.splitlines()
                          if line.startswith("def ") and f"return {callee}()" in ex.clean.split(line)[1].split("\n")[1])
            assert (names.index(callee) < names.index(caller)) == (order == "before")
        assert first in names


@pytest.mark.parametrize("form,query", [("assert", "assert {}() == "), ("comment", "# {}() returns ")])
def test_code_retrieval_forms_ask_for_the_same_value(form, query):
    session = code_retrieval(n=20, depth=2, order="after").examples
    for ex, base in zip(code_retrieval(n=20, depth=2, order="after", form=form).examples, session):
        program, call = base.clean.rsplit(">>> ", 1)
        assert ex.clean == program + query.format(call.strip()[:-2])  # same program, same function asked for
        assert (ex.answers, ex.wrong_answers) == (base.answers, base.wrong_answers)
    with pytest.raises(MechscopeError, match="form"):
        code_retrieval(n=1, form="repl")
