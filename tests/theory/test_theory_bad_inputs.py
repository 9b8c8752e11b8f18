"""The bad-input battery of `symreg.theory`: the closed forms refuse impossible arguments.

Each case raises a readable ValueError (tests/bad_input_helpers.py: the tables).
"""

from __future__ import annotations

import math

import pytest
from bad_input_helpers import V, assert_readable_error

from symreg import theory

#: id -> (call, exception type, regex that the message must match)
CASES = {
    "theory-zero-samples": (
        lambda: theory.elesedy_zaidi_gap(0, 3, 1.0, 1.0),
        V,
        r"n must be >= 1, got 0",
    ),
    "theory-fixed-space-above-d": (
        lambda: theory.elesedy_zaidi_gap(10, 3, 4.0, 1.0),
        V,
        r"dim_fixed must be finite, >= 0 and <= 3",
    ),
    "theory-negative-eta": (
        lambda: theory.approximation_error(-1.0, 0.0),
        V,
        r"eta must be >= 0, got -1.0",
    ),
    "theory-nan-variance": (
        lambda: theory.optimal_shrinkage(1.0, math.nan),
        V,
        r"variance must be a finite number or \+inf, got nan",
    ),
    "theory-negative-noise-variance": (
        lambda: theory.estimation_variance(-1.0, 4, 40, 10),
        V,
        r"sigma2 must be >= 0, got -1.0",
    ),
    "theory-infinite-eta": (
        lambda: theory.optimal_weight(1.0, 5, 40, math.inf),
        V,
        r"eta must be a finite number, got inf",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_a_readable_error(case):
    assert_readable_error(*CASES[case])
