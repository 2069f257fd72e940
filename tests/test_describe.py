"""describe: the benchmark is reproducible and runnable, scorers separate truth from wrong answers,
and the offline baseline recovers what it should."""

import json
import math
import random
import zlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from mechscope.describe import concepts as cn
from mechscope.describe import numeric as nm
from mechscope.describe._words import CONCEPTS
from mechscope.describe.bench import Benchmark, build_benchmark
from mechscope.describe.interp_concepts import interpret_concept
from mechscope.describe.interp_numeric import classify_noise, interpret_numeric
from mechscope.describe.interp_strings import heldout_primitives, interpret_strings
from mechscope.describe.interpretation import Interpretation
from mechscope.describe.judge import RuleJudge
from mechscope.describe.runner import BaselineInterpreter, run_benchmark
from mechscope.describe.scoring import interval_iou, score_item
from mechscope.describe.find_strings import FIND_PRIMITIVES
from mechscope.describe.strings_lib import PRIMITIVES, caesar, program_source
from mechscope.describe.unittests import TEMPLATES
from mechscope.errors import MechscopeError

torch.set_num_threads(1)
CATEGORIES = {
    "numeric-clean",
    "numeric-noisy",
    "numeric-corrupted",
    "numeric-mlp",
    "strings-single",
    "strings-chain",
    "strings-find-single",
    "strings-find-chain",
    "concepts-single",
    "concepts-pair",
}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return build_benchmark(seed=13, size=8, out=tmp_path_factory.mktemp("describe") / "bench")


def test_benchmark_has_every_category_and_is_reproducible(bench, tmp_path):
    assert {it["category"] for it in bench.items} - {"strings-find-random"} == CATEGORIES
    one, two = build_benchmark(seed=4, size=3, out=tmp_path / "one"), build_benchmark(seed=4, size=3, out=tmp_path / "two")
    assert one.items == two.items and one.items != build_benchmark(seed=5, size=3, out=tmp_path / "three").items
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]  # written atomically


def test_missing_benchmark_is_one_line_error(tmp_path):
    with pytest.raises(MechscopeError, match="mechscope describe build"):
        Benchmark.load(tmp_path / "nothing")


def test_scripts_print_pairs_that_match_the_python_callable(bench):
    num = next(it for it in bench.items if it["category"] == "numeric-clean")
    res = subprocess.run(
        [sys.executable, str(bench.script(num["id"])), "1", "2.5", "-7"], capture_output=True, text=True, check=True
    )
    pairs = [p.strip("()").split(", ") for p in res.stdout.strip().split(": ", 1)[1].split(") (")]
    got = [float(y) for _, y in pairs]
    assert np.allclose(got, bench.function(num["id"])(np.array([1.0, 2.5, -7.0])), equal_nan=True)
    st = next(it for it in bench.items if it["category"] == "strings-chain")
    res = subprocess.run(
        [sys.executable, str(bench.script(st["id"])), "Hello World"], capture_output=True, text=True, check=True
    )
    assert (
        res.stdout.strip()
        == f"Function input - output pairs: ('Hello World', {bench.function(st['id'])('Hello World')!r})"
    )


def test_noise_and_corruption_vary_between_calls_only_where_they_should(bench):
    x = np.linspace(-128, 128, 2001)
    for it in bench.items:
        if it["domain"] != "numeric":
            continue
        f = bench.function(it["id"])
        differs = f(x) != f(x)
        if it["variant"] == "noisy":
            assert differs.mean() > 0.5
        elif it["variant"] == "corrupted":
            a, b = it["interval"]
            inside = (x > (-np.inf if a is None else a)) & (x < (np.inf if b is None else b))
            assert differs[inside].all() and not differs[~inside].any()
        else:
            assert not differs.any()


def test_mlp_variant_approximates_its_function(bench):
    from mechscope.describe.bench import MLP_MAX_NMSE

    for it in (it for it in bench.items if it["category"] == "numeric-mlp"):
        x = np.linspace(*it["fn_domain"], 500)
        truth = nm.evaluate(it["expr"], x)
        keep = np.isfinite(truth)
        mlp = bench.reference(it["id"])(x[keep])
        assert np.sum((mlp - truth[keep]) ** 2) / np.sum(truth[keep] ** 2) < 1.5 * MLP_MAX_NMSE
        assert not np.allclose(mlp, truth[keep])  # it is a network, not the formula


def test_families_follow_find_parameter_ranges():
    rng = random.Random(0)
    for _ in range(300):
        f = nm.sample_family(rng.choice(nm.FAMILIES), rng)
        p = f["params"]
        if f["family"] == "linear":
            assert -10 <= p["m"] <= 10 and -10 <= p["b"] <= 10
        elif f["family"] == "polynomial":
            assert 3 <= len(p["coeffs"]) <= 6 and all(-5 <= c <= 5 for c in p["coeffs"])
        elif f["family"] == "rational":
            assert len(p["num"]) < len(p["den"]) <= 6
        elif f["family"] == "gaussian":
            assert -50 <= p["mean"] <= 50 and 1 <= p["std"] <= 10
        elif f["family"] in ("sin", "cos", "tanh"):
            assert 0.1 <= p["period"] <= 2 * math.pi + 0.05 and -10 <= p["amplitude"] <= 10


def test_string_library_and_concepts_are_large_and_clean():
    assert len(PRIMITIVES) >= 40
    for prim in PRIMITIVES.values():  # every primitive is total
        for s in ["", "a", "Hello World 42!"]:
            assert isinstance(prim.call(s, prim.params[0] if prim.params else None), str)
    words = [w for ws in CONCEPTS.values() for w in ws]
    assert len(words) == len(set(words))  # concept lists are disjoint
    template_words = set(cn.WORD.findall(" ".join(TEMPLATES).lower()))
    assert not template_words & set(words)
    assert not set(cn.probe_vocabulary()) & {w for c in CONCEPTS for w in cn.reserved_words(c)}


def _truth_answer(bench, it) -> Interpretation:
    if it["domain"] == "strings":
        code = program_source(it["program"])
    else:
        code = bench.script(it["id"]).read_text() + "\n\ndef f(x):\n    return reference(x)\n"
    return Interpretation(it["description"], code, it.get("interval"), it.get("noise"))


def _wrong_answer(bench, it, other) -> Interpretation:
    truth = _truth_answer(bench, it)
    if it["domain"] == "strings":
        code = truth.code + "\n\ndef g(s):\n    return f(s) + '#'\n"
    else:
        code = truth.code + "\n\ndef g(x):\n    y = f(x)\n    return y + 10 + 2 * np.abs(y)\n"
    interval = [0.0, 10.0] if it.get("interval") is None else [float(it["interval"][0] or -128) + 60, 128.0]
    noise = {"normal": "uniform", "uniform": "poisson", "poisson": None, None: "normal"}[it.get("noise")]
    return Interpretation(
        other["description"], code.replace("def f(", "def f_(").replace("return f(", "return f_("), interval, noise
    )


def test_every_scorer_passes_the_truth_and_fails_a_wrong_answer_on_every_category(bench):
    judge = RuleJudge()
    for cat in sorted(CATEGORIES):
        items = [it for it in bench.items if it["category"] == cat]
        pool = [it for it in bench.items if it["domain"] == items[0]["domain"]]
        for it in items:
            ref = bench.reference(it["id"])
            good = score_item(it, _truth_answer(bench, it), ref, judge)
            assert good["score"] == 1.0 and good["description"] == 1.0, (cat, it["id"], good)
            others = [o for o in pool if o["description"] != it["description"]]
            bad_desc = []
            for other in others:
                bad = score_item(it, _wrong_answer(bench, it, other), ref, judge)
                bad_desc.append(bad["description"])
                if it["domain"] != "concepts":
                    assert bad["score"] == 0.0, (cat, it["id"], bad)
                if it["domain"] == "numeric":
                    assert good["interval_iou"] == 1.0 and good["noise_ok"] == 1.0
                    assert bad["interval_iou"] < 1.0 and bad["noise_ok"] == 0.0
            assert np.mean(bad_desc) < 0.5 and min(bad_desc) < 1.0, (cat, it["id"], bad_desc)


def test_interval_iou_on_half_lines():
    assert interval_iou([None, 0.0], [-128.0, 0.0]) == 1.0
    assert interval_iou([10.0, None], [10.0, 128.0]) == 1.0
    assert abs(interval_iou([0.0, 64.0], [32.0, 128.0]) - 32 / 128) < 1e-12


@pytest.mark.parametrize("family", nm.FAMILIES)
def test_baseline_recovers_each_family(family):
    rng = random.Random(zlib.crc32(family.encode()) % 1000)  # hash() of a str changes per process
    for _ in range(3):
        f = nm.sample_family(family, rng)
        ans = interpret_numeric(lambda x, e=f["expr"]: nm.evaluate(e, x))
        x = np.arange(-128, 128) + 0.5
        gt = nm.evaluate(f["expr"], x)
        keep = np.isfinite(gt)
        pred = nm.evaluate(ans.code.split("return ")[-1].strip(), x[keep])
        assert np.sum((pred - gt[keep]) ** 2) / max(np.sum(gt[keep] ** 2), 1e-12) < 0.1, (f, ans.description)
        assert ans.interval is None and ans.noise is None


def test_baseline_finds_noise_type_and_corrupted_interval():
    rng = np.random.default_rng(0)
    for kind, draw in [
        ("normal", lambda n: rng.normal(0, 1, n)),
        ("uniform", lambda n: rng.uniform(-1, 1, n)),
        ("poisson", lambda n: rng.poisson(1, n)),
    ]:
        assert classify_noise(draw(5000) - draw(5000))[0] == kind
        ans = interpret_numeric(lambda x, d=draw: 3.0 * np.asarray(x) - 2.0 + d(np.size(x)))
        assert ans.noise == kind and ans.evidence["model"] == "linear"

    def corrupted(x):
        x = np.asarray(x, dtype=float)
        return np.where((x > 12.3) & (x < 30.9), rng.normal(4.0, 0.1, x.shape), 0.5 * x**2 - 3)

    ans = interpret_numeric(corrupted)
    assert interval_iou(ans.interval, [12.3, 30.9]) > 0.999 and ans.evidence["model"] == "polynomial 2"


def test_string_baseline_solves_chains_and_learns_held_out_ciphers():
    ans = interpret_strings(lambda s: caesar(s[::-1], 7))
    assert sorted(ans.evidence["program"]) == [["caesar", 7], ["reverse", None]]  # the two commute
    held = interpret_strings(lambda s: caesar(s[::-1], 7), frozenset({"caesar", "atbash", "find:add_number_to_string"}))
    assert held.evidence["learned"] == "charmap" and "7 places forward" in held.description
    held_names = heldout_primitives(0.25)
    assert len([n for n in held_names if not n.startswith("find:")]) == round(0.25 * len(PRIMITIVES))
    assert len([n for n in held_names if n.startswith("find:")]) == round(0.25 * len(FIND_PRIMITIVES))


def test_concept_baseline_names_the_concept():
    neuron = cn.sample_neuron(random.Random(5), p_pair=1.0)
    ans = interpret_concept(lambda t: cn.activation(neuron["weights"], t))
    assert sorted(ans.evidence["concepts"]) == sorted(neuron["concepts"])


def test_baseline_run_scores_each_category(bench):
    res = run_benchmark(bench, BaselineInterpreter())
    rows = {r["category"]: r for r in res["summary"]}
    assert set(rows) == CATEGORIES
    assert rows["strings-chain"]["score"] == 1.0 and rows["numeric-clean"]["score"] == 1.0
    assert rows["numeric-corrupted"]["interval_iou"] > 0.9
    assert json.loads(json.dumps(res["summary"])) == res["summary"]



def _fragile(s):
    """A black box in FIND's manner: raises on the empty string, returns None on digits, else reverses."""
    if any(c.isdigit() for c in s):
        return None
    return s[-1] and s[::-1]  # IndexError on ''


def test_string_baseline_treats_failures_as_observations():
    from mechscope.describe.interp_strings import PROBES

    ans = interpret_strings(lambda s: s[-1] and s[::-1])  # reverse, but raises on ''
    assert ans.evidence["program"] == [["reverse", None]] and ans.evidence["consistent"] is False
    assert ans.evidence["probes_matched"] == len(PROBES) - 1
    interpret_strings(_fragile)  # no exception escapes


def test_run_survives_black_boxes_that_raise_or_return_none(bench):
    fids = [it["id"] for it in bench.select("strings")][:3]
    try:
        for fid in fids:
            bench._cache[fid] = {"function": _fragile, "reference": _fragile}
        res = run_benchmark(bench, BaselineInterpreter(), domains=("strings",))
    finally:
        for fid in fids:
            bench._cache.pop(fid)
    recs = {r["id"]: r for r in res["records"]}
    assert all("error" not in recs[f]["answer"]["evidence"] for f in fids)  # the interpreter itself coped
    assert all(0.0 <= recs[f]["score"] <= 1.0 for f in fids)
