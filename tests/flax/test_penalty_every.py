"""make_train_step(penalty_every=k): the penalty on every k-th step only, with weight k·β."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import symreg
from symreg.actions import Vector
from symreg.flax import NNXTrainState, SymmetryTrainState, make_train_step
from symreg.groups import SO2

#: Compile-bound: many small programs compiled once each (tests/conftest.py, fast_compile).
pytestmark = pytest.mark.usefixtures("fast_compile")

SYM = symreg.Symmetry(SO2(), Vector())
MSE = lambda p, t: jnp.mean((p - t) ** 2)
#: float32 agreement of two computations of the same update.
ATOL = 1e-6


class Net(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(jnp.tanh(nn.Dense(16)(x)))


def _data():
    x = jax.random.normal(jax.random.key(0), (32, 2))
    return x, x[:, :1] ** 2 + 0.5 * x[:, 1:]


def _linen_state(tuner):
    x, _ = _data()
    model = Net()
    params = model.init(jax.random.key(1), x)["params"]
    return SymmetryTrainState.create(
        apply_fn=model.apply, params=params, tx=optax.sgd(0.05), tuner=tuner, key=jax.random.key(2)
    )


def test_penalty_runs_on_every_kth_step_with_scaled_weight():
    x, y = _data()
    every = jax.jit(
        make_train_step(MSE, penalty=symreg.SymmetryPenalty(SYM, num_samples=2), penalty_every=3)
    )
    full = jax.jit(make_train_step(MSE, penalty=symreg.SymmetryPenalty(SYM, num_samples=2)))
    state = _linen_state(0.5)
    for step in range(6):
        new, m = every(state, x, y)
        if step % 3 == 0:  # the same as a full step with weight 3β
            ref, mref = full(
                state.replace(tuner_state=state.tuner_state._replace(weight=jnp.float32(1.5))), x, y
            )
            assert np.isfinite(float(m["equivariance_error"]))
            np.testing.assert_allclose(m["loss"], mref["loss"], atol=ATOL)
        else:  # a plain step: no penalty, its gradient is the task loss's
            ref, mref = full(
                state.replace(tuner_state=state.tuner_state._replace(weight=jnp.float32(0.0))), x, y
            )
            assert np.isnan(float(m["equivariance_error"]))
            np.testing.assert_allclose(m["loss"], m["task_loss"], atol=ATOL)
        for a, b in zip(jax.tree.leaves(new.params), jax.tree.leaves(ref.params), strict=True):
            np.testing.assert_allclose(a, b, atol=ATOL)
        state = new


def test_controller_updates_on_penalty_steps_only():
    x, y = _data()
    controller = symreg.tuning.dual_ascent(0.0, step_size=1.0, max_weight=10.0)
    step = jax.jit(
        make_train_step(MSE, penalty=symreg.SymmetryPenalty(SYM, num_samples=2), penalty_every=2)
    )
    state = _linen_state(controller)
    counts = []
    for _ in range(5):
        state, _ = step(state, x, y)
        counts.append(int(state.tuner_state.count))
    assert counts == [1, 1, 2, 2, 3]


def test_nnx_step_skips_the_penalty_too():
    x, y = _data()

    class NNXNet(nnx.Module):
        def __init__(self, rngs):
            self.a = nnx.Linear(2, 16, rngs=rngs)
            self.b = nnx.Linear(16, 1, rngs=rngs)

        def __call__(self, x):
            return self.b(jnp.tanh(self.a(x)))

    state = NNXTrainState.create(
        NNXNet(nnx.Rngs(0)), optax.sgd(0.05), tuner=0.5, key=jax.random.key(3)
    )
    step = jax.jit(
        make_train_step(
            MSE,
            penalty=symreg.SymmetryPenalty(SYM, num_samples=2),
            penalty_every=2,
            framework="nnx",
        )
    )
    seen = []
    for _ in range(4):
        state, m = step(state, x, y)
        seen.append(bool(np.isfinite(float(m["equivariance_error"]))))
    assert seen == [True, False, True, False]


@pytest.mark.parametrize("bad", [0, -2, 1.5])
def test_penalty_every_is_validated(bad):
    with pytest.raises((TypeError, ValueError), match="penalty_every"):
        make_train_step(MSE, penalty=symreg.SymmetryPenalty(SYM), penalty_every=bad)
