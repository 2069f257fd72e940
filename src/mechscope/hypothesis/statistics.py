"""The statistics behind the circuit hypothesis tests, on per-example score vectors ``[n]``.

No model is involved here: equivalence is an exact binomial test on the fraction of
examples where the circuit beats the model, independence an HSIC permutation test,
and `holm` the step-down correction minimality applies over edges.

>>> import torch
>>> model = torch.tensor([1.0, 2.0, 3.0, 4.0] * 10)
>>> equivalence(model + 0.1 * torch.tensor([1.0, -1.0] * 20), model).passed
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy import stats

from mechscope.errors import MechscopeError
from mechscope.hypothesis.results import EquivalenceResult, IndependenceResult

__all__ = ["equivalence", "holm", "hsic", "independence"]


# equivalence ----------------------------------------------------------------
def equivalence(circuit_scores: torch.Tensor | Sequence[float], model_scores: torch.Tensor | Sequence[float], *,
                epsilon: float = 0.1, alpha: float = 0.05, tie_tol: float = 0.0) -> EquivalenceResult:
    """The paper's equivalence test on per-example scores ``[n]`` (higher is better).

    H0: ``|P(s_C > s_M) - 1/2| <= epsilon`` (the circuit is as likely to beat the
    model as to lose to it, within `epsilon`). With k wins among m untied examples
    and ``t = |k/m - 1/2|``, the p-value is ``P(|K/m - 1/2| >= t)`` for
    ``K ~ Binomial(m, 1/2 + epsilon)``, the null's least favourable point. The
    circuit passes unless H0 is rejected: ``p_value > alpha``. Examples with
    ``|s_C - s_M| <= tie_tol`` are dropped (sign-test convention).

    >>> import torch
    >>> model = torch.arange(40.0)
    >>> res = equivalence(model - 1.0, model)  # the circuit loses on every example
    >>> res.statistic, res.passed
    (0.0, False)
    >>> equivalence(model, model).passed  # all ties: the circuit is the model
    True
    """
    c, m = _vector(circuit_scores, "circuit_scores"), _vector(model_scores, "model_scores")
    _same_length(c, m, "circuit_scores", "model_scores")
    if not 0.0 <= epsilon < 0.5:
        raise MechscopeError(f"epsilon must be in [0, 0.5), got {epsilon}; the paper uses 0.1")
    _check_alpha(alpha)
    d = c - m
    tied = np.abs(d) <= tie_tol
    n_eff = int((~tied).sum())
    wins = int((d > tie_tol).sum())
    if n_eff == 0:
        return EquivalenceResult(0.5, 1.0, True, alpha, epsilon, len(d), int(tied.sum()), 0)
    # |k/m - 1/2| >= |wins/m - 1/2|  <=>  |2k - m| >= |2 wins - m|, in integers
    ks = np.arange(n_eff + 1)
    region = np.abs(2 * ks - n_eff) >= abs(2 * wins - n_eff)
    p = 1.0 if region.all() else float(min(1.0, stats.binom.pmf(ks[region], n_eff, 0.5 + epsilon).sum()))
    return EquivalenceResult(wins / n_eff, p, p > alpha, alpha, epsilon, len(d), int(tied.sum()), wins)


# independence ---------------------------------------------------------------
def _gram(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Gaussian kernel matrix ``[n, n]`` with the median-heuristic bandwidth, and that bandwidth."""
    d = np.abs(x[:, None] - x[None, :])
    upper = d[np.triu_indices(len(x), 1)]
    nonzero = upper[upper > 0]
    if len(nonzero) == 0:  # constant: the kernel is all ones and HSIC is 0
        return np.ones_like(d), 0.0
    sigma = float(np.median(upper))
    if sigma == 0.0:  # most pairs tie: use the median of the distinct distances
        sigma = float(np.median(nonzero))
    return np.exp(-(d**2) / (2 * sigma**2)), sigma


def hsic(x: torch.Tensor | Sequence[float], y: torch.Tensor | Sequence[float]) -> float:
    """Biased HSIC estimate ``trace(K H L H) / n^2`` (Gretton et al. 2007), Gaussian kernels, median heuristic.

    >>> round(hsic([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]), 4) > 0
    True
    >>> hsic([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    0.0
    """
    a, b = _vector(x, "x"), _vector(y, "y")
    _same_length(a, b, "x", "y")
    k, sx = _gram(a)
    lm, sy = _gram(b)
    if sx == 0.0 or sy == 0.0:  # a constant is independent of everything
        return 0.0
    return float((_center(k) * lm).sum() / len(a) ** 2)


def _center(k: np.ndarray) -> np.ndarray:
    return k - k.mean(0, keepdims=True) - k.mean(1, keepdims=True) + k.mean()


def independence(knockout_scores: torch.Tensor | Sequence[float], model_scores: torch.Tensor | Sequence[float], *,
                 n_permutations: int = 1000, alpha: float = 0.05, seed: int = 0) -> IndependenceResult:
    """HSIC permutation test of H0: scores with the circuit knocked out are independent of the model's.

    The model scores are permuted `n_permutations` times (seeded); the p-value is
    ``(1 + #{HSIC_perm >= HSIC_obs}) / (1 + n_permutations)``. The circuit passes
    unless H0 is rejected: ``p_value > alpha``.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(50, generator=g)
    >>> independence(x**2 + 0.01 * torch.randn(50, generator=g), x, n_permutations=199).p_value
    0.005
    """
    a, b = _vector(knockout_scores, "knockout_scores"), _vector(model_scores, "model_scores")
    _same_length(a, b, "knockout_scores", "model_scores")
    _check_alpha(alpha)
    if n_permutations < 1:
        raise MechscopeError(f"n_permutations must be at least 1, got {n_permutations}; e.g. use 1000")
    n = len(a)
    k, sx = _gram(a)
    lm, sy = _gram(b)
    if sx == 0.0 or sy == 0.0:  # a constant is independent of everything
        return IndependenceResult(0.0, 1.0, True, alpha, n, n_permutations, (sx, sy))
    kc = _center(k)
    observed = float((kc * lm).sum() / n**2)
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(n) for _ in range(n_permutations)])
    chunk = max(1, 4_000_000 // max(1, n * n))
    null = []
    for start in range(0, n_permutations, chunk):
        p = perms[start : start + chunk]
        lp = lm[p[:, :, None], p[:, None, :]]  # [chunk, n, n]
        null.append((kc[None] * lp).sum((1, 2)) / n**2)
    null_stats = np.concatenate(null)
    # sums of the same numbers in another order can differ in the last bits: count near-ties as >=
    ge = int((null_stats >= observed - 1e-12 * max(1.0, abs(observed))).sum())
    p_value = (1 + ge) / (1 + n_permutations)
    return IndependenceResult(observed, p_value, p_value > alpha, alpha, n, n_permutations, (sx, sy))


# multiple testing -------------------------------------------------------------
def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control under any dependence).

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out


# checks -------------------------------------------------------------------------
def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise MechscopeError(f"alpha must be in (0, 1), got {alpha}; e.g. use 0.05")


def _vector(x: torch.Tensor | Sequence[float], name: str) -> np.ndarray:
    a = x.detach().double().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise MechscopeError(f"{name} must be one score per example, shape [n], got shape {a.shape}")
    if not np.isfinite(a).all():
        raise MechscopeError(f"{name} has NaN or infinite scores; check the task metric")
    return a


def _same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise MechscopeError(f"{name_a} has {len(a)} examples and {name_b} {len(b)}; score the same examples")
    if len(a) == 0:
        raise MechscopeError(f"{name_a} is empty; score at least one example")
