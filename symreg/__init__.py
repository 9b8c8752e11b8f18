"""symreg: differentiable symmetry regularization in JAX.

Measure how equivariant a model is (`equivariance_error`, `exact_equivariance_error`,
`lie_derivative_error`), symmetrize or relax it (`symmetrize`, `relax`), and test it
(`symreg.testing.assert_equivariant`), estimate how symmetric data is
(`estimate_data_error`), and train with the right amount of symmetry
(`symmetry_penalty`, `regularized_loss`, `add_symmetry_penalty`, `symreg.tuning`). Groups live
in `symreg.groups`, actions and the `Symmetry` spec in `symreg.actions`; the Flax adapter is
`symreg.flax` (imported on its own, so the core never imports Flax).
"""

from symreg import (
    actions,
    equivariance,
    estimators,
    groups,
    regularizers,
    sharding,
    testing,
    theory,
    tuning,
)
from symreg.actions import Symmetry
from symreg.equivariance import (
    equivariance_error,
    exact_equivariance_error,
    lie_derivative_error,
    relax,
    symmetrize,
)
from symreg.estimators import Estimate, estimate_data_error
from symreg.regularizers import add_symmetry_penalty, regularized_loss, symmetry_penalty

__version__ = "0.1.0.dev0"

__all__ = [
    "Estimate",
    "Symmetry",
    "actions",
    "add_symmetry_penalty",
    "equivariance",
    "equivariance_error",
    "estimate_data_error",
    "estimators",
    "exact_equivariance_error",
    "groups",
    "lie_derivative_error",
    "regularized_loss",
    "regularizers",
    "relax",
    "sharding",
    "symmetrize",
    "symmetry_penalty",
    "testing",
    "theory",
    "tuning",
]
