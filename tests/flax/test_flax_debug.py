"""The train step and `regularized_loss` under `symreg.debug.checked`: planted NaNs are named.

The step-level checks (x, the task loss, the penalty, the loss, the gradients, the updated
parameters, the new weight) are traced only while `symreg.debug.checked` traces the step
(docs/architecture.md, One train step). This file needs `symreg.debug`, which the debug
redesign adds; it is skipped where that module does not exist yet.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import symreg
from symreg.actions import Regular
from symreg.flax import NNXTrainState, SymmetryTrainState, make_train_step
from symreg.groups import Cyclic
from symreg.tuning import dual_ascent

debug = pytest.importorskip("symreg.debug")

C4 = symreg.Symmetry(Cyclic(4), Regular())
#: Regular(C4) moves x[3] to position 0 under the element 1 only: example 1 has x[3] = 0.
X_TRAP = jnp.array([[3.0, 2.0, 2.0, 2.0], [3.0, 2.0, 1.0, 0.0], [3.0, 2.0, 2.0, 2.0]])
X_SAFE = jnp.array([[3.0, 2.0, 2.0, 2.0], [3.0, 2.0, 1.0, 1.0], [3.0, 2.0, 2.0, 2.0]])
Y = jnp.ones((3, 1))


def trap(p, x):
    """Invariant sum, NaN when the first entry is 0 (0 · log(negative) = NaN)."""
    return x.sum(-1) + 0.0 * jnp.log(x[..., 0] - 0.5)


def mse(pred, y):
    return jnp.mean((pred - y) ** 2)


def test_regularized_loss_names_the_task_loss():
    objective = symreg.regularized_loss(mse, trap, penalty=symreg.SymmetryPenalty(C4))
    y = Y[:, 0].at[1].set(jnp.nan)
    with pytest.raises(ValueError, match=r"the task loss loss_fn\(f\(x\), y\) is not finite"):
        debug.checked(objective)(None, X_SAFE, y, jax.random.key(0), 1.0)
    total, _ = debug.checked(objective)(None, X_SAFE, Y[:, 0], jax.random.key(0), 1.0)
    assert np.isfinite(float(total))


class Ramp(nn.Module):
    """w climbs by 1 per step (see `climb`): f(x) is NaN from w = 3 (√(2.5 − w)); from w = 2
    the trap on x[0] is armed (for w < 1.5 a +10 keeps log's argument positive); √(w + v)
    has an infinite gradient at w = v = 0."""

    @nn.compact
    def __call__(self, x):
        w = self.param("w", nn.initializers.zeros, ())
        v = self.param("v", nn.initializers.ones, ())
        armed = jnp.where(w < 1.5, 10.0, 0.0)
        trap_term = 0.0 * jnp.log(x[..., :1] - 0.5 + armed)
        return x.sum(-1, keepdims=True) * jnp.sqrt(2.5 - w) + jnp.sqrt(w + v) + trap_term


def climb() -> optax.GradientTransformation:
    """An 'optimizer' that moves w by +1 whatever the gradient (v stays)."""

    def update(updates, state, params=None):
        return {"v": jnp.zeros(()), "w": jnp.ones(())}, state

    return optax.GradientTransformation(lambda p: optax.EmptyState(), update)


PLAIN_STEP = make_train_step(mse, penalty=symreg.SymmetryPenalty(C4, num_samples=8))


@pytest.fixture(scope="module")
def ramp_step():
    return debug.checked(PLAIN_STEP)


def ramp_state(v=1.0):
    params = {"w": jnp.zeros(()), "v": jnp.float32(v)}
    tuner = dual_ascent(0.1, step_size=1.0, max_weight=10.0)
    return SymmetryTrainState.create(
        apply_fn=Ramp().apply, params=params, tx=climb(), tuner=tuner, key=jax.random.key(1)
    )


def run_until_error(step, state, x, num_steps=5):
    for _ in range(num_steps):
        state, _ = step(state, x, Y)
    return state


def test_train_step_names_the_step_of_a_nan_output(ramp_step):
    pattern = r"^step 3: the model output f\(x\) is not finite at example 0"
    with pytest.raises(ValueError, match=pattern):
        run_until_error(ramp_step, ramp_state(), X_SAFE)


def test_train_step_names_the_step_and_element_of_a_nan_penalty(ramp_step):
    pattern = (
        r"^step 2: the symmetry penalty is not finite for the pair "
        r"\(sample \d+, example 1\), group element 1 "
    )
    with pytest.raises(ValueError, match=pattern):
        run_until_error(ramp_step, ramp_state(), X_TRAP)


def test_train_step_names_a_non_finite_gradient(ramp_step):
    with pytest.raises(ValueError, match=r"^step 0: the gradient of params\['(v|w)'\] is not"):
        ramp_step(ramp_state(v=0.0), X_SAFE, Y)


def test_nnx_train_step_names_the_step_of_nan_inputs():
    model = nnx.Linear(4, 1, rngs=nnx.Rngs(0))
    state = NNXTrainState.create(model, optax.sgd(0.01), tuner=0.1, key=jax.random.key(0))
    step = make_train_step(mse, penalty=symreg.SymmetryPenalty(C4), framework="nnx")
    state, _ = debug.checked(step)(state, X_SAFE, Y)
    with pytest.raises(ValueError, match=r"^step 1: x is not finite at example 2"):
        debug.checked(step)(state, X_SAFE.at[2, 1].set(jnp.inf), Y)


def test_unchecked_step_traces_no_check_and_checked_changes_no_value(ramp_step):
    state = ramp_state()
    assert "check" not in str(jax.make_jaxpr(PLAIN_STEP)(state, X_SAFE, Y))
    plain, checked = PLAIN_STEP(state, X_SAFE, Y), ramp_step(state, X_SAFE, Y)
    for a, b in zip(leaves(plain), leaves(checked), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def leaves(tree):
    """The array leaves of tree, PRNG keys as their raw data."""
    is_key = lambda a: hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jax.dtypes.prng_key)
    return jax.tree.leaves(jax.tree.map(lambda a: jax.random.key_data(a) if is_key(a) else a, tree))
