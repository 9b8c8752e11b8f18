"""Closed forms used by the tests, the tuning rules and the plots (imports only layer 0)."""

from symreg.theory._generalization import (
    character_inner,
    elesedy_zaidi_gap,
    elesedy_zaidi_gap_equivariant,
    fixed_space_projection,
    misspecified_gap,
)
from symreg.theory._tradeoff import (
    approximation_error,
    estimation_variance,
    optimal_shrinkage,
    optimal_target,
    optimal_weight,
)

__all__ = [
    "approximation_error",
    "character_inner",
    "elesedy_zaidi_gap",
    "elesedy_zaidi_gap_equivariant",
    "estimation_variance",
    "fixed_space_projection",
    "misspecified_gap",
    "optimal_shrinkage",
    "optimal_target",
    "optimal_weight",
]
