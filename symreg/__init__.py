"""symreg: differentiable symmetry regularization in JAX.

Measure how equivariant a model is (`equivariance_error`, `exact_equivariance_error`,
`lie_derivative_error`), symmetrize or relax it (`symmetrize`, `relax`), and test it
(`symreg.testing.assert_equivariant`). Groups live in `symreg.groups`, actions and the
`Symmetry` spec in `symreg.actions`.
"""

from symreg import actions, equivariance, groups, testing
from symreg.actions import Symmetry
from symreg.equivariance import (
    equivariance_error,
    exact_equivariance_error,
    lie_derivative_error,
    relax,
    symmetrize,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "Symmetry",
    "actions",
    "equivariance",
    "equivariance_error",
    "exact_equivariance_error",
    "groups",
    "lie_derivative_error",
    "relax",
    "symmetrize",
    "testing",
]
