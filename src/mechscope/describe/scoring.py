"""Scores: NMSE of numeric code, exact match of string code, interval IoU, noise, unit tests.

Numeric code is run on the 256 points x = -127.5, ..., 127.5 (FIND's test
grid) against the function's deterministic reference, skipping points where the
reference is not finite; it is solved when NMSE = sum((f - g)^2) / sum(g^2)
is below 0.1. String code must reproduce the reference on the 10 held-out test
inputs exactly; the score is the fraction it does (where the function raises,
code that raises or returns None matches); a function that draws a random
index on every call is matched on an input when the code's outputs over 300
calls follow the function's own distribution (total variation <= 0.3). FIND's
protocol (``find_score``) instead compares the code with one recorded call of
the black box itself, noise, corrupted interval and random draw included, as
FIND's ``mse_indicator`` and ``string_indicator`` do. The corrupted interval is
scored by intersection over union on [-128, 128] (no interval and none
predicted count as 1). Descriptions are scored by the judge's accuracy on the
item's multiple-choice unit tests.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import numpy as np

from mechscope.describe.interpretation import RAISED, Interpretation, compile_code, observe, run_untrusted
from mechscope.describe.numeric import interval_bounds

TEST_X = np.arange(-128, 128) + 0.5
NMSE_SOLVED = 0.1
RANDOM_CALLS = 300  # calls per test input to compare a random function's output distribution with the code's
RANDOM_TV = 0.3  # at most this total-variation distance counts as the same distribution


def _outputs(code: str, inputs: list, trusted: bool) -> list | None:
    if not code.strip():
        return None
    if not trusted:
        return run_untrusted(code, inputs)
    try:
        f = compile_code(code)
    except Exception:
        return None
    outs = []
    for x in inputs:
        try:
            y = f(x)
            outs.append(y if isinstance(y, str) else float(np.asarray(y, dtype=float).reshape(-1)[0]))
        except Exception:
            outs.append(None)
    return outs


def nmse(pred, truth) -> float:
    """Normalised MSE, FIND's numeric score (inf when a prediction is missing or not finite).

    >>> nmse([1.0, 2.0], [1.0, 2.0]), round(nmse([0.0, 0.0], [1.0, 1.0]), 3)
    (0.0, 1.0)
    """
    if any(p is None for p in pred):
        return math.inf
    p, t = np.asarray(pred, dtype=float), np.asarray(truth, dtype=float)
    if not np.isfinite(p).all():
        return math.inf
    return float(np.sum((p - t) ** 2) / max(np.sum(t * t), 1e-12))


def interval_iou(pred, truth) -> float:
    """IoU of two intervals on [-128, 128]; both absent counts as 1, one absent as 0.

    >>> interval_iou([0, 10], [5, 15]), interval_iou(None, None), interval_iou([0, 1], None)
    (0.3333333333333333, 1.0, 0.0)
    """
    a, b = interval_bounds(pred), interval_bounds(truth)
    if a is None or b is None:
        return float(a is None and b is None)
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else float(a == b)


def _no_raise(y):
    return None if y is RAISED or y == "<raises>" else y


def total_variation(a: list, b: list) -> float:
    """Total-variation distance between the empirical distributions of two samples.

    >>> total_variation(["x", "y"], ["x", "x"])
    0.5
    """
    ca, cb = Counter(a), Counter(b)
    return 0.5 * sum(abs(ca[k] / len(a) - cb[k] / len(b)) for k in set(ca) | set(cb))


def _random_score(item: dict, code: str, reference: Callable, trusted: bool) -> float:
    """Share of test inputs on which the code's outputs follow the function's distribution (TV <= 0.3)."""
    xs = item["test_inputs"]
    outs = _outputs(code, [x for x in xs for _ in range(RANDOM_CALLS)], trusted)
    if outs is None:
        return 0.0
    hits = 0
    for i, x in enumerate(xs):
        truth = [_no_raise(observe(reference, x)) for _ in range(RANDOM_CALLS)]
        hits += total_variation(outs[i * RANDOM_CALLS : (i + 1) * RANDOM_CALLS], truth) <= RANDOM_TV
    return hits / len(xs)


def score_code(item: dict, code: str, reference: Callable, trusted: bool = True) -> dict:
    """Score an answer's code, ours and FIND's way (``score``, ``find_score``).

    Ours: numeric code against the deterministic reference (NMSE < 0.1);
    string code by exact match with the reference on the test inputs, or for a
    random function by the distance between its output distribution and the
    code's. FIND's: against one recorded call of the black box itself, noise,
    corruption and random draws included (``item["one_call"]``).
    """
    if item["domain"] == "numeric":
        gt = np.asarray(reference(TEST_X), dtype=float)
        keep = np.isfinite(gt)
        outs = _outputs(code, [float(x) for x in TEST_X], trusted)
        err = nmse([o for o, k in zip(outs, keep) if k], gt[keep]) if outs is not None else math.inf
        rec = {"nmse": err, "score": float(err < NMSE_SOLVED)}
        if item.get("one_call") is not None:
            once = np.array([np.nan if y is None else y for y in item["one_call"]], dtype=float)
            ok = np.isfinite(once)
            find_err = nmse([o for o, k in zip(outs, ok) if k], once[ok]) if outs is not None else math.inf
            rec["find_score"] = float(find_err < NMSE_SOLVED)
        return rec
    if item["domain"] == "strings":
        if item.get("random"):
            rec = {"score": _random_score(item, code, reference, trusted)}
            outs = _outputs(code, item["test_inputs"], trusted)
        else:
            outs = _outputs(code, item["test_inputs"], trusted)
            # an input where the function raises is matched by code that raises (or returns None) there
            truth = [_no_raise(observe(reference, s)) for s in item["test_inputs"]]
            rec = {"score": (0 if outs is None else sum(o == t for o, t in zip(outs, truth))) / len(truth)}
        if item.get("one_call") is not None:
            once = [_no_raise(y) for y in item["one_call"]]
            rec["find_score"] = (0 if outs is None else sum(o == t for o, t in zip(outs, once))) / len(once)
        return rec
    return {}


def score_description(item: dict, description: str, judge) -> float:
    """Fraction of the item's unit tests on which the judge, reading the description, picks the true pair."""
    tests = item.get("unit_tests") or []
    if not tests:
        return math.nan
    return sum(judge.choose(item["domain"], description, t) == t["answer"] for t in tests) / len(tests)


def score_item(item: dict, answer: Interpretation, reference: Callable, judge, trusted: bool = True) -> dict:
    """Every score of one answer: code, interval, noise and description."""
    rec = {"id": item["id"], "category": item["category"], **score_code(item, answer.code, reference, trusted)}
    rec["description"] = score_description(item, answer.description, judge)
    if item["domain"] == "numeric":
        rec["interval_iou"] = interval_iou(answer.interval, item.get("interval"))
        rec["noise_ok"] = float((answer.noise or None) == (item.get("noise") or None))
    else:
        rec["score"] = rec.get("score", rec["description"])
    return rec


def aggregate(records: list[dict]) -> list[dict]:
    """Per-category means: ``{"category", "n", "score", "find_score", "interval_iou", "description", "noise"}``."""
    out = []
    for cat in sorted({r["category"] for r in records}):
        rs = [r for r in records if r["category"] == cat]

        def mean(key):
            vals = [r[key] for r in rs if key in r and r[key] is not None and not math.isnan(r[key])]
            return round(float(np.mean(vals)), 4) if vals else None

        out.append(
            {
                "category": cat,
                "n": len(rs),
                "score": mean("score"),
                "find_score": mean("find_score"),
                "interval_iou": mean("interval_iou"),
                "description": mean("description"),
                "noise": mean("noise_ok"),
            }
        )
    return out
