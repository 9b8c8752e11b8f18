"""The debiased crossfit against fits that shrink: the residual correction removes the fits'
first-order bias, and the plain cross product (the estimator before it) fails the same bound.

The so2 task of tests/estimator_tasks.py (η₂ = 0.625, N = 4096) with ridge-shrunk least squares
on degree-2 features: the features span f*, so only the ridge biases the fits."""

from __future__ import annotations

import jax
from estimator_tasks import TASKS

from symreg.estimators import LinearRegressor, estimate_data_error

Z = 4.0  # standard errors


def _estimate(correction: bool):
    task = TASKS["so2"]
    x, y = task.sample(jax.random.key(10), 4096)
    est = estimate_data_error(
        x, y, symmetry=task.symmetry, key=jax.random.key(20), method="crossfit",
        regressor=LinearRegressor(degree=2, ridge=0.1), correction=correction,
    )  # fmt: skip
    return est, task.eta


def test_debiased_estimate_survives_shrunk_fits():
    est, eta = _estimate(True)
    assert abs(float(est.value) - eta) <= Z * float(est.stderr), (est, eta)


def test_plain_cross_product_is_biased_low_by_the_same_fits():
    est, eta = _estimate(False)
    assert eta - float(est.value) > Z * float(est.stderr), (est, eta)
