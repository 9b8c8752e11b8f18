"""Layer 3: equivariance-error kernels, metrics, the Reynolds operator and relaxation.

Each kernel is a validating front (`equivariance_error`, `exact_equivariance_error`,
`lie_derivative_error`) over a pure core (`sampled_errors`, `exact_errors`, `lie_errors`)
that the penalty of `symreg.regularizers` shares (docs/architecture.md, "One error
evaluation"). Nothing here jits itself: jit the caller.
"""

from symreg.equivariance._core import exact_errors, lie_errors, sampled_elements, sampled_errors
from symreg.equivariance._kernels import (
    equivariance_error,
    exact_equivariance_error,
    lie_derivative_error,
)
from symreg.equivariance._lie import lie_derivatives
from symreg.equivariance._metrics import (
    METRICS,
    Metric,
    get_metric,
    kl,
    l2,
    max_abs,
    relative,
    squared_l2,
)
from symreg.equivariance._pairs import pairwise_errors, reynolds_average
from symreg.equivariance._reynolds import relax, symmetrize

__all__ = [
    "METRICS",
    "Metric",
    "equivariance_error",
    "exact_equivariance_error",
    "exact_errors",
    "get_metric",
    "kl",
    "l2",
    "lie_derivative_error",
    "lie_derivatives",
    "lie_errors",
    "max_abs",
    "pairwise_errors",
    "relative",
    "relax",
    "reynolds_average",
    "sampled_elements",
    "sampled_errors",
    "squared_l2",
    "symmetrize",
]
