"""Layer 5: the differentiable symmetry penalty, a loss wrapper and an optax transformation."""

from symreg.regularizers._loss import regularized_loss
from symreg.regularizers._optax import SymmetryPenaltyState, add_symmetry_penalty
from symreg.regularizers._penalty import METHODS, SymmetryPenalty, symmetry_penalty

__all__ = [
    "METHODS",
    "SymmetryPenalty",
    "SymmetryPenaltyState",
    "add_symmetry_penalty",
    "regularized_loss",
    "symmetry_penalty",
]
