"""Tests of symreg.estimators: data equivariance error estimates against a known η.

Synthetic tasks (tests/estimator_tasks.py) have closed-form η₂; every statistical assertion
is a bound in standard errors with fixed keys. Method/group coverage of the accuracy tests:

| method   | perm (S_4) | so2 (SO(2))         | so3 (irreps, 6-D x)             | so3v (irreps, 3-D x) |
|----------|------------|---------------------|---------------------------------|----------------------|
| oracle   | yes        | yes                 | yes                             | yes                  |
| crossfit | yes        | yes (+ default MLP) | yes                             | —                    |
| riskgap  | yes        | yes                 | yes                             | —                    |
| pairing  | yes        | no: finite groups   | no: finite groups               | no: finite groups    |
| mmd      | yes        | yes                 | no: bias about −14% at N=4096   | yes                  |

mmd smooths over the inputs with a kernel, so its bias grows with the input dimension: on the
6-D so3 task it underestimates by about 14% at N = 4096 (documented in `_mmd.py`); on 3-D
irreps inputs it is within tolerance, with a large standard error.

Compilation dominates the cost, so the module compiles with XLA optimizations off
(`fast_compile`), and `run` caches each estimate for the tests that share it.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from estimator_tasks import TASKS, oracle_break_error

import symreg
from symreg.actions import Permutation, Trivial, Vector
from symreg.estimators import (
    METHODS,
    Estimate,
    LinearRegressor,
    MLPRegressor,
    estimate_data_error,
)
from symreg.groups import SO2, RotationRange, Symmetric

#: |estimate − η| <= max(Z_ACCURACY · s.e., REL_ACCURACY · η) at N = N_LARGE.
Z_ACCURACY = 3.0
REL_ACCURACY = 0.10
#: Data with η = 0 must give |estimate| <= Z_NULL · s.e. + NULL_ATOL (float32 rounding: the
#: exact oracle's value and s.e. are both ~1e-14 there).
Z_NULL = 4.0
NULL_ATOL = 1e-6
#: The oracle matches the closed forms within this many s.e., and its s.e. is this precise.
Z_ORACLE = 4.0
ORACLE_REL_SE = 0.015
#: s.e.(N_LARGE) / s.e.(N_SMALL) must stay below this (expected √(512/4096) ≈ 0.35).
MAX_SE_RATIO = 0.75
N_SMALL, N_LARGE = 512, 4096

pytestmark = pytest.mark.usefixtures("fast_compile")

COVERED = [
    ("oracle", "perm"), ("oracle", "so2"), ("oracle", "so3"),
    ("crossfit", "perm"), ("crossfit", "so2"), ("crossfit", "so3"),
    ("riskgap", "perm"), ("riskgap", "so2"), ("riskgap", "so3"),
    ("pairing", "perm"),
    ("mmd", "perm"), ("mmd", "so2"), ("oracle", "so3v"), ("mmd", "so3v"),
]  # fmt: skip
SLOW = {
    ("mmd", "perm"), ("mmd", "so2"), ("pairing", "perm"), ("crossfit", "perm"),
    ("crossfit", "so3"), ("riskgap", "so3"), ("oracle", "so3"), ("mmd", "so3v"),
}  # fmt: skip


def _params(pairs):
    marks = lambda p: [pytest.mark.slow] if p in SLOW else []
    return [pytest.param(m, t, marks=marks((m, t)), id=f"{m}-{t}") for m, t in pairs]


def _options(method, task):
    if method == "oracle":
        return {"target_fn": task.target}
    if method in ("crossfit", "riskgap"):
        return {"regressor": LinearRegressor(degree=task.degree)}
    return {"num_samples": 4} if method == "pairing" else {}


@functools.cache
def run(method: str, name: str, n: int, null: bool = False) -> tuple[Estimate, float]:
    """The estimate of `method` on task `name` with N = n (η = 0 if `null`) and the true η."""
    task = TASKS[name].with_eps(0.0) if null else TASKS[name]
    x, y = task.sample(jax.random.key(10 + null), n)
    est = estimate_data_error(
        x, y, symmetry=task.symmetry, key=jax.random.key(20), method=method,
        **_options(method, task),
    )  # fmt: skip
    return est, task.eta


# --- accuracy -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TASKS))
def test_oracle_matches_closed_form(name):
    est = oracle_break_error(name, jax.random.key(3))
    assert abs(float(est.value) - TASKS[name].break_error) <= Z_ORACLE * float(est.stderr)
    assert float(est.stderr) < ORACLE_REL_SE * TASKS[name].break_error


@pytest.mark.parametrize(("method", "name"), _params(COVERED))
def test_accuracy_at_large_n(method, name):
    est, eta = run(method, name, N_LARGE)
    assert est.is_reliable, est.reason
    tol = max(Z_ACCURACY * float(est.stderr), REL_ACCURACY * eta)
    assert abs(float(est.value) - eta) <= tol, (est, eta)


@pytest.mark.parametrize(("method", "name"), _params(COVERED))
def test_stderr_shrinks_with_n(method, name):
    small, _ = run(method, name, N_SMALL)
    large, eta = run(method, name, N_LARGE)
    assert float(large.stderr) < MAX_SE_RATIO * float(small.stderr), (small, large)
    assert abs(float(large.value) - eta) < abs(float(small.value) - eta) + Z_ACCURACY * float(
        large.stderr
    )


@pytest.mark.parametrize(("method", "name"), _params(COVERED))
def test_zero_error_data(method, name):
    est, eta = run(method, name, N_SMALL, null=True)
    assert eta == 0.0
    assert est.is_reliable, est.reason
    assert abs(float(est.value)) <= Z_NULL * float(est.stderr) + NULL_ATOL, est


@pytest.mark.slow
def test_default_call_uses_an_mlp_and_is_accurate():
    """The default: method="crossfit" with MLPRegressor(), on an easy task (x ∈ R², N = 4096)."""
    task = TASKS["so2"]
    x, y = task.sample(jax.random.key(5), N_LARGE)
    est = estimate_data_error(x, y, symmetry=task.symmetry, key=jax.random.key(6))
    assert est.method == "crossfit" and est.is_reliable
    tol = max(Z_ACCURACY * float(est.stderr), REL_ACCURACY * task.eta)
    assert abs(float(est.value) - task.eta) <= tol, (est, task.eta)


# --- determinism, pytree, repr --------------------------------------------------------------


def test_deterministic_for_a_key_and_key_dependent():
    task = TASKS["perm"]
    x, y = task.sample(jax.random.key(0), N_SMALL)  # shapes compiled by the tests above
    kw = dict(symmetry=task.symmetry, regressor=LinearRegressor(degree=2))
    a = estimate_data_error(x, y, key=jax.random.key(1), **kw)
    b = estimate_data_error(x, y, key=jax.random.key(1), **kw)
    c = estimate_data_error(x, y, key=jax.random.key(2), **kw)
    assert float(a.value) == float(b.value) and float(a.stderr) == float(b.stderr)
    assert float(a.value) != float(c.value)


def test_estimate_is_a_pytree_with_static_metadata():
    est = Estimate(jnp.float32(0.5), jnp.float32(0.1), method="crossfit", n=10)
    leaves, treedef = jax.tree.flatten(est)
    assert len(leaves) == 2
    doubled = jax.jit(lambda e: jax.tree.map(lambda a: 2 * a, e))(est)
    assert float(doubled.value) == 1.0 and doubled.method == "crossfit" and doubled.n == 10
    assert repr(est) == "Estimate(0.5 ± 0.1, method='crossfit', n=10, metric='sq')"
    flagged = Estimate.flagged(0.3, method="mmd", n=4, reason="why")
    assert not flagged.is_reliable and np.isinf(float(flagged.stderr))
    assert "reason='why'" in repr(flagged)


def test_oracle_exact_for_finite_groups_and_other_metrics():
    sym = symreg.Symmetry(Symmetric(3), Permutation())
    x = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]])
    first = lambda xb: xb[:, 0]
    est = estimate_data_error(
        x, x[:, 0], symmetry=sym, key=jax.random.key(0), method="oracle", target_fn=first
    )
    # per example: mean over S_3 of (x_{p(0)} − x_0)²: (0 + 0 + 1 + 1 + 4 + 4)/6, (0+0+0+0+1+1)/6
    np.testing.assert_allclose(float(est.value), (10 / 6 + 2 / 6) / 2, rtol=1e-6)
    l2 = estimate_data_error(
        x, x[:, 0], symmetry=sym, key=jax.random.key(0), method="oracle", target_fn=first,
        metric="l2",
    )  # fmt: skip
    assert l2.metric == "l2" and float(l2.value) < float(est.value)


# --- regressors -----------------------------------------------------------------------------


@pytest.mark.slow
def test_regressors_are_hashable_and_fit():
    x = jax.random.normal(jax.random.key(0), (128, 3))
    y = {"a": x[:, :1] * x[:, 1:2], "b": x[:, 2]}
    for reg in (LinearRegressor(degree=2), MLPRegressor(hidden=(16,), steps=50)):
        assert hash(reg) == hash(type(reg)(**vars(reg)))
        pred = reg.fit(x, y, jax.random.key(1))(x[:5])
        assert pred["a"].shape == (5, 1) and pred["b"].shape == (5,)
    pred = LinearRegressor(degree=2).fit(x, y, jax.random.key(1))(x)
    np.testing.assert_allclose(pred["a"], y["a"], atol=1e-3)
    feats = LinearRegressor(features=lambda xf: jnp.concatenate([xf, xf[:, :1] ** 0], -1))
    np.testing.assert_allclose(feats.fit(x, y["b"], None)(x), y["b"], atol=1e-4)


@pytest.mark.parametrize(
    ("cls", "kwargs", "err"),
    [
        (LinearRegressor, {"degree": 0}, ValueError),
        (LinearRegressor, {"ridge": -1.0}, ValueError),
        (LinearRegressor, {"features": 3}, TypeError),
        (MLPRegressor, {"hidden": (0,)}, ValueError),
        (MLPRegressor, {"activation": "sigmoid"}, ValueError),
        (MLPRegressor, {"steps": 1.5}, TypeError),
    ],
)
def test_regressor_arguments_are_checked(cls, kwargs, err):
    with pytest.raises(err):
        cls(**kwargs)


# --- errors and flags -----------------------------------------------------------------------

SYM = symreg.Symmetry(Symmetric(4), Permutation())
X = jax.random.normal(jax.random.key(0), (64, 4))
Y = X[:, 0] + X.sum(1)


def _call(x=X, y=Y, method="crossfit", **kw):
    kw.setdefault("symmetry", SYM)
    kw.setdefault("key", jax.random.key(0))
    if method in ("crossfit", "riskgap"):
        kw.setdefault("regressor", LinearRegressor())
    return estimate_data_error(x, y, method=method, **kw)


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"method": "bootstrap"}, ValueError, "one of"),
        ({"bandwidth": 1.0}, TypeError, "unknown options"),
        ({"metric": "l2"}, ValueError, "metric='sq'"),
        ({"y": Y[:-1]}, ValueError, "same number of examples"),
        ({"x": X.at[3, 1].set(jnp.nan)}, ValueError, r"x contains NaN"),
        ({"y": Y.at[5].set(jnp.inf)}, ValueError, r"y contains NaN"),
        ({"y": jnp.ones(64)}, ValueError, "constant"),
        ({"folds": 2}, ValueError, "folds"),
        ({"folds": 40}, ValueError, "at least 80"),
        ({"x": X[:, :3]}, ValueError, "x"),
        ({"key": 0}, TypeError, "key"),
        ({"symmetry": "S4"}, TypeError, "symmetry"),
        ({"regressor": object()}, TypeError, "regressor"),
        ({"method": "oracle"}, TypeError, "target_fn"),
        ({"x": X.astype(jnp.int32)}, TypeError, "floating"),
    ],
)
def test_invalid_inputs_raise(kwargs, err, match):
    with pytest.raises(err, match=match):
        _call(**kwargs)


def test_group_requirements():
    so2 = symreg.Symmetry(SO2(), Vector())
    x2 = jax.random.normal(jax.random.key(0), (32, 2))
    with pytest.raises(TypeError, match="finite group"):
        estimate_data_error(x2, x2[:, 0], symmetry=so2, key=jax.random.key(0), method="pairing")
    partial = symreg.Symmetry(RotationRange(0.3), Vector())
    for method in ("riskgap", "mmd"):
        with pytest.raises(ValueError, match="Haar"):
            estimate_data_error(
                x2, x2[:, 0], symmetry=partial, key=jax.random.key(0), method=method
            )


@pytest.mark.parametrize("method", ["pairing", "mmd"])
def test_non_invariant_input_law_is_flagged(method):
    scale = jnp.array([0.05, 1.0, 1.0, 1.0])  # S_4 moves the narrow axis: not invariant
    x = jax.random.normal(jax.random.key(0), (N_SMALL, 4)) * scale
    opts = _options(method, TASKS["perm"])
    est = estimate_data_error(
        x, x.sum(1), symmetry=SYM, key=jax.random.key(1), method=method, **opts
    )
    assert not est.is_reliable and np.isinf(float(est.stderr)) and "invariant" in est.reason


def test_diverged_fit_is_flagged():
    class Diverging:
        def fit(self, x, y, key):
            return lambda xb: jnp.full(xb.shape[:1], jnp.nan)

    x, y = TASKS["perm"].sample(jax.random.key(0), N_SMALL)
    est = _call(x, y, regressor=Diverging())
    assert not est.is_reliable and "non-finite" in est.reason


def test_pytree_inputs_and_outputs():
    sym = symreg.Symmetry(Symmetric(3), (Permutation(), Trivial()), Permutation())
    kx, kc = jax.random.split(jax.random.key(0))
    x = (jax.random.normal(kx, (512, 3)), jax.random.normal(kc, (512, 2)))
    y = x[0] * x[1][:, :1] + 0.3 * x[0][:, :1]  # equivariant part + a broken part
    reg = LinearRegressor(degree=2)
    est = estimate_data_error(x, y, symmetry=sym, key=jax.random.key(1), regressor=reg)
    assert est.is_reliable and float(est.value) > 0


def test_methods_are_listed():
    assert sorted(METHODS) == ["crossfit", "mmd", "oracle", "pairing", "riskgap"]
