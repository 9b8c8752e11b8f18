"""The bad-input battery of `symreg.estimators`: the data, the methods, regressors, `Estimate`.

Each case raises a readable ValueError or TypeError that names the argument and what was
expected (tests/bad_input_helpers.py: the tables). Degenerate but legal inputs (an
interpolating fit, data whose squares overflow) give a flagged `Estimate` instead.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import pytest
from bad_input_helpers import KEY, ROT, X2, T, V, assert_readable_error, estimate

import symreg
from symreg.actions import Permutation
from symreg.estimators import LinearRegressor, estimate_data_error
from symreg.groups import Symmetric

#: Compile-bound: many small programs compiled once each (tests/conftest.py, fast_compile).
pytestmark = pytest.mark.usefixtures("fast_compile")


def data(n=64, *, bad_x=None, bad_y=None):
    x = jax.random.normal(jax.random.key(3), (n, 3))
    y = x.sum(1) + 0.5 * x[:, 0]
    return (x if bad_x is None else bad_x), (y if bad_y is None else bad_y)


PERM = symreg.Symmetry(Symmetric(3), Permutation())


@dataclasses.dataclass(frozen=True)
class BadRegressor:
    """A user regressor whose fit returns no function, or predictions of the wrong shape."""

    returns: str

    def fit(self, x, y, key):
        if self.returns == "coefficients":
            return "coefficients"
        return lambda xb: jnp.zeros((xb.shape[0], 1))


LINEAR = LinearRegressor()


def est(x=None, y=None, n=64, symmetry=PERM, **kw):
    xd, yd = data(n)
    kw = {"regressor": LINEAR} | kw if kw.get("method", "crossfit") == "crossfit" else kw
    return estimate_data_error(
        xd if x is None else x, yd if y is None else y, symmetry=symmetry, key=KEY, **kw
    )


#: id -> (call, exception type, regex that the message must match)
CASES = {
    "estimate-negative-stderr": (
        lambda: estimate(stderr=-0.1),
        V,
        r"stderr must be >= 0 \(or \+inf when flagged\)",
    ),
    "estimate-nan-value-not-flagged": (
        lambda: estimate(value=math.nan),
        V,
        r"value must be finite, got .*nan.*Estimate.flagged",
    ),
    "estimate-zero-n": (lambda: estimate(n=0), V, r"n must be >= 1 \(the number of examples\)"),
    "estimate-nan-in-x": (
        lambda: est(x=data()[0].at[3, 1].set(jnp.nan)),
        V,
        r"x contains NaN or Inf \(first at index \[3, 1\]\)",
    ),
    "estimate-inf-in-y": (
        lambda: est(y=data()[1].at[5].set(jnp.inf)),
        V,
        r"y contains NaN or Inf \(first at index \[5\]\)",
    ),
    "estimate-different-n": (
        lambda: est(y=data()[1][:63]),
        V,
        r"x and y must have the same number of examples N, got 64 and 63",
    ),
    "estimate-n-too-small-for-crossfit": (
        lambda: est(*data(5)),
        V,
        r"x has N = 5 examples; this method needs at least 6",
    ),
    "estimate-n-too-small-for-the-folds": (
        lambda: est(*data(10)),
        V,
        r"x has N = 10 examples; folds=8 needs at least 16",
    ),
    "estimate-constant-y": (
        lambda: est(y=jnp.ones(64)),
        V,
        r"y is constant \(every example equal\)",
    ),
    "estimate-duplicated-x": (
        lambda: est(x=jnp.tile(jnp.array([[1.0, 0.0, 0.0]]), (64, 1))),
        V,
        r"x is constant \(every example equal\)",
    ),
    "estimate-unknown-method": (
        lambda: est(method="bogus"),
        V,
        r"method must be one of \['crossfit', 'mmd', 'oracle', 'pairing', 'riskgap'\], got 'bogus'",
    ),
    "estimate-unknown-option": (
        lambda: est(bandwidth=1.0),
        T,
        r"unknown options \['bandwidth'\] for method='crossfit'",
    ),
    "estimate-integer-y": (
        lambda: est(y=jnp.arange(64)),
        T,
        r"y must have a floating dtype, got int32",
    ),
    "estimate-y-does-not-fit-act-out": (
        lambda: est(symmetry=symreg.Symmetry(Symmetric(3), Permutation(), Permutation())),
        V,
        r"y \(one example\).*expected axis 0 of size 3",
    ),
    "estimate-pairing-on-continuous-group": (
        lambda: est(x=X2.repeat(4, 0), y=jnp.arange(16.0), symmetry=ROT, method="pairing"),
        T,
        r"method='pairing' needs a finite group",
    ),
    "estimate-oracle-without-target": (
        lambda: est(method="oracle"),
        T,
        r"method='oracle' needs target_fn",
    ),
    "estimate-regressor-fit-returns-no-function": (
        lambda: est(regressor=BadRegressor(returns="coefficients")),
        T,
        r"regressor.fit\(x, y, key\) must return a prediction function predict\(x_batch\), got str",
    ),
    "estimate-regressor-predicts-wrong-shape": (
        lambda: est(regressor=BadRegressor(returns="column")),
        V,
        r"outputs shaped like y \(one row per example\): expected leaves of shapes \[\(64,\)\], "
        r"got \[\(64, 1\)\]",
    ),
    "estimate-crossfit-with-l2-metric": (
        lambda: est(metric="l2"),
        V,
        r"method='crossfit' estimates η₂ \(metric='sq'\) only, got metric='l2'",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_a_readable_error(case):
    assert_readable_error(*CASES[case])


@pytest.mark.parametrize("method", ["crossfit", "riskgap"])
def test_interpolating_least_squares_gives_a_flagged_estimate(method):
    """Folds of 8 examples for 11 features (10 slopes + intercept): n <= P + 1 per fit."""
    sym = symreg.Symmetry(Symmetric(10), Permutation())
    x = jax.random.normal(jax.random.key(4), (64, 10))
    y = x.sum(1) + 0.3 * x[:, 0]
    kw = dict(symmetry=sym, key=KEY, method=method, folds=8)
    small = estimate_data_error(x, y, regressor=LinearRegressor(), **kw)
    assert math.isinf(float(small.stderr)) and not small.is_reliable
    assert "as few as 8 examples, but it needs at least 13" in small.reason
    ridge = estimate_data_error(x, y, regressor=LinearRegressor(ridge=0.1), **kw)
    enough = estimate_data_error(x, y, regressor=LinearRegressor(), **(kw | {"folds": 4}))
    assert ridge.is_reliable and enough.is_reliable  # ridge, or folds of 16 >= 13, are fine


def test_overflowing_data_gives_a_flagged_estimate():
    x, y = data()
    result = est(x=x, y=y * 1e30)  # finite data whose squares overflow float32
    assert math.isinf(float(result.stderr)) and not result.is_reliable
    assert "non-finite" in result.reason
