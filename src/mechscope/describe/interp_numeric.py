"""The offline baseline for numeric functions: query, estimate noise, fit, locate corruption.

1. Query a fine grid on [-128, 128] twice. Outputs that change between calls
   everywhere mean noise (its type from the call-to-call differences: integer
   steps are poisson, kurtosis tells normal from uniform); outputs that change
   only on a stretch mark a corrupted interval, whose edges are bisected.
2. Average repeated calls on a coarser grid, find discontinuities by bisecting
   where differences spike (the adaptive part), and fit every family and every
   sum and product of two by least squares (`fit_numeric`).
3. Choose the model with the smallest BIC; where calls do not vary, look for a
   contiguous run of large residuals as a deterministic corrupted interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from mechscope.describe.fit_numeric import Fit, bic, candidate_fits
from mechscope.describe.interpretation import Interpretation

LO, HI = -128.0, 128.0


class _Box:
    """Counts queries to a vectorised black box."""

    def __init__(self, f: Callable):
        self.f, self.queries = f, 0

    def __call__(self, x, reps: int = 1) -> np.ndarray:
        return self.stats(x, reps)[0]

    def stats(self, x, reps: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance over `reps` calls at each input."""
        x = np.asarray(x, dtype=float)
        self.queries += x.size * reps
        with np.errstate(all="ignore"):
            ys = np.stack([np.asarray(self.f(x), dtype=float).reshape(x.shape) for _ in range(reps)])
            return (ys.mean(axis=0), ys.var(axis=0, ddof=1)) if reps > 1 else (ys[0], np.zeros(x.shape))


def classify_noise(d: np.ndarray) -> tuple[str, float]:
    """Noise type and scale from differences of two calls at the same inputs.

    >>> rng = np.random.default_rng(0)
    >>> classify_noise(rng.uniform(-1, 1, 5000) - rng.uniform(-1, 1, 5000))[0]
    'uniform'
    """
    d = d[np.isfinite(d)]
    var = float(np.mean(d * d))
    if np.all(np.abs(d - np.round(d)) < 1e-6):
        return "poisson", var / 2  # the rate; a poisson draw's variance equals its mean
    kurt = float(np.mean(d**4) / var**2) if var > 0 else 3.0
    if kurt < 2.7:
        return "uniform", math.sqrt(1.5 * var)  # half-width c: var(u1 - u2) = 2c^2/3
    return "normal", math.sqrt(var / 2)


def _varies(box: _Box, x: np.ndarray) -> np.ndarray:
    ys = np.stack([box(x) for _ in range(3)])
    return np.any(np.abs(ys - ys[0]) > 1e-12 * (1 + np.abs(ys[0])), axis=0)


def _edge(box: _Box, inside: float, outside: float, steps: int = 24) -> float:
    """Bisect between a point whose calls vary and one whose calls do not."""
    for _ in range(steps):
        m = (inside + outside) / 2
        if _varies(box, np.array([m]))[0]:
            inside = m
        else:
            outside = m
    return (inside + outside) / 2


def locate_varying_interval(box: _Box, x: np.ndarray, varying: np.ndarray) -> list[float] | None:
    """The stretch where calls vary, if they vary on one contiguous stretch only."""
    idx = np.flatnonzero(varying)
    i, j = int(idx[0]), int(idx[-1])
    if varying[i : j + 1].mean() < 0.8 or j - i < 2:
        return None
    left = LO if i == 0 else _edge(box, float(x[i]), float(x[i - 1]))
    right = HI if j == len(x) - 1 else _edge(box, float(x[j]), float(x[j + 1]))
    return [round(left, 4), round(right, 4)]


def find_jumps(box: _Box, x: np.ndarray, y: np.ndarray, reps: int, sigma: float, limit: int = 400) -> list[float]:
    """Discontinuities: spikes in the differences that survive bisection to 1e-7."""
    d = np.abs(np.diff(y))
    if len(d) < 3:
        return []
    neighbour = np.maximum(np.concatenate([[0], d[:-1]]), np.concatenate([d[1:], [0]]))
    thresh = 4 * sigma * math.sqrt(2 / reps) + 1e-9 * (np.max(np.abs(y)) + 1)
    cand = np.flatnonzero((d > 3 * neighbour) & (d > thresh))
    cand = cand[np.argsort(-d[cand])][:limit]
    if not len(cand):
        return []
    a, b, ya, yb = x[cand].copy(), x[cand + 1].copy(), y[cand].copy(), y[cand + 1].copy()
    for _ in range(int(math.log2(max(b - a)) + 24)):
        m = (a + b) / 2
        ym = box(m, reps)
        left = np.abs(ym - ya) >= np.abs(yb - ym)
        b, yb = np.where(left, m, b), np.where(left, ym, yb)
        a, ya = np.where(left, a, m), np.where(left, ya, ym)
    real = (np.abs(yb - ya) > 0.3 * d[cand]) & (np.abs(yb - ya) > thresh)
    return sorted(float(v) for v in np.round((a + b)[real] / 2, 7))


def _longest_run(mask: np.ndarray) -> int:
    best = run = 0
    for v in mask:
        run = run + 1 if v else 0
        best = max(best, run)
    return best


def _residual_interval(fit: Fit, x: np.ndarray, y: np.ndarray, floor: float) -> list[float] | None:
    """A deterministic corrupted stretch: one long run of residuals far above all others."""
    r = np.abs(fit.predict(x) - y)
    thr = 10 * math.sqrt(floor) + 1e-6 * float(np.sqrt(np.mean(y * y)))
    flag = r > thr
    if flag.mean() < 0.02:
        return None
    idx = np.flatnonzero(flag)
    i, j = int(idx[0]), int(idx[-1])
    outside = np.concatenate([flag[:i], flag[j + 1 :]])
    if flag[i : j + 1].mean() < 0.95 or (len(outside) and outside.mean() > 0.01) or flag.mean() > 0.9:
        return None
    return [float(x[i]), float(x[j])]


def _describe(fit: Fit, noise: str | None, scale: float, interval, undefined: str) -> str:
    text = (
        f"a {fit.name} function"
        if " " not in fit.name or fit.name.startswith(("polynomial", "rational"))
        else f"a {fit.name.replace(' + ', ' plus ').replace(' * ', ' times ')} combination"
    )
    if noise:
        text += f", with additive {noise} noise (scale {scale:.3g})"
    if interval:
        text += (
            f"; on [{interval[0]:g}, {interval[1]:g}] the output is replaced by noise that does not follow the formula"
        )
    return text + undefined + f"; f(x) = {fit.expr}"


def interpret_numeric(f: Callable, n_fine: int = 10240, n_coarse: int = 2048) -> Interpretation:
    """Describe a vectorised numeric black box on [-128, 128].

    >>> interp = interpret_numeric(lambda x: 3.0 * np.abs(x) - 2.0)
    >>> interp.evidence["model"], interp.noise, interp.interval
    ('absolute', None, None)
    """
    box = _Box(f)
    xf = np.linspace(LO, HI, n_fine)
    y1, y2 = box(xf), box(xf)
    finite = np.isfinite(y1) & np.isfinite(y2)
    varying = finite & (np.abs(y1 - y2) > 1e-12 * (1 + np.abs(y1)))
    noise, scale, interval, sigma = None, 0.0, None, 0.0
    steady = finite & ~varying
    if finite.any() and varying[finite].mean() > 0.5 and _longest_run(steady) < 0.02 * n_fine:
        noise, scale = classify_noise((y1 - y2)[finite])
        sigma = math.sqrt(scale) if noise == "poisson" else (scale / math.sqrt(3) if noise == "uniform" else scale)
    elif varying.any():
        interval = locate_varying_interval(box, xf, varying)
    reps = 64 if noise else 1
    # a coarse grid plus the half-integers, where edges of benchmark functions often fall
    x = np.union1d(np.linspace(LO, HI, n_coarse), np.arange(LO, HI) + 0.5)
    y, var = box.stats(x, reps)
    if noise:  # the scale again, from many more draws: per-input variance over the repeated calls
        v = float(np.nanmean(var))
        scale = {"poisson": v, "uniform": math.sqrt(3 * v), "normal": math.sqrt(v)}[noise]
    if noise == "poisson":
        y = y - scale  # a poisson draw's mean equals its variance
    keep = np.isfinite(y)
    if interval:
        keep &= (x < interval[0]) | (x > interval[1])
    x, y = x[keep], y[keep]
    if len(x) < 8:
        return Interpretation(
            "the function returns no finite output on [-128, 128]",
            "def f(x):\n    return np.nan\n",
            interval,
            noise,
            {"queries": box.queries},
        )
    jumps = find_jumps(box, x, y, reps, sigma)
    yf = (y1 + y2) / 2 - (scale if noise == "poisson" else 0.0)
    if interval and finite.all():  # for the spectrum only: the corrupted stretch set to the mean elsewhere
        inside = (xf >= interval[0]) & (xf <= interval[1])
        yf = np.where(inside, yf[~inside].mean() if (~inside).any() else 0.0, yf)
    fine_ok = bool(finite.all())
    fits = candidate_fits(x, y, xf if fine_ok else None, yf if fine_ok else None, jumps)
    floor = max(sigma * sigma / reps, 1e-8 * float(np.mean(y * y)), 1e-20)
    best = min(fits, key=lambda ft: bic(ft, len(x), floor))
    if interval is None and noise is None:
        interval = _residual_interval(best, x, y, floor)
        if interval:
            out = (x < interval[0]) | (x > interval[1])
            fits = candidate_fits(x[out], y[out], None, None, jumps)
            best = min(fits, key=lambda ft: bic(ft, int(out.sum()), floor))
    undefined = ""
    if not finite[xf < 0].all() and finite[xf > 0].all():
        undefined = "; it is undefined for negative x"
    code = (
        "def f(x):\n    x = np.asarray(x, dtype=float)\n"
        f"    with np.errstate(all='ignore'):\n        return {best.expr}\n"
    )
    return Interpretation(
        _describe(best, noise, scale, interval, undefined),
        code,
        interval,
        noise,
        {"queries": box.queries, "model": best.name, "jumps": len(jumps), "k": best.k},
    )
