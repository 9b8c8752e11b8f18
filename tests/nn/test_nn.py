"""symreg.nn: Symmetrize, Relax, ResidualPathway (exactness, ED₂ laws, gradients)."""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

import symreg
from symreg.actions import Irreps, Permutation, Regular, Vector
from symreg.flax import nnx_functional
from symreg.groups import SO2, SO3, Cyclic, Symmetric
from symreg.nn import Relax, ResidualPathway, Symmetrize, free_path_penalty

#: Compile-bound: many small programs compiled once each (tests/conftest.py, fast_compile).
pytestmark = pytest.mark.usefixtures("fast_compile")

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
    scale = jnp.mean(jnp.sum(jnp.square(jax.jit(apply_fn)(state, x)).reshape(x.shape[0], -1), -1))
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
        loss = jax.jit(lambda s, x: jnp.sum(apply_fn(s, x) ** 2))
        check_grads(loss, (state, x), order=1, modes=["rev"])


# --- ResidualPathway ----------------------------------------------------------------------------

SETS = symreg.Symmetry(Symmetric(4), Permutation(), Permutation())


class DeepSets(nnx.Module):
    """A permutation-equivariant block on sets (n, d) -> (n, k): A x_i + B mean_j x_j."""

    def __init__(self, d, k, rngs, dtype=jnp.float32, broken=False):
        self.own = nnx.Linear(d, k, rngs=rngs, param_dtype=dtype)
        self.pool = nnx.Linear(d, k, use_bias=False, rngs=rngs, param_dtype=dtype)
        self.broken = broken

    def __call__(self, x):
        pooled = x[:, :1] if self.broken else x.mean(axis=1, keepdims=True)
        return jnp.tanh(self.own(x) + self.pool(pooled))


class Free(nnx.Module):
    """An unconstrained map of the flattened set, reshaped to (n, k)."""

    def __init__(self, n, d, k, rngs, dtype=jnp.float32):
        self.dense = nnx.Linear(n * d, n * k, rngs=rngs, param_dtype=dtype)
        self.shape = (n, k)

    def __call__(self, x):
        return self.dense(x.reshape(x.shape[0], -1)).reshape((x.shape[0],) + self.shape)


def pathway(dtype=jnp.float32, broken=False, seed=0):
    rngs = nnx.Rngs(seed)
    eq = DeepSets(3, 2, rngs, dtype, broken)
    return ResidualPathway(eq, Free(4, 3, 2, rngs, dtype), symmetry=SETS)


@pytest.fixture
def sets():
    return jax.random.normal(jax.random.key(5), (6, 4, 3))


def test_equivariant_path_alone_is_exact_and_a_broken_one_is_not(sets):
    layer = pathway()
    assert relative_ed2(layer.equivariant, sets, SETS) <= EXACT_REL_F32
    layer.check_equivariant(sets, jax.random.key(0))
    broken = pathway(broken=True)
    assert relative_ed2(broken.equivariant, sets, SETS) > BROKEN_REL
    with pytest.raises(AssertionError, match="not equivariant"):
        broken.check_equivariant(sets, jax.random.key(0))


def test_pathway_defect_is_the_free_paths_and_the_penalty_is_its_ed2(sets):
    layer = pathway()
    whole, free = exact_errors(layer, sets, SETS), exact_errors(layer.free, sets, SETS)
    assert free.mean() > 0
    np.testing.assert_allclose(whole, free, rtol=1e-4, atol=1e-6 * free.max())
    np.testing.assert_allclose(layer.penalty(sets), whole.mean(), rtol=1e-5)
    broken = pathway(broken=True)  # the relation needs an exact equivariant path
    gap = abs(exact_errors(broken, sets, SETS).mean() - float(broken.penalty(sets)))
    assert gap > 1e-2 * float(broken.penalty(sets))


def test_e3nn_equivariant_path_under_so3_sampled():
    sym = symreg.Symmetry(SO3(), Irreps("1o"), Irreps("1o"))

    def equivariant(x):  # x ↦ ‖x‖ x, written with e3nn-jax irreps arrays
        v = e3nn.IrrepsArray("1o", x)
        return (e3nn.norm(v) * v).array

    layer = ResidualPathway(equivariant, nnx.Linear(3, 3, rngs=nnx.Rngs(0)), symmetry=sym)
    keys = jax.random.split(jax.random.key(8), 3)
    x = jax.random.normal(keys[0], (8, 3))
    layer.check_equivariant(x, keys[1])
    apply_fn, state = nnx_functional(layer)
    free_fn, free_state = nnx_functional(layer.free)
    err = lambda f, s: symreg.equivariance_error(f, s, x, keys[2], symmetry=sym, num_samples=4)
    whole, free = np.asarray(err(apply_fn, state)), np.asarray(err(free_fn, free_state))
    assert free.mean() > BROKEN_REL * np.mean(np.sum(np.square(x), -1))
    np.testing.assert_allclose(whole, free, rtol=1e-4, atol=1e-5 * free.max())
    np.testing.assert_allclose(layer.penalty(x, keys[2], num_samples=4), whole.mean(), rtol=1e-5)


def test_sampled_penalty_is_unbiased_for_the_exact_one(sets):
    layer = pathway()
    exact = float(layer.penalty(sets))
    keys = jax.random.split(jax.random.key(6), 64)
    sampled = nnx.jit(lambda m, k: m.penalty(sets, k, num_samples=4))
    draws = np.array([float(sampled(layer, k)) for k in keys[:16]])
    stderr = draws.std(ddof=1) / np.sqrt(draws.size)
    assert abs(draws.mean() - exact) < 4 * stderr + 1e-6


def test_zero_free_path_makes_the_pathway_exactly_equivariant(sets):
    layer = pathway()
    layer.free.dense.kernel.set_value(jnp.zeros_like(layer.free.dense.kernel.get_value()))
    assert float(layer.penalty(sets)) == 0.0
    assert relative_ed2(layer, sets, SETS) <= EXACT_REL_F32


def test_penalty_gradient_reaches_only_the_free_path(sets):
    layer = pathway()
    grads = nnx.grad(lambda m: m.penalty(sets))(layer)
    assert float(jnp.abs(grads.free.dense.kernel.get_value()).max()) > 0
    assert "equivariant" not in grads or all(
        float(jnp.abs(v.get_value()).max()) == 0 for _, v in nnx.to_flat_state(grads.equivariant)
    )


def test_pathway_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(7), (2, 4, 3), jnp.float64)
        layer = pathway(dtype=jnp.float64)
        apply_fn, state = nnx_functional(layer)
        loss = jax.jit(lambda s: jnp.sum(apply_fn(s, x) ** 2))
        check_grads(loss, (state,), order=1, modes=["rev"])


def test_penalty_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(7), (2, 4, 3), jnp.float64)
        layer = pathway(dtype=jnp.float64)
        graphdef, free_state = nnx.split(layer.free)
        penalty = lambda s: free_path_penalty(nnx.merge(graphdef, s), x, symmetry=SETS)
        check_grads(penalty, (free_state,), order=1, modes=["rev"])


def test_symmetrize_calls_a_stateful_module_as_a_pure_function(x8):
    bn = nnx.BatchNorm(8, rngs=nnx.Rngs(0))  # training mode: it would update its statistics
    q = Symmetrize(nnx.Sequential(mlp(8, 8), bn), C8)
    before = bn.mean.get_value()
    assert q(x8).shape == (6, 8)
    np.testing.assert_array_equal(bn.mean.get_value(), before)  # the update is dropped
    bn.use_running_average = True  # eval mode: a fixed function, so Qf is exact again
    assert relative_ed2(q, x8, C8) <= EXACT_REL_F32
