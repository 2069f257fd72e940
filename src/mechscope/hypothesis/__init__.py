"""Testing circuits: the hypothesis tests of Shi et al. (2024) and, beside them, ground truth to test against.

>>> from mechscope import hypothesis
>>> hypothesis.TESTS
('equivalence', 'independence', 'minimality', 'sufficiency', 'necessity')
"""

from mechscope.hypothesis.criteria import (
    TESTS,
    EquivalenceResult,
    IndependenceResult,
    MinimalityResult,
    RandomCircuitResult,
    check_tests,
    equivalence,
    holm,
    hsic,
    independence,
    minimality,
    necessity,
    planned_runs,
    sufficiency,
    test_circuit,
)

__all__ = [
    "TESTS",
    "EquivalenceResult",
    "IndependenceResult",
    "MinimalityResult",
    "RandomCircuitResult",
    "check_tests",
    "equivalence",
    "holm",
    "hsic",
    "independence",
    "minimality",
    "necessity",
    "planned_runs",
    "sufficiency",
    "test_circuit",
]
