"""Least-squares fits of every numeric family and of sums and products of two.

Most families are linear in their weights once a few shape parameters are
fixed (a rectangle's width, a square wave's period and phase): they are given
as columns of numpy expressions and fitted by linear least squares; sums take
the union of two families' columns and products their pairwise products.
Sinusoids, tanh, gaussians and rationals get their own fits. Models are ranked
by the Bayesian information criterion with a variance floor, so that among
exact fits the one with fewer parameters wins.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from mechscope.describe.numeric import evaluate


@dataclass(frozen=True)
class Fit:
    """A fitted model: a name, a numpy expression in x and its parameter count."""

    name: str
    expr: str
    k: int
    rss: float = math.inf

    def predict(self, x) -> np.ndarray:
        return evaluate(self.expr, x)


def _num(v: float) -> str:
    return f"{v:.9g}"


def poly_cols(d: int) -> list[str]:
    return ["1"] + [f"(x/128)**{i}" if i > 1 else "(x/128)" for i in range(1, d + 1)]


BASES = {
    "linear": ["1", "x"],
    "absolute": ["1", "np.abs(x)"],
    "relu": ["1", "np.maximum(x, 0)", "np.minimum(x, 0)"],
    "step": ["1", "np.heaviside(x, 0.5)"],
    "floor": ["1", "np.floor(x)"],
    "ceil": ["1", "np.ceil(x)"],
    "root": ["1", "np.sqrt(x)"],
    "logarithm": ["1", "np.log(x)"],
    "reciprocal": ["1", "1.0/x"],
}


def rect_cols(width: float) -> list[str]:
    return ["1", f"np.where(np.abs(x) <= {_num(width / 2)}, 1.0, 0.0)"]


def square_cols(period: float, shift: float) -> list[str]:
    return ["1", f"np.where(np.sin((x - {_num(shift)})*2*np.pi/{_num(period)}) > 0, 1.0, -1.0)"]


def linear_fit(name: str, cols: list[str], x: np.ndarray, y: np.ndarray) -> Fit:
    """Least squares on columns; the parameter count is the matrix rank."""
    cols = list(dict.fromkeys(cols))
    a = np.stack([evaluate(c, x) for c in cols], axis=1)
    if not np.isfinite(a).all():
        return Fit(name, "np.nan*x", len(cols))
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1.0
    w, _, rank, _ = np.linalg.lstsq(a / scale, y, rcond=None)
    w = w / scale
    keep = [i for i in range(len(cols)) if w[i] != 0.0]
    expr = " + ".join(_num(w[i]) if cols[i] == "1" else f"{_num(w[i])}*{cols[i]}" for i in keep) or "0.0*x"
    if "x" not in expr:
        expr += " + 0.0*x"
    rss = float(np.sum((a @ w - y) ** 2))
    return Fit(name, expr, int(rank), rss)


def product_cols(a: list[str], b: list[str]) -> list[str]:
    out = []
    for p, q in itertools.product(a, b):
        out.append(q if p == "1" else p if q == "1" else f"({p})*({q})")
    return out


def _rss(expr: str, x, y) -> float:
    r = evaluate(expr, x) - y
    return float(np.sum(r * r)) if np.isfinite(r).all() else math.inf


def sinusoid_fit(xf: np.ndarray, yf: np.ndarray, x: np.ndarray, y: np.ndarray) -> Fit:
    """A sinusoid: frequency from the FFT of a fine uniform grid, then nonlinear least squares."""
    spec = np.abs(np.fft.rfft(yf - yf.mean()))
    freqs = np.fft.rfftfreq(len(yf), d=float(xf[1] - xf[0]))
    spec[0] = 0
    f0 = float(freqs[int(np.argmax(spec))]) or 1e-3

    def design(f):
        return np.stack([np.sin(2 * np.pi * f * x), np.cos(2 * np.pi * f * x), np.ones_like(x)], axis=1)

    w = np.linalg.lstsq(design(f0), y, rcond=None)[0]

    def resid(p):
        return p[0] * np.sin(2 * np.pi * p[3] * x) + p[1] * np.cos(2 * np.pi * p[3] * x) + p[2] - y

    p = least_squares(resid, [w[0], w[1], w[2], f0], method="lm").x
    amp, phase = math.hypot(p[0], p[1]), math.atan2(p[1], p[0])
    expr = f"{_num(amp)}*np.sin(2*np.pi*{_num(p[3])}*x + {_num(phase)}) + {_num(p[2])}"
    return Fit("sinusoid", expr, 4, _rss(expr, x, y))


def tanh_fit(x: np.ndarray, y: np.ndarray) -> Fit:
    """A*tanh(s*(x - c)) + d, started at the steepest point with the slope seen there."""
    dy = np.diff(y) / np.maximum(np.diff(x), 1e-12)
    i = int(np.argmax(np.abs(dy))) if len(dy) else 0
    c0 = float((x[i] + x[min(i + 1, len(x) - 1)]) / 2)
    left, right = y[x < c0], y[x > c0]
    lo = float(np.median(left)) if len(left) else float(y.min())
    hi = float(np.median(right)) if len(right) else float(y.max())
    a0, d0 = (hi - lo) / 2, (hi + lo) / 2
    s0 = float(np.clip(abs(dy[i]) / max(abs(a0), 1e-9), 1e-3, 100.0)) if len(dy) else 1.0

    def resid(p):
        return p[0] * np.tanh(p[1] * (x - p[2])) + p[3] - y

    return _lm_fit("tanh", resid, [a0, s0, c0, d0], x, y,
                   lambda p: f"{_num(p[0])}*np.tanh({_num(p[1])}*(x - {_num(p[2])})) + {_num(p[3])}")


def gaussian_fit(x: np.ndarray, y: np.ndarray) -> Fit:
    """a*exp(-((x - m)/s)**2/2) + d, started at the largest deviation from the median."""
    d0 = float(np.median(y))
    i = int(np.argmax(np.abs(y - d0)))
    a0, m0 = float(y[i] - d0), float(x[i])
    half = np.abs(y - d0) > abs(a0) / 2
    s0 = max(float(np.ptp(x[half])) / 2.355, 0.5) if half.any() else 5.0

    def resid(p):
        return p[0] * np.exp(-0.5 * ((x - p[1]) / p[2]) ** 2) + p[3] - y

    return _lm_fit("gaussian", resid, [a0, m0, s0, d0], x, y,
                   lambda p: f"{_num(p[0])}*np.exp(-0.5*((x - {_num(p[1])})/{_num(p[2])})**2) + {_num(p[3])}")


def _lm_fit(name: str, resid, p0: list[float], x: np.ndarray, y: np.ndarray, render) -> Fit:
    """Levenberg-Marquardt from `p0`; `render(p)` writes the fitted expression. A failed solve fits nothing."""
    try:
        p = least_squares(resid, p0, method="lm", max_nfev=200).x
    except Exception:
        return Fit(name, "np.nan*x", len(p0))
    expr = render(p)
    return Fit(name, expr, len(p0), _rss(expr, x, y))


def rational_fit(p: int, q: int, x: np.ndarray, y: np.ndarray) -> Fit:
    """N(x)/D(x) with D(0) = 1, by the linearised least squares N(x) - y*(D(x) - 1) = y."""
    u = x / 128
    a = np.concatenate(
        [np.stack([u**i for i in range(p + 1)], 1), np.stack([-y * u**j for j in range(1, q + 1)], 1)], 1
    )
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1
    w = np.linalg.lstsq(a / scale, y, rcond=None)[0] / scale
    num = " + ".join(f"{_num(w[i])}*(x/128)**{i}" for i in range(p + 1))
    den = "1 + " + " + ".join(f"{_num(w[p + j])}*(x/128)**{j}" for j in range(1, q + 1))
    expr = f"({num}) / ({den})"
    return Fit(f"rational {p}/{q}", expr, p + q + 1, _rss(expr, x, y))


def bic(fit: Fit, n: int, floor: float) -> float:
    return n * math.log(max(fit.rss / max(n, 1), floor)) + fit.k * math.log(max(n, 2))


def candidate_fits(
    x: np.ndarray, y: np.ndarray, xf: np.ndarray | None, yf: np.ndarray | None, jumps: list[float]
) -> list[Fit]:
    """Fit every family, and sums and products of two compose families, to (x, y)."""
    fits = [
        linear_fit(f"polynomial {d}" if d > 1 else ("constant", "linear")[d], poly_cols(d), x, y) for d in range(0, 11)
    ]
    positive = bool((x > 0).all())
    for name, cols in BASES.items():
        if name in ("root", "logarithm") and not positive:
            continue
        if name == "reciprocal" and np.any(x == 0):
            continue
        fits.append(linear_fit(name, cols, x, y))
    shapes = {
        "rectangle": [rect_cols(w) for w in rect_widths(jumps)],
        "square_wave": [square_cols(p, s) for p, s in square_params(jumps)],
    }
    for name, options in shapes.items():
        fits += [linear_fit(name, cols, x, y) for cols in options]
    shapes["square_wave"] = shapes["square_wave"][:16]
    if xf is not None and len(xf) > 16:
        fits.append(sinusoid_fit(xf, yf, x, y))
    fits += [tanh_fit(x, y), gaussian_fit(x, y)]
    fits += [rational_fit(p, q, x, y) for q in range(1, 6) for p in range(0, q)]
    parts = {
        "polynomial": [poly_cols(5)],
        "step": [BASES["step"]],
        "relu": [BASES["relu"]],
        "floor": [BASES["floor"]],
        "ceil": [BASES["ceil"]],
        **shapes,
    }
    for (na, opts_a), (nb, opts_b) in itertools.combinations(parts.items(), 2):
        for ca, cb in itertools.product(opts_a, opts_b):
            fits.append(linear_fit(f"{na} + {nb}", ca + cb, x, y))
            fits.append(linear_fit(f"{na} * {nb}", product_cols(ca, cb), x, y))
    return [f for f in fits if math.isfinite(f.rss)]


def rect_widths(jumps: list[float], tol: float = 1e-3) -> list[float]:
    """Widths of rectangles centred at 0 whose two edges are among the jumps."""
    pos = [j for j in jumps if j > 0]
    return sorted({round(2 * j, 6) for j in pos if any(abs(j + k) < tol for k in jumps)})[:4]


def _snap(v: float) -> float:
    """Round to one decimal when that is within 1e-4 (benchmark parameters often are)."""
    return round(v, 1) if abs(v - round(v, 1)) < 1e-4 else v


def square_params(jumps: list[float], representatives: bool = True) -> list[tuple[float, float]]:
    """(period, shift) of square waves whose edges are regularly spaced jumps (not at integers).

    Shifts one half-period apart give the same wave up to sign but round
    differently exactly at the edges; with `representatives`, every shift in
    [-6, 6] is offered, so that a fit on points at the edges can pick among them.
    """
    odd = sorted(j for j in jumps if abs(j - round(j)) > 1e-4)
    cands = []
    for pts in (odd, sorted(jumps)):
        if len(pts) >= 3:
            gaps = np.diff(pts)
            half = float(np.median(gaps))
            if half > 1e-3 and np.mean(np.abs(gaps - half) < 1e-3 * max(1.0, half)) > 0.6:
                k = np.round((np.asarray(pts) - pts[0]) / half)
                slope, icept = np.polyfit(k, pts, 1)  # edges sit at shift + k * period / 2
                period, half = _snap(2 * float(slope)), _snap(float(slope))
                cands.append((period, float(icept)))
                if representatives:
                    k0 = math.ceil((-6 - icept) / half)
                    cands += [(period, _snap(icept + k * half)) for k in range(k0, k0 + int(12 / half) + 1)]
    return list(dict.fromkeys(cands))
