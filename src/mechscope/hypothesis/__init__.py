"""Testing circuits: the hypothesis tests of Shi et al. (2024) and, beside them, ground truth to test against.

>>> from mechscope import hypothesis
>>> hypothesis.TESTS
('equivalence', 'independence', 'minimality', 'sufficiency', 'necessity')
"""

from mechscope.hypothesis import criteria
from mechscope.hypothesis.criteria import *  # noqa: F403  the public names are criteria's

__all__ = criteria.__all__
