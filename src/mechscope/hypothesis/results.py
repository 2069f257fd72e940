"""The results of the circuit hypothesis tests: one frozen dataclass per kind of test, JSON-ready.

>>> EquivalenceResult(0.5, 1.0, True, 0.05, 0.1, 40, 0, 20).to_dict()["passed"]
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["EquivalenceResult", "IndependenceResult", "MinimalityResult", "RandomCircuitResult", "Result"]


class _AsDict:
    def to_dict(self) -> dict:
        """Plain JSON-ready data (tuples become lists)."""
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class EquivalenceResult(_AsDict):
    """Equivalence: H0 ``|P(s_C > s_M) - 1/2| <= epsilon``; `passed` iff not rejected (``p_value > alpha``).

    `statistic` is the fraction of untied examples where the circuit beats the model
    (`wins` of `n - n_ties`).
    """

    statistic: float
    p_value: float
    passed: bool
    alpha: float
    epsilon: float
    n: int
    n_ties: int
    wins: int
    test: str = "equivalence"
    null: str = "P(circuit beats model) is within 1/2 +- epsilon; the circuit passes unless this is rejected"


@dataclass(frozen=True)
class IndependenceResult(_AsDict):
    """Independence: H0 ``s(M without C)`` independent of ``s_M``; `passed` iff not rejected.

    `statistic` is the biased HSIC estimate ``trace(K H L H) / n^2`` with Gaussian
    kernels of median-heuristic `bandwidths` (knocked-out scores, model scores).
    """

    statistic: float
    p_value: float
    passed: bool
    alpha: float
    n: int
    n_permutations: int
    bandwidths: tuple[float, float]
    test: str = "independence"
    null: str = "scores with the circuit knocked out are independent of the model's; passes unless rejected"


@dataclass(frozen=True)
class MinimalityResult(_AsDict):
    """Minimality: per edge e, H0_e ``P(delta(e, C) > delta(e_r, C_r)) >= quantile``; Holm-corrected.

    `passed` iff no edge's H0 is rejected; `not_needed` lists the rejected edges.
    `statistic` is the smallest empirical quantile ``#{delta_e > delta_r} / n_random``
    over the tested edges; `p_value` the smallest Holm-adjusted p-value. With
    `sampled`, only `edges_tested` (a seeded random subset of `circuit_edges`) were tested.
    """

    statistic: float
    p_value: float
    passed: bool
    alpha: float
    quantile: float
    n: int
    n_random: int
    circuit_edges: int
    sampled: bool
    edges_tested: tuple[str, ...]
    edge_effects: dict[str, float]
    p_values: dict[str, float]
    adjusted_p_values: dict[str, float]
    not_needed: tuple[str, ...]
    random_effects: tuple[float, ...]
    correction: str = "holm"
    note: str = ""
    test: str = "minimality"
    null: str = ("each edge matters at least as much as a random added edge in a fraction >= quantile of draws; "
                 "passes unless rejected for some edge")


@dataclass(frozen=True)
class RandomCircuitResult(_AsDict):
    """Sufficiency or partial necessity: the circuit against `n_random` random circuits of its size.

    `circuit_loss` and `random_losses` are faithfulness losses ``mean_i (s_i - s_M,i)^2``
    of the circuit alone (sufficiency: smaller is better) or of the model with the
    circuit knocked out (necessity: larger is better). `statistic` is the fraction
    of random circuits the circuit strictly beats. H0: the circuit is no better
    than a random circuit (with `quantile` q: it beats one with probability <= q);
    `passed` iff H0 is rejected (``p_value <= alpha``).
    """

    statistic: float
    p_value: float
    passed: bool
    alpha: float
    n: int
    n_random: int
    circuit_size: int
    random_size_mean: float
    circuit_loss: float
    random_losses: tuple[float, ...]
    quantile: float | None
    note: str = ""
    test: str = "sufficiency"
    null: str = ""


Result = EquivalenceResult | IndependenceResult | MinimalityResult | RandomCircuitResult
