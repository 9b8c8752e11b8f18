"""The s.e. of the fold statistics against the spread over independent data sets.

Least squares on a linear f* with heavy noise (fold fits whose defect variance is about 2η₂,
where the earlier rule counted the evaluation noise twice): over R data sets with fixed keys,
z = (η̂ − η₂)/s.e. must have a standard deviation near 1. The earlier rule gave 0.78 here, the
current one 0.92; with R = 200 the s.d. of z is itself known to about ±0.05."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import symreg
from symreg.actions import Permutation
from symreg.estimators import LinearRegressor, estimate_data_error
from symreg.groups import Symmetric

N, SIGMA, REPLICATES = 400, 4.0, 200
THETA = jnp.array([1.5, 1.0, 1.0])
SYM = symreg.Symmetry(Symmetric(3), Permutation())


def test_stderr_matches_the_spread_over_data_sets():
    eta = float(2 * jnp.sum((THETA - THETA.mean()) ** 2))
    z = []
    for r in range(REPLICATES):
        kx, kn, ke = jax.random.split(jax.random.key(r), 3)
        x = jax.random.normal(kx, (N, 3))
        y = x @ THETA + SIGMA * jax.random.normal(kn, (N,))
        est = estimate_data_error(
            x, y, symmetry=SYM, key=ke, method="crossfit", regressor=LinearRegressor(degree=1),
            folds=4,
        )  # fmt: skip
        z.append((float(est.value) - eta) / float(est.stderr))
    z = np.array(z)  # its mean is not tested: a larger η̂ comes with a larger s.e.
    assert 0.85 <= z.std() <= 1.15, z.std()
