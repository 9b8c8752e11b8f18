"""The train step's metrics and `regularized_loss`'s aux name the same quantities alike."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import symreg
from symreg.actions import Vector
from symreg.flax import SymmetryTrainState, make_train_step
from symreg.groups import SO2
from symreg.tuning import constant_weight, dual_ascent

RTOL_F32 = 1e-5
SYM = symreg.Symmetry(SO2(), Vector(), Vector())
MODULE = nn.Sequential([nn.Dense(16), nn.tanh, nn.Dense(2)])


def mse(pred, y):
    return jnp.mean((pred - y) ** 2)


def _state(tuner):
    x = jax.random.normal(jax.random.key(2), (16, 2))
    params = MODULE.init(jax.random.key(0), x)["params"]
    state = SymmetryTrainState.create(
        apply_fn=MODULE.apply, params=params, tx=optax.sgd(0.1), tuner=tuner, key=jax.random.key(1)
    )
    return state, x


def test_aux_keys_and_values_match_the_step_metrics():
    """Method "lie" is deterministic, so both fronts compute the very same numbers."""
    state, x = _state(0.3)
    step = jax.jit(
        make_train_step(mse, penalty=symreg.SymmetryPenalty(SYM, method="lie"), rng_streams=())
    )
    _, metrics = step(state, x, x)
    apply = lambda p, xx: MODULE.apply({"params": p}, xx)
    objective = symreg.regularized_loss(
        mse, apply, penalty=symreg.SymmetryPenalty(SYM, method="lie")
    )
    total, aux = objective(state.params, x, x, None, jnp.float32(0.3))
    assert set(aux) == {"task_loss", "equivariance_error"}
    assert set(aux) < set(metrics)
    for name in aux:
        np.testing.assert_allclose(float(aux[name]), float(metrics[name]), rtol=RTOL_F32)
    np.testing.assert_allclose(float(total), float(metrics["loss"]), rtol=RTOL_F32)


@pytest.mark.parametrize("tuner", [0.3, constant_weight(0.3)], ids=["number", "constant"])
def test_constant_weight_reports_a_nan_target(tuner):
    """A constant weight has no target: "target" is present and NaN (documented)."""
    state, x = _state(tuner)
    _, metrics = jax.jit(make_train_step(mse, penalty=symreg.SymmetryPenalty(SYM)))(state, x, x)
    assert "target" in metrics and bool(jnp.isnan(metrics["target"]))
    np.testing.assert_allclose(float(metrics["weight"]), 0.3, rtol=RTOL_F32)


def test_dual_ascent_reports_its_target():
    state, x = _state(dual_ascent(0.05, step_size=0.1, max_weight=10.0))
    _, metrics = jax.jit(make_train_step(mse, penalty=symreg.SymmetryPenalty(SYM)))(state, x, x)
    np.testing.assert_allclose(float(metrics["target"]), 0.05, rtol=RTOL_F32)
