"""Scores: NMSE of numeric code, exact match of string code, interval IoU, noise, unit tests.

Numeric code is run on the 256 points x = -127.5, ..., 127.5 (FIND's test
grid) against the function's deterministic reference, skipping points where the
reference is not finite; it is solved when NMSE = sum((f - g)^2) / sum(g^2)
is below 0.1. String code must reproduce the reference on the 10 held-out test
inputs exactly; the score is the fraction it does (where the function raises,
code that raises or returns None matches). The corrupted interval is
scored by intersection over union on [-128, 128] (no interval and none
predicted count as 1). Descriptions are scored by the judge's accuracy on the
item's multiple-choice unit tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from mechscope.describe.interpretation import RAISED, Interpretation, compile_code, observe, run_untrusted
from mechscope.describe.numeric import interval_bounds

TEST_X = np.arange(-128, 128) + 0.5
NMSE_SOLVED = 0.1


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


def score_code(item: dict, code: str, reference: Callable, trusted: bool = True) -> dict:
    """Score an answer's code against the reference: NMSE for numeric, exact match for strings."""
    if item["domain"] == "numeric":
        gt = np.asarray(reference(TEST_X), dtype=float)
        keep = np.isfinite(gt)
        outs = _outputs(code, [float(x) for x in TEST_X[keep]], trusted)
        err = nmse(outs, gt[keep]) if outs is not None else math.inf
        return {"nmse": err, "score": float(err < NMSE_SOLVED)}
    if item["domain"] == "strings":
        outs = _outputs(code, item["test_inputs"], trusted)
        # an input where the function raises is matched by code that raises (or returns None) there
        truth = [None if (y := observe(reference, s)) is RAISED else y for s in item["test_inputs"]]
        hits = 0 if outs is None else sum(o == t for o, t in zip(outs, truth))
        return {"score": hits / len(truth)}
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
    """Per-category means: ``{"category", "n", "score", "interval_iou", "description", "noise"}``."""
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
                "interval_iou": mean("interval_iou"),
                "description": mean("description"),
                "noise": mean("noise_ok"),
            }
        )
    return out
