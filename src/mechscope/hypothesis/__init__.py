"""Testing circuits: the hypothesis tests of Shi et al. (2024) and, beside them, ground truth to test against.

>>> from mechscope import hypothesis
>>> hypothesis.TESTS
('equivalence', 'independence', 'minimality', 'sufficiency', 'necessity')
"""

from mechscope.hypothesis.criteria import (
    TESTS, equivalence, independence, minimality, necessity, sufficiency, test_circuit,
)

# The public surface (docs/public-api.md): the five tests, their names and the one call that runs them.
# Result classes, holm, hsic and planned_runs live in mechscope.hypothesis.criteria.
__all__ = ["TESTS", "equivalence", "independence", "minimality", "necessity", "sufficiency", "test_circuit"]
