"""The "oracle" method: η from a known regression function f*, with the model kernels."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

from symreg import _validation
from symreg.actions import Symmetry
from symreg.equivariance import equivariance_error, exact_equivariance_error
from symreg.estimators._data import check_data
from symreg.estimators._estimate import Estimate
from symreg.estimators._orbits import enumerable
from symreg.estimators._result import per_example

#: Group elements per example when the oracle samples (continuous or large groups).
DEFAULT_SAMPLES = 8


@dataclasses.dataclass(frozen=True)
class _Target:
    """f* as a hashable `apply_fn(params, x)` (one compilation per target function)."""

    fn: Callable[[Any], Any]

    def __call__(self, params: Any, x: Any) -> Any:
        return self.fn(x)


def oracle(
    x: Any,
    y: Any,
    *,
    symmetry: Symmetry,
    key: jax.Array,
    metric: Any = "sq",
    target_fn: Callable[[Any], Any] | None = None,
    num_samples: int | None = None,
    chunk_size: int | None = None,
) -> Estimate:
    """η = ED(f*) on the inputs x for a known f* (`target_fn`); y is only validated.

    Per example i, e_i = mean over elements of m(f*(ρ_in(g)x_i), ρ_out(g)f*(x_i)): all
    elements of a finite group of order <= 64 (exact in g) unless `num_samples` is set,
    otherwise S = `num_samples` (default 8) draws from λ. value = mean e_i, s.e. = sd(e)/√N
    (the e_i are i.i.d.). Any metric of `symreg.equivariance.get_metric` is allowed.
    """
    n = check_data(x, y, symmetry, min_n=2)
    if target_fn is None:
        raise TypeError("method='oracle' needs target_fn, the known f*(x) on a batch")
    _validation.check_callable(target_fn, "target_fn")
    model = _Target(target_fn)
    if num_samples is None and enumerable(symmetry):
        errs = jax.jit(
            lambda xx: exact_equivariance_error(
                model, None, xx, symmetry=symmetry, metric=metric, chunk_size=chunk_size
            )
        )(x)
    else:
        s = DEFAULT_SAMPLES if num_samples is None else num_samples
        errs = jax.jit(
            lambda xx, k: equivariance_error(
                model, None, xx, k, symmetry=symmetry, num_samples=s, metric=metric,
                chunk_size=chunk_size,
            )
        )(x, key)  # fmt: skip
    # A host-side estimate (concrete inputs, a Python result): one compiled kernel call.
    est = per_example(errs.mean(0), method="oracle", n=n)
    return dataclasses.replace(est, metric=getattr(metric, "name", metric))
