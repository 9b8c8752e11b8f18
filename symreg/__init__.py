"""symreg: differentiable symmetry regularization in JAX.

Measure how equivariant a model is (`equivariance_error`, `exact_equivariance_error`,
`lie_derivative_error`), symmetrize or relax it (`symmetrize`, `relax`), and test it
(`symreg.testing.assert_equivariant`), estimate how symmetric data is
(`estimate_data_error`), and train with the right amount of symmetry
(the `SymmetryPenalty` spec, `symmetry_penalty`, `regularized_loss`,
`add_symmetry_penalty`, `symreg.tuning`). Groups live
in `symreg.groups`, actions and the `Symmetry` spec in `symreg.actions`; the Flax adapter is
`symreg.flax` (imported on its own, so the core never imports Flax).

The subpackages and names below are imported on first use (PEP 562), so `import symreg` is
cheap: the command line answers `symreg --help` without importing JAX.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy names resolve to, for type checkers and readers
    from symreg import (
        actions,
        debug,
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
    from symreg.regularizers import (
        SymmetryPenalty,
        add_symmetry_penalty,
        regularized_loss,
        symmetry_penalty,
    )

__version__ = "0.1.0.dev0"

_SUBPACKAGES = (
    "actions",
    "debug",
    "equivariance",
    "estimators",
    "groups",
    "regularizers",
    "sharding",
    "testing",
    "theory",
    "tuning",
)
#: Re-exported name -> the subpackage that defines it.
_NAMES = {
    "Symmetry": "actions",
    "equivariance_error": "equivariance",
    "exact_equivariance_error": "equivariance",
    "lie_derivative_error": "equivariance",
    "relax": "equivariance",
    "symmetrize": "equivariance",
    "Estimate": "estimators",
    "estimate_data_error": "estimators",
    "SymmetryPenalty": "regularizers",
    "add_symmetry_penalty": "regularizers",
    "regularized_loss": "regularizers",
    "symmetry_penalty": "regularizers",
}

__all__ = [
    "Estimate",
    "Symmetry",
    "SymmetryPenalty",
    "actions",
    "add_symmetry_penalty",
    "debug",
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


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        value = importlib.import_module(f"symreg.{name}")
    elif name in _NAMES:
        value = getattr(importlib.import_module(f"symreg.{_NAMES[name]}"), name)
    else:
        raise AttributeError(f"module 'symreg' has no attribute {name!r}")
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
