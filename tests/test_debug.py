"""Debug mode (`symreg.debug.checked`): planted NaNs are caught and named; without it nothing
is traced.

Each planted NaN has a known place: one group element of one example, one example of the
clean batch, one generator, one training step. The checkify message must name it.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from jax.experimental import checkify

import symreg
from symreg import _debug
from symreg.actions import Regular, Vector
from symreg.debug import checked
from symreg.flax import NNXTrainState, SymmetryTrainState, make_train_step
from symreg.groups import SO2, Cyclic
from symreg.tuning import dual_ascent

C4 = symreg.Symmetry(Cyclic(4), Regular())
#: Regular(C4) moves x[3] to position 0 under the element 1 only: example 1 has x[3] = 0.
X_TRAP = jnp.array([[3.0, 2.0, 2.0, 2.0], [3.0, 2.0, 1.0, 0.0], [3.0, 2.0, 2.0, 2.0]])
X_SAFE = jnp.array([[3.0, 2.0, 2.0, 2.0], [3.0, 2.0, 1.0, 1.0], [3.0, 2.0, 2.0, 2.0]])
Y = jnp.ones((3, 1))
TRAPPED_ELEMENT, TRAPPED_EXAMPLE = 1, 1


def trap(p, x):
    """Invariant sum, NaN when the first entry is 0 (0 · log(negative) = NaN)."""
    return x.sum(-1) + 0.0 * jnp.log(x[..., 0] - 0.5)


def mse(pred, y):
    return jnp.mean((pred - y) ** 2)


def exact(x):
    return symreg.exact_equivariance_error(trap, None, x, symmetry=C4)


def test_exact_kernel_names_the_element_and_example():
    with pytest.raises(ValueError, match=r"pair \(element 1, example 1\), group element 1 "):
        checked(exact)(X_TRAP)


def test_sampled_kernel_names_the_element_and_example():
    pattern = (
        r"equivariance error is not finite for the pair \(sample \d+, example 1\), group element 1 "
    )
    sampled = lambda x, key: symreg.equivariance_error(
        trap, None, x, key, symmetry=C4, num_samples=8
    )
    with pytest.raises(checkify.JaxRuntimeError, match=pattern):
        checked(sampled)(X_TRAP, jax.random.key(0))


def test_kernel_names_a_non_finite_clean_output():
    x = X_SAFE.at[2, 0].set(0.0)  # the untransformed example 2 itself gives NaN
    with pytest.raises(ValueError, match=r"apply_fn\(params, x\).* at example 2"):
        checked(exact)(x)


def test_kernel_names_a_non_finite_input():
    with pytest.raises(ValueError, match=r"^x is not finite at example 0"):
        checked(exact)(X_SAFE.at[0, 3].set(jnp.nan))


def test_lie_kernel_names_the_generator_and_example():
    sym = symreg.Symmetry(SO2(), Vector())
    x = jnp.array([[1.0, 2.0], [0.0, 1.0]])  # d/dt √x₀ is infinite at x₀ = 0
    lie = lambda x: symreg.lie_derivative_error(
        lambda p, x: jnp.sqrt(x[:, 0]), None, x, symmetry=sym
    )
    with pytest.raises(ValueError, match=r"Lie derivative error .*\(generator 0, example 1\)"):
        checked(lie)(x)


def test_penalty_names_the_element_and_example():
    pattern = (
        r"symmetry penalty is not finite for the pair \(sample \d+, example 1\), group element 1 "
    )
    penalty = lambda x, key: symreg.symmetry_penalty(trap, None, x, key, symmetry=C4, num_samples=8)
    with pytest.raises(ValueError, match=pattern):
        checked(penalty)(X_TRAP, jax.random.key(0))


def test_lie_penalty_names_the_generator_and_example():
    sym = symreg.Symmetry(SO2(), Vector())
    x = jnp.array([[1.0, 2.0], [0.0, 1.0]])
    penalty = lambda x: symreg.symmetry_penalty(
        lambda p, x: jnp.sqrt(x[:, 0]), None, x, None, symmetry=sym, method="lie"
    )
    pattern = (
        r"symmetry penalty \(Lie derivative\) is not finite for the pair \(generator 0, example 1\)"
    )
    with pytest.raises(ValueError, match=pattern):
        checked(penalty)(x)


def test_regularized_loss_names_the_task_loss():
    objective = symreg.regularized_loss(mse, trap, symmetry=C4)
    y = Y[:, 0].at[1].set(jnp.nan)
    with pytest.raises(ValueError, match=r"the task loss loss_fn\(f\(x\), y\) is not finite"):
        checked(objective)(None, X_SAFE, y, jax.random.key(0), 1.0)


def test_checks_join_the_callers_trace():
    measure = lambda x: checked(exact)(x).mean()
    err, _ = jax.jit(checkify.checkify(measure))(X_TRAP)
    assert "(element 1, example 1), group element 1" in err.get()
    err, value = jax.jit(checkify.checkify(measure))(X_SAFE)
    assert err.get() is None and float(value) == 0.0


def test_the_flag_is_on_only_while_checked_traces():
    seen = []

    def probe(x):
        seen.append(_debug.enabled())
        return x

    checked(probe)(X_SAFE)
    jax.jit(probe)(X_SAFE)
    assert seen == [True, False] and not _debug.enabled()


def test_checked_returns_the_values_of_the_plain_call():
    np.testing.assert_array_equal(np.asarray(checked(exact)(X_SAFE)), np.asarray(exact(X_SAFE)))


def test_checked_rejects_a_non_callable():
    with pytest.raises(TypeError, match="fn must be callable"):
        checked("exact")


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


@pytest.fixture(scope="module")
def ramp_step():
    return checked(make_train_step(mse, symmetry=C4, num_samples=8))


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
    with pytest.raises(checkify.JaxRuntimeError, match=pattern):
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
    step = checked(make_train_step(mse, symmetry=C4))
    state, _ = step(state, X_SAFE, Y)
    with pytest.raises(ValueError, match=r"^step 1: x is not finite at example 2"):
        step(state, X_SAFE.at[2, 1].set(jnp.inf), Y)


def test_debug_off_traces_no_check_and_debug_on_changes_no_value(ramp_step):
    plain = make_train_step(mse, symmetry=C4, num_samples=8)
    state = ramp_state()
    jaxpr = str(jax.make_jaxpr(plain)(state, X_SAFE, Y))
    assert "check" not in jaxpr
    assert "check" not in str(jax.make_jaxpr(exact)(X_SAFE))
    assert "check" in str(jax.make_jaxpr(checked(exact))(X_SAFE))
    (new_plain, m_plain), (new_debug, m_debug) = (
        plain(state, X_SAFE, Y),
        ramp_step(state, X_SAFE, Y),
    )
    leaves = lambda tree: jax.tree.leaves(
        jax.tree.map(lambda a: jax.random.key_data(a) if is_key(a) else a, tree)
    )
    for a, b in zip(leaves((new_plain, m_plain)), leaves((new_debug, m_debug)), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def is_key(a) -> bool:
    return hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jax.dtypes.prng_key)
