"""Debug mode (`symreg.debug.checked`): planted NaNs are caught and named; without it nothing
is traced.

Each planted NaN has a known place: one group element of one example, one example of the
clean batch, one generator, one training step. The checkify message must name it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

import symreg
from symreg import _debug
from symreg.actions import Regular, Vector
from symreg.debug import checked
from symreg.groups import SO2, Cyclic

C4 = symreg.Symmetry(Cyclic(4), Regular())
#: Regular(C4) moves x[3] to position 0 under the element 1 only: example 1 has x[3] = 0.
X_TRAP = jnp.array([[3.0, 2.0, 2.0, 2.0], [3.0, 2.0, 1.0, 0.0], [3.0, 2.0, 2.0, 2.0]])
X_SAFE = jnp.array([[3.0, 2.0, 2.0, 2.0], [3.0, 2.0, 1.0, 1.0], [3.0, 2.0, 2.0, 2.0]])
Y = jnp.ones((3, 1))
TRAPPED_ELEMENT, TRAPPED_EXAMPLE = 1, 1


def trap(p, x):
    """Invariant sum, NaN when the first entry is 0 (0 · log(negative) = NaN)."""
    return x.sum(-1) + 0.0 * jnp.log(x[..., 0] - 0.5)


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


def test_debug_off_kernel_traces_no_check():
    kernel = lambda x: symreg.exact_equivariance_error(trap, None, x, symmetry=C4)
    assert "check" not in str(jax.make_jaxpr(kernel)(X_SAFE))
