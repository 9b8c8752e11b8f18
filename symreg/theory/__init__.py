"""Closed forms used by the tests, the tuning rules and the plots (imports only layer 0)."""

from symreg.theory._tradeoff import (
    approximation_error,
    estimation_variance,
    optimal_shrinkage,
    optimal_target,
    optimal_weight,
)

__all__ = [
    "approximation_error",
    "estimation_variance",
    "optimal_shrinkage",
    "optimal_target",
    "optimal_weight",
]
