"""Numeric functions of the benchmark: FIND's families, parameter ranges and variants.

Families and ranges follow FIND's generator (Schwettmann et al. 2023,
``make_functions/make_numeric``): linear slope and offset in [-10, 10];
polynomials of degree 2-5 with coefficients in [-5, 5]; rationals whose
denominator order exceeds the numerator's, coefficients in [-10, 10]; scale and
bias in [-30, 30] for abs, root, log, relu and step; sinusoids and tanh with
amplitude in [-10, 10], period and shift in [0.1, 2*pi]; gaussians with mean in
[-50, 50] and std in [1, 10]; rectangles of width 1-10; square waves of period
1-10; constants in [-100, 100). Parameters are rounded to one decimal as there.
Compounds add or multiply two of FIND's "compose" families. Each function is a
numpy expression in ``x``; variants add noise (normal, uniform, poisson), replace
an interval with noise, or swap the function for a small trained MLP.
"""

from __future__ import annotations

import math
import random

import numpy as np

FAMILIES = (
    "linear",
    "polynomial",
    "rational",
    "root",
    "logarithm",
    "relu",
    "sin",
    "cos",
    "tanh",
    "gaussian",
    "rectangle",
    "square_wave",
    "step",
    "absolute",
    "reciprocal",
    "constant",
)
COMPOSE_FAMILIES = ("linear", "polynomial", "step", "relu", "constant", "ceil", "floor", "rectangle", "square_wave")
NOISE_TYPES = ("normal", "uniform", "poisson")
TEST_RANGE = 128.0


def _r(v: float) -> float:
    return round(v, 1)


def _uniform_grid(rng: random.Random, lo: float, hi: float) -> float:
    """FIND draws amplitudes and periods from a 100-point linspace, rounded."""
    return _r(lo + (hi - lo) * rng.randrange(100) / 99)


def sample_family(name: str, rng: random.Random) -> dict:
    """Draw one function of a family: ``{"family", "params", "expr"}``.

    >>> sample_family("linear", random.Random(0))["expr"]
    '-1.6*x + -4.8'
    """
    scale, bias = _r(rng.uniform(-30, 30)), _r(rng.uniform(-30, 30))
    if name == "linear":
        p = {"m": _r(rng.uniform(-10, 10)), "b": _r(rng.uniform(-10, 10))}
        expr = f"{p['m']}*x + {p['b']}"
    elif name == "polynomial":
        coeffs = [_r(rng.uniform(-5, 5)) for _ in range(rng.randint(2, 5) + 1)]
        coeffs[0] = coeffs[0] or 0.1
        p = {"coeffs": coeffs}
        d = len(coeffs) - 1
        expr = " + ".join(f"{c}*x**{d - i}" for i, c in enumerate(coeffs[:-1])) + f" + {coeffs[-1]}"
    elif name == "rational":
        num_order = rng.randint(0, 4)
        den_order = rng.randint(num_order + 1, 5)
        num = [_r(rng.uniform(-10, 10)) for _ in range(num_order + 1)]
        den = [_r(rng.uniform(-10, 10)) for _ in range(den_order + 1)]
        den[-1] = den[-1] or 0.1
        p = {"num": num, "den": den}
        expr = f"({_poly_low(num)}) / ({_poly_low(den)})"
    elif name == "root":
        p = {"a": scale, "b": bias, "n": rng.randint(1, 2)}
        expr = f"{scale}*np.power(x, 1.0/{p['n']}) + {bias}"
    elif name == "logarithm":
        p = {"a": scale, "b": bias, "base": _r(rng.uniform(1.1, 10))}
        expr = f"{scale}*np.log(x)/np.log({p['base']}) + {bias}"
    elif name == "relu":
        p = {"a": scale, "b": bias, "leak": _r(rng.uniform(0, 1))}
        expr = f"{scale}*np.where(x > 0, x, {p['leak']}*x) + {bias}"
    elif name in ("sin", "cos", "tanh"):
        p = {
            "amplitude": _uniform_grid(rng, -10, 10),
            "period": _uniform_grid(rng, 0.1, 2 * math.pi),
            "shift": _uniform_grid(rng, 0.1, 2 * math.pi),
            "bias": bias,
        }
        expr = f"{p['amplitude']}*np.{name}(2*np.pi/{p['period']}*(x - {p['shift']})) + {bias}"
    elif name == "gaussian":
        p = {"mean": _r(rng.uniform(-50, 50)), "std": _r(rng.uniform(1, 10))}
        expr = f"np.exp(-0.5*((x - {p['mean']})/{p['std']})**2)/({p['std']}*np.sqrt(2*np.pi))"
    elif name == "rectangle":
        p = {"width": _r(rng.uniform(1, 10))}
        expr = f"np.where(np.abs(x) <= {p['width']}/2, 1.0, 0.0)"
    elif name == "square_wave":
        p = {"period": _r(rng.uniform(1, 10)), "shift": _r(rng.uniform(-5, 5))}
        expr = f"np.where(np.sin((x - {p['shift']})*2*np.pi/{p['period']}) > 0, 1.0, -1.0)"
    elif name == "step":
        p = {"a": scale, "b": bias, "at_zero": _r(rng.uniform(-100, 100))}
        expr = f"{scale}*np.heaviside(x, {p['at_zero']}) + {bias}"
    elif name == "absolute":
        p = {"a": scale, "b": bias}
        expr = f"{scale}*np.abs(x) + {bias}"
    elif name == "reciprocal":
        a = _r(rng.uniform(-10, 10))
        p = {"a": a if abs(a) >= 0.1 else 0.1}
        expr = f"1.0/({p['a']}*x)"
    elif name == "constant":
        p = {"value": rng.randrange(-100, 100)}
        expr = f"{p['value']} + 0.0*x"
    elif name in ("ceil", "floor"):
        p = {}
        expr = f"np.{name}(x)"
    else:
        raise ValueError(f"unknown numeric family {name!r}")
    return {"family": name, "params": p, "expr": expr}


def _poly_low(coeffs: list) -> str:
    """``c0 + c1*x + c2*x**2 ...`` (lowest order first, as FIND writes rationals)."""
    return " + ".join(f"{c}" if i == 0 else f"{c}*x**{i}" for i, c in enumerate(coeffs))


def domain_of(families: list[str]) -> list[float]:
    """FIND's domain: [1, 100] for logs, [0, 100] for roots, else [-100, 100]."""
    if "logarithm" in families:
        return [1.0, 100.0]
    if "root" in families:
        return [0.0, 100.0]
    return [-100.0, 100.0]


def sample_function(rng: random.Random, p_compound: float = 0.15) -> dict:
    """A simple function (85%) or the sum or product of two compose families (15%), as in FIND."""
    if rng.random() >= p_compound:
        f = sample_family(rng.choice(FAMILIES), rng)
        return {"kind": "simple", "families": [f["family"]], "parts": [f], "expr": f["expr"]}
    a, b = (sample_family(rng.choice(COMPOSE_FAMILIES), rng) for _ in range(2))
    op = rng.choice(["sum", "product"])
    expr = f"({a['expr']}) {'+' if op == 'sum' else '*'} ({b['expr']})"
    return {"kind": op, "families": [a["family"], b["family"]], "parts": [a, b], "expr": expr}


def evaluate(expr: str, x) -> np.ndarray:
    """Evaluate a benchmark expression on an array (non-finite where undefined).

    >>> evaluate("2.0*x + 1.0", np.array([0.0, 1.0])).tolist()
    [1.0, 3.0]
    """
    x = np.asarray(x, dtype=float)
    with np.errstate(all="ignore"):
        y = eval(expr, {"np": np, "__builtins__": {}}, {"x": x})  # noqa: S307 - benchmark's own expressions
    return np.broadcast_to(np.asarray(y, dtype=float), x.shape).copy()


def sample_variant(rng: random.Random, fn: dict, weights=(0.45, 0.2, 0.2, 0.15)) -> dict:
    """Choose clean, noisy, corrupted or mlp (FIND's mix is about 48/18/19/15%)."""
    kind = rng.choices(["clean", "noisy", "corrupted", "mlp"], weights=weights)[0]
    if kind == "noisy":
        return {"variant": "noisy", "noise": rng.choice(NOISE_TYPES), "noise_scale": 1.0}
    if kind == "corrupted":
        lo_d, hi_d = domain_of(fn["families"])
        grid = np.linspace(lo_d, hi_d, 100)
        ys = evaluate(fn["expr"], grid)
        level = float(np.mean(ys[np.isfinite(ys)])) if np.isfinite(ys).any() else 0.0
        a = _r(rng.uniform(max(lo_d, -100.0), 100.0))
        shape = rng.choice(["below", "above", "inside", "inside"])
        if shape == "below":
            interval = [None, a]
        elif shape == "above":
            interval = [a, None]
        else:
            interval = [a, _r(a + rng.uniform(5, 25))]
        return {"variant": "corrupted", "interval": interval, "level": round(level, 4), "level_std": 0.1}
    return {"variant": kind}


def interval_bounds(interval: list | None, lo: float = -TEST_RANGE, hi: float = TEST_RANGE) -> tuple | None:
    """An interval with open ends (None) closed at the test range.

    >>> interval_bounds([None, 3.0])
    (-128.0, 3.0)
    """
    if interval is None:
        return None
    a, b = interval
    return (lo if a is None else max(lo, float(a)), hi if b is None else min(hi, float(b)))


def describe_truth(fn: dict, variant: dict) -> str:
    """The ground-truth language description; the formula follows ``f(x) =``."""
    if fn["kind"] == "simple":
        text = f"a {fn['families'][0].replace('_', ' ')} function"
    else:
        text = (
            f"the {fn['kind']} of a {fn['families'][0].replace('_', ' ')} and a {fn['families'][1].replace('_', ' ')}"
        )
    if variant["variant"] == "noisy":
        text += f", with additive {variant['noise']} noise"
    elif variant["variant"] == "corrupted":
        lo, hi = interval_bounds(variant["interval"])
        text += f"; on [{lo:g}, {hi:g}] the output is replaced by noise around {variant['level']:g}"
    elif variant["variant"] == "mlp":
        text += ", approximated by a small ReLU network"
    return f"{text}; f(x) = {fn['expr']}"
