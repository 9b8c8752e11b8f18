"""symreg.nn: Symmetrize and Relax (exact equivariance, the α² law, gradients)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

import symreg
from symreg.actions import Regular, Vector
from symreg.flax import nnx_functional
from symreg.groups import SO2, Cyclic
from symreg.nn import Relax, Symmetrize

#: Relative ED₂ (mean squared defect / mean squared output) of an exactly equivariant layer.
EXACT_REL_F32 = 1e-5
#: A broken (non-equivariant) layer must exceed this relative ED₂.
BROKEN_REL = 1e-2

C8 = symreg.Symmetry(Cyclic(8), Regular(), Regular())
PLANE = symreg.Symmetry(SO2(), Vector(), Vector())


def mlp(n_in, n_out, seed=0, dtype=jnp.float32):
    rngs = nnx.Rngs(seed)
    return nnx.Sequential(
        nnx.Linear(n_in, 16, rngs=rngs, param_dtype=dtype),
        nnx.tanh,
        nnx.Linear(16, n_out, rngs=rngs, param_dtype=dtype),
    )


def exact_errors(module, x, sym):
    apply_fn, state = nnx_functional(module)
    return np.asarray(symreg.exact_equivariance_error(apply_fn, state, x, symmetry=sym))


def relative_ed2(module, x, sym, key=None, num_samples=8):
    """ED₂ / E‖f(x)‖² on the batch: exact for finite groups, else sampled with `key`."""
    apply_fn, state = nnx_functional(module)
    if key is None:
        err = symreg.exact_equivariance_error(apply_fn, state, x, symmetry=sym)
    else:
        err = symreg.equivariance_error(
            apply_fn, state, x, key, symmetry=sym, num_samples=num_samples
        )
    scale = jnp.mean(jnp.sum(jnp.square(apply_fn(state, x)).reshape(x.shape[0], -1), -1))
    return float(jnp.mean(err) / scale)


@pytest.fixture
def x8():
    return jax.random.normal(jax.random.key(1), (6, 8))


def test_symmetrize_finite_group_is_exactly_equivariant(x8):
    f = mlp(8, 8)
    assert relative_ed2(f, x8, C8) > BROKEN_REL  # the test can fail: f itself is not
    assert relative_ed2(Symmetrize(f, C8), x8, C8) <= EXACT_REL_F32


def test_symmetrize_agrees_with_the_core_reynolds_operator(x8):
    f = mlp(8, 8)
    apply_fn, state = nnx_functional(f)
    expected = symreg.symmetrize(apply_fn, symmetry=C8)(state, x8)
    np.testing.assert_allclose(Symmetrize(f, C8)(x8), expected, rtol=1e-6, atol=1e-6)


def test_symmetrize_sampled_so2_is_stratified_and_kills_a_linear_defect():
    keys = jax.random.split(jax.random.key(2), 3)
    x = jax.random.normal(keys[0], (16, 2))
    f = nnx.Linear(2, 2, rngs=nnx.Rngs(3))
    assert relative_ed2(f, x, PLANE, keys[1]) > BROKEN_REL
    q = Symmetrize(f, PLANE, num_samples=4, key=keys[2])
    g = np.asarray(q.elements.get_value())
    angles = np.sort(np.mod(np.arctan2(g[:, 1, 0], g[:, 0, 0]), 2 * np.pi))
    np.testing.assert_allclose(np.diff(angles), np.pi / 2, atol=1e-5)  # 4 equally spaced
    assert relative_ed2(q, x, PLANE, keys[1]) <= EXACT_REL_F32  # C4-average of a linear map


def test_sampled_elements_are_state_but_not_params():
    q = Symmetrize(mlp(2, 2), PLANE, num_samples=3, key=jax.random.key(0))
    assert q.elements.get_value().shape == (3, 2, 2)
    params = nnx.to_flat_state(nnx.state(q, nnx.Param))
    assert params and not any("elements" in str(path) for path, _ in params)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_relax_scales_every_defect_by_alpha(x8, alpha):
    f = mlp(8, 8)
    base = exact_errors(f, x8, C8)
    relaxed = exact_errors(Relax(f, C8, alpha), x8, C8)
    np.testing.assert_allclose(relaxed, alpha**2 * base, rtol=1e-4, atol=1e-6 * base.max())
    if alpha == 0.0:
        assert relative_ed2(Relax(f, C8, alpha), x8, C8) <= EXACT_REL_F32


def test_relax_a_wrong_alpha_law_would_fail(x8):
    f = mlp(8, 8)
    base, half = exact_errors(f, x8, C8).mean(), exact_errors(Relax(f, C8, 0.5), x8, C8).mean()
    assert abs(half - 0.25 * base) < 1e-3 * base
    assert abs(half - 0.5 * base) > 0.2 * base  # ED₂ is quadratic, not linear, in α


def test_learnable_alpha_gradient_is_two_alpha_ed2(x8):
    f = mlp(8, 8)
    model = Relax(f, C8, nnx.Param(jnp.float32(0.4)))
    ed2_f = exact_errors(f, x8, C8).mean()

    def ed2(m):
        apply_fn, state = nnx_functional(m)
        return symreg.exact_equivariance_error(apply_fn, state, x8, symmetry=C8).mean()

    grads = nnx.grad(ed2)(model)
    np.testing.assert_allclose(grads.alpha.get_value(), 2 * 0.4 * ed2_f, rtol=1e-4)


@pytest.mark.parametrize("layer", ["symmetrize", "relax"])
def test_gradients_match_finite_differences(layer):
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(4), (3, 4), jnp.float64)
        sym = symreg.Symmetry(Cyclic(4), Regular(), Regular())
        f = mlp(4, 4, dtype=jnp.float64)
        model = Symmetrize(f, sym) if layer == "symmetrize" else Relax(f, sym, 0.7)
        apply_fn, state = nnx_functional(model)
        check_grads(lambda s, x: jnp.sum(apply_fn(s, x) ** 2), (state, x), order=1, modes=["rev"])
