"""Tasks: metrics against hand computation, splits, file formats, bad input, built-ins on SmolLM2."""

from __future__ import annotations

import json
import math

import pytest
import torch

from mechscope.errors import MechscopeError
from mechscope.models import load
from mechscope.models.loading import smollm2_tokenizer
from mechscope.tasks import BUILTIN_TASKS, EncodedTask, Example, Task, evaluate, load_task, metric_values, save_task
from mechscope.tasks.base import correct


@pytest.fixture(scope="module")
def tok():
    return smollm2_tokenizer()


def _enc(answer_ids, wrong_ids, metric="logit_diff") -> EncodedTask:
    n = len(answer_ids)
    z = torch.zeros(n, 1, dtype=torch.long)
    return EncodedTask(z, z, z + 1, torch.zeros(n, dtype=torch.long), torch.tensor(answer_ids),
                       torch.tensor(wrong_ids), metric)


# --- metrics ---------------------------------------------------------------------------------------

def test_metric_values_match_hand_computation():
    torch.manual_seed(0)
    logits, clean = torch.randn(3, 7), torch.randn(3, 7)
    # ragged answers, -1 padded: example 0 has 2 answers / 1 wrong, example 1 has 1 / 2, example 2 has 3 / 3
    answers = [[1, 4, -1], [0, -1, -1], [2, 3, 5]]
    wrong = [[6, -1, -1], [2, 3, -1], [0, 1, 6]]
    enc = _enc(answers, wrong)
    expect = {m: [] for m in ("logit_diff", "prob_diff", "logprob", "kl")}
    for i in range(3):
        a = [j for j in answers[i] if j >= 0]
        w = [j for j in wrong[i] if j >= 0]
        z = [math.exp(v) for v in logits[i].tolist()]
        p = [v / sum(z) for v in z]
        zc = [math.exp(v) for v in clean[i].tolist()]
        pc = [v / sum(zc) for v in zc]
        expect["logit_diff"].append(sum(logits[i, j].item() for j in a) / len(a)
                                    - sum(logits[i, j].item() for j in w) / len(w))
        expect["prob_diff"].append(sum(p[j] for j in a) - sum(p[j] for j in w))
        expect["logprob"].append(sum(math.log(p[j]) for j in a) / len(a))
        expect["kl"].append(sum(pc[j] * (math.log(pc[j]) - math.log(p[j])) for j in range(7)))
    for metric, values in expect.items():
        got = metric_values(logits, enc, clean_logits=clean, metric=metric)
        assert got.shape == (3,)
        assert torch.allclose(got, torch.tensor(values), atol=1e-5), metric
    # the encoded task's own metric is the default; KL of a distribution with itself is 0
    assert torch.allclose(metric_values(logits, enc), torch.tensor(expect["logit_diff"]), atol=1e-5)
    assert torch.allclose(metric_values(clean, enc, clean_logits=clean, metric="kl"), torch.zeros(3), atol=1e-6)


def test_metric_values_are_differentiable():
    logits = torch.randn(2, 5, requires_grad=True)
    metric_values(logits, _enc([[1], [2]], [[0], [3]])).sum().backward()
    assert logits.grad[0, 1] == 1 and logits.grad[0, 0] == -1


def test_accuracy_flags():
    logits = torch.tensor([[0.0, 3.0, 2.0, 1.0],    # answers 1, 2 beat wrong 3; argmax 1 is an answer
                           [0.0, 3.0, 1.0, 2.0],    # answer 2 loses to wrong 3
                           [5.0, 3.0, 2.0, 1.0]])   # answers beat wrong, but argmax 0 is not an answer
    enc = _enc([[1, 2], [1, 2], [1, 2]], [[3], [3], [3]])
    pairwise, top1 = correct(logits, enc)
    assert pairwise.tolist() == [True, False, True]
    assert top1.tolist() == [True, True, False]
    # no wrong answers: pairwise falls back to top1
    assert correct(logits, _enc([[1], [1], [1]], [[-1], [-1], [-1]]))[0].tolist() == [True, True, False]


@pytest.mark.parametrize("call, message", [
    (lambda: metric_values(torch.zeros(1, 3), _enc([[0]], [[1]]), metric="logit_dif"),
     "unknown metric 'logit_dif'; did you mean 'logit_diff'"),
    (lambda: metric_values(torch.zeros(1, 3), _enc([[0]], [[1]]), metric="kl"), "metric 'kl' needs clean_logits"),
    (lambda: metric_values(torch.zeros(1, 3), _enc([[0]], [[-1]])), "example 0 has none"),
    (lambda: Task("t", (Example("a", "b", " x", " y"),), metric="acc"), "unknown metric 'acc'"),
    (lambda: Task("t", (Example("a", "b", " x"),)), "example 0 has no wrong answers"),
    (lambda: load_task("ioi", n=2, metric="probdiff"), "did you mean 'prob_diff'"),
])
def test_bad_metric(call, message):
    with pytest.raises(MechscopeError, match=message.replace("(", r"\(")):
        call()


# --- split, hash, dict ----------------------------------------------------------------------------

def test_split_is_disjoint_and_seeded():
    task = load_task("ioi", n=41)
    train, test = task.split("train"), task.split("test")
    assert (len(train), len(test)) == (21, 20)  # round(41 * 0.5) = 20 test examples
    assert set(train.examples).isdisjoint(test.examples)
    assert set(train.examples) | set(test.examples) == set(task.examples)
    assert train.part == "train" and task.split("all") is task
    assert [e.clean for e in load_task("ioi", n=41).split("test").examples] == [e.clean for e in test.examples]
    other = load_task("ioi", n=41, seed=1)
    assert other.examples != task.examples  # the seed changes the examples ...
    reseeded = Task(task.name, task.examples, seed=1).split("test")  # ... and, alone, the split
    assert set(reseeded.examples) != set(test.examples)
    quarter = Task(task.name, task.examples, test_fraction=0.25)
    assert len(quarter.split("test")) == 10
    with pytest.raises(MechscopeError, match="already the 'train' part"):
        train.split("test")
    with pytest.raises(MechscopeError, match="unknown split 'tests'; did you mean 'test'"):
        task.split("tests")


def test_builtins_are_deterministic_and_prefix_stable():
    for name, make in BUILTIN_TASKS.items():
        assert make(n=30, seed=2).examples == make(n=30, seed=2).examples, name
        assert make(n=60, seed=2).examples[:30] == make(n=30, seed=2).examples, name
        assert len(make()) >= 100 and len(make(n=250)) == 250, name


def test_hash_and_dict_round_trip():
    task = load_task("greater-than", n=8)
    assert task.hash() == load_task("greater-than", n=8).hash() and len(task.hash()) == 12
    assert task.hash() != Task(task.name, task.examples, metric="logprob").hash()
    back = Task.from_dict(json.loads(json.dumps(task.to_dict())))
    assert back.examples == task.examples and back.metric == task.metric and back.hash() == task.hash()


# --- encoding --------------------------------------------------------------------------------------

def test_encode_aligns_clean_and_corrupt(tok):
    for name in BUILTIN_TASKS:  # every built-in encodes for SmolLM2: single-token answers, equal lengths
        task = load_task(name, n=200)
        enc = task.encode(tok)
        assert enc.clean_ids.shape == enc.corrupt_ids.shape == enc.attention_mask.shape
        assert (enc.answer_ids[:, 0] >= 0).all() and len(enc) == 200
        for i in range(0, 200, 7):  # the last real token is where the prompt ends, for clean and corrupt alike
            p = int(enc.positions[i])
            assert tok.decode(enc.clean_ids[i, : p + 1]) == task.examples[i].clean
            assert tok.decode(enc.corrupt_ids[i, : p + 1]) == task.examples[i].corrupt
    task = load_task("ioi", n=12)
    enc = task.encode(tok)
    lengths = enc.attention_mask.sum(1)
    assert enc.positions.tolist() == (lengths - 1).tolist()
    assert lengths.unique().numel() > 1  # templates differ in length, so there is padding to get right
    for i, ex in enumerate(task.examples):
        p = int(enc.positions[i])
        assert tok.decode(enc.clean_ids[i, p]) == " to" and ex.clean.endswith(" to")  # every IOI prompt ends "to"
        assert ex.corrupt.endswith(tok.decode(enc.corrupt_ids[i, p]))
        assert tok.decode(enc.clean_ids[i, : p + 1]) == ex.clean
        assert (enc.clean_ids[i, p + 1:] == tok.pad_token_id).all() and enc.attention_mask[i, p + 1:].sum() == 0
        assert tok.decode(enc.answer_ids[i, :1]) == ex.answers[0]
        assert tok.decode(enc.wrong_ids[i, :1]) == ex.wrong_answers[0]
    batches = list(enc.batches(5))
    assert [len(b) for b in batches] == [5, 5, 2]
    for b in batches:
        assert b.clean_ids.shape[1] == int(b.positions.max()) + 1
    gt = load_task("greater-than", n=4).encode(tok)
    assert gt.answer_ids.shape[1] == max(len(e.answers) for e in load_task("greater-than", n=4).examples)
    assert (gt.answer_ids == -1).any()  # ragged answer lists are -1 padded


@pytest.mark.parametrize("example, message", [
    (Example("When Mary met", "When Anna met", " Alexandrina", " Anna"),
     r"task 't' example 1: answer ' Alexandrina' is 2 tokens \[' Alexand', 'rina'\] for this tokenizer; "
     r"answers must be single tokens"),
    (Example("When Mary met", "When Anna met", " Mary", " Zyxwvut"),
     r"task 't' example 1: wrong answer ' Zyxwvut' is \d tokens"),
    (Example("When Mary met", "When Alexandrina met", " Mary", " Anna"),
     r"task 't' example 1: clean prompt is 3 tokens but corrupt prompt is 4 tokens .* same token length"),
])
def test_encode_rejects_bad_examples(tok, example, message):
    ok = Example("When John met", "When Anna met", " Mary", " John")
    with pytest.raises(MechscopeError, match=message):
        Task("t", (ok, example)).encode(tok)


# --- files -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("ext", [".json", ".csv", ".jsonl"])
@pytest.mark.parametrize("name", ["ioi", "greater-than"])
def test_files_round_trip(tmp_path, ext, name):
    task = load_task(name, n=12)
    tricky = Example('He said, "hi",\nthen left\u2028', 'She said, "yo",\nthen left\u2028', ("[x]",), (" a", " b"))
    task = Task(name, task.examples + (tricky,), task.metric)  # quotes, commas, line breaks, a bracket answer
    path = save_task(task, tmp_path / f"{name}{ext}")
    back = load_task(path)
    assert back.examples == task.examples and back.metric == task.metric and back.hash() == task.hash()
    assert back.name == name and back.source == str(path)
    assert load_task(str(path), n=5).examples == task.examples[:5]


def test_reads_files_written_by_other_tools(tmp_path):
    autocircuit = {"prompts": [{"clean": "The war lasted from 1732 to 17", "corrupt": "The war lasted from 1701 to 17",
                                "answers": ["4", "5"], "word_idxs": {}}]}
    (tmp_path / "gt.json").write_text(json.dumps(autocircuit))
    task = load_task(tmp_path / "gt.json")
    assert task.examples[0].answers == ("4", "5") and task.examples[0].wrong_answers == ()
    assert task.metric == "logprob"  # no wrong answers: a difference metric is impossible
    (tmp_path / "ioi.csv").write_text(
        ',clean,corrupted,corrupted_hard,label,corrupted_label\n'
        '470,"Then, Aaron and Amber left. Aaron gave it to","Then, Aaron and Amber left. Tiffany gave it to",'
        '"x", Amber, Aaron\n'
    )
    ex = load_task(tmp_path / "ioi.csv").examples[0]
    assert ex == Example("Then, Aaron and Amber left. Aaron gave it to", "Then, Aaron and Amber left. Tiffany gave it to",
                         (" Amber",), (" Aaron",))
    (tmp_path / "plain.jsonl").write_text('{"clean": "a b", "corrupted": "c b", "answer": " a"}\n\n'
                                          '{"clean": "d e", "corrupt": "f e", "answers": " d", "wrong_answers": " f"}\n')
    task = load_task(tmp_path / "plain.jsonl", metric="kl")
    assert [e.answers for e in task.examples] == [(" a",), (" d",)] and task.metric == "kl"


@pytest.mark.parametrize("filename, text, message", [
    ("empty.json", "", r"task file '.*empty.json' is empty"),
    ("empty.jsonl", "\n  \n", r"task file '.*empty.jsonl' is empty"),
    ("empty.csv", "", r"task file '.*empty.csv' is empty"),
    ("header.csv", "clean,corrupted,label\n", r"has no examples"),
    ("none.json", '{"prompts": []}', r"has no examples"),
    ("bad.json", '{"prompts": [\n{"clean": "a",,}]}', r"'.*bad.json' is not valid JSON at line 2 column"),
    ("bad.jsonl", '{"clean": "a", "corrupt": "b", "answers": " a"}\n{"clean": ', r"bad.jsonl' is not valid JSON at line 2"),
    ("keys.jsonl", '{"clean": "a", "answers": " a"}\n', r"keys.jsonl' line 1: missing key 'corrupt'"),
    ("top.json", '{"examples": []}', r"expected \{\"prompts\": \[...\]\}"),
    ("type.json", '{"prompts": [{"clean": "a", "corrupt": "b", "answers": [1]}]}',
     r"prompt 0: 'answers' must be a string or a list of strings"),
    ("cols.csv", "clean,label\na,b\n", r"cols.csv' line 1: header \['clean', 'label'\] needs columns clean, corrupted"),
    ("ids.csv", "clean,corrupted,correct_idx,incorrect_idx\na,b,1,2\n", r"correct_idx/incorrect_idx are token ids"),
    ("extra.csv", 'clean,corrupted,label\na,b, x\n"c,d",e, y, z\n', r"extra.csv' line 3: more fields than the header"),
    ("short.csv", 'clean,corrupted,label\na,b, x\nc,d\n', r"short.csv' line 3: fewer fields"),
    ("nolabel.csv", 'clean,corrupted,label\na,b,\n', r"nolabel.csv' line 2: 'label' is missing or empty"),
    ("quote.csv", 'clean,corrupted,label\n"a,b, x\n', r"quote.csv' line \d+: (malformed CSV|fewer fields)"),
    ("mixed.jsonl", '{"clean": "a", "corrupt": "b", "answers": " a", "metric": "kl"}\n'
                    '{"clean": "a", "corrupt": "b", "answers": " a", "metric": "logprob"}\n', r"mixes metrics"),
    ("task.txt", "hello", r"unknown extension '.txt'; use .json \(AutoCircuit\), .csv \(EAP-IG\) or .jsonl"),
])
def test_bad_files(tmp_path, filename, text, message):
    path = tmp_path / filename
    path.write_text(text)
    with pytest.raises(MechscopeError, match=message) as info:
        load_task(path)
    assert "\n" not in str(info.value)


def test_unknown_task_names(tmp_path):
    with pytest.raises(MechscopeError, match=r"unknown task 'iio'; did you mean 'ioi'\?; built-ins are ioi, induction"):
        load_task("iio")
    with pytest.raises(MechscopeError, match=r"task file '.*missing.csv' not found"):
        load_task(str(tmp_path / "missing.csv"))
    path = save_task(load_task("ioi", n=4), tmp_path / "four.jsonl")
    with pytest.raises(MechscopeError, match=r"has 4 examples, asked for n=9"):
        load_task(path, n=9)
    with pytest.raises(MechscopeError, match="task size n must be at least 1"):
        load_task("ioi", n=0)


# --- models ----------------------------------------------------------------------------------------

def test_evaluate_on_tiny_model():
    model = load("random:llama-tiny")
    task = load_task("ioi", n=10)
    result = evaluate(model, task, batch_size=4)
    assert set(result) == {"n", "accuracy", "top1_accuracy", "clean_metric", "corrupt_metric", "metric"}
    assert result["n"] == 10 and 0 <= result["accuracy"] <= 1 and result["metric"] == "logit_diff"
    # evaluate's clean metric is metric_values on a plain HF forward, read at the last real token
    enc = task.encode(model.tokenizer)
    with torch.no_grad():
        full = model.hf(input_ids=enc.clean_ids, attention_mask=enc.attention_mask).logits
    at_last = full[torch.arange(len(enc)), enc.positions]
    assert math.isclose(result["clean_metric"], metric_values(at_last, enc).mean().item(), abs_tol=1e-4)
    kl = evaluate(model, Task(task.name, task.examples, metric="kl"))
    assert kl["clean_metric"] == pytest.approx(0, abs=1e-5) and kl["corrupt_metric"] > 0


# Measured on smollm2-135m with n=16, seed 0 (accuracy, clean - corrupt gap): ioi 0.94, 5.7; induction 0.94, 5.1;
# greater-than 0.94, 1.29; gendered-pronoun 1.0, 8.2 (n=200 in builtin.py). The bounds sit a little below.
_BOUNDS = {  # name: (min accuracy, min clean - corrupt metric gap)
    "ioi": (0.8, 3.0),
    "induction": (0.8, 2.5),
    "greater-than": (0.8, 0.8),
    "gendered-pronoun": (0.9, 5.0),
}


def test_builtins_on_smollm2():
    model = load("smollm2-135m")
    for name, (min_accuracy, min_gap) in _BOUNDS.items():
        result = evaluate(model, load_task(name, n=16), batch_size=16)
        assert result["accuracy"] >= min_accuracy, (name, result)
        assert result["clean_metric"] - result["corrupt_metric"] >= min_gap, (name, result)
