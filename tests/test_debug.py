"""Debug mode (`debug=True`): planted NaNs are caught and named; debug=False adds nothing.

Each planted NaN has a known place: one group element of one example, one example of the
clean batch, one generator, one training step. The checkify message must name it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
from jax.experimental import checkify

import symreg
from symreg.actions import Regular, Vector
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


def test_exact_kernel_names_the_element_and_example():
    with pytest.raises(ValueError, match=r"pair \(element 1, example 1\), group element 1 "):
        symreg.exact_equivariance_error(trap, None, X_TRAP, symmetry=C4, debug=True)


def test_sampled_kernel_names_the_element_and_example():
    pattern = (
        r"equivariance error is not finite for the pair \(sample \d+, example 1\), group element 1 "
    )
    with pytest.raises(checkify.JaxRuntimeError, match=pattern):
        symreg.equivariance_error(
            trap, None, X_TRAP, jax.random.key(0), symmetry=C4, num_samples=8, debug=True
        )


def test_kernel_names_a_non_finite_clean_output():
    x = X_SAFE.at[2, 0].set(0.0)  # the untransformed example 2 itself gives NaN
    with pytest.raises(ValueError, match=r"apply_fn\(params, x\).* at example 2"):
        symreg.exact_equivariance_error(trap, None, x, symmetry=C4, debug=True)


def test_lie_kernel_names_the_generator_and_example():
    sym = symreg.Symmetry(SO2(), Vector())
    x = jnp.array([[1.0, 2.0], [0.0, 1.0]])  # d/dt √x₀ is infinite at x₀ = 0
    with pytest.raises(ValueError, match=r"Lie derivative error .*\(generator 0, example 1\)"):
        symreg.lie_derivative_error(
            lambda p, x: jnp.sqrt(x[:, 0]), None, x, symmetry=sym, debug=True
        )


def test_penalty_names_the_element_and_example():
    pattern = (
        r"symmetry penalty is not finite for the pair \(sample \d+, example 1\), group element 1 "
    )
    with pytest.raises(ValueError, match=pattern):
        symreg.symmetry_penalty(
            trap, None, X_TRAP, jax.random.key(0), symmetry=C4, num_samples=8, debug=True
        )


def test_checks_join_the_callers_trace():
    def measure(x):
        return symreg.exact_equivariance_error(trap, None, x, symmetry=C4, debug=True).mean()

    err, _ = jax.jit(checkify.checkify(measure))(X_TRAP)
    assert "(element 1, example 1), group element 1" in err.get()
    err, value = jax.jit(checkify.checkify(measure))(X_SAFE)
    assert err.get() is None and float(value) == 0.0


def test_debug_off_kernel_traces_no_check():
    kernel = lambda x: symreg.exact_equivariance_error(trap, None, x, symmetry=C4)
    assert "check" not in str(jax.make_jaxpr(kernel)(X_SAFE))
