"""symreg.nn.RelaxedGroupConv: exact at zero relaxation, the ED₂ laws of the relaxation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

import symreg
from symreg.actions import Image
from symreg.flax import nnx_functional
from symreg.groups import Cyclic, Dihedral
from symreg.nn import LinenRelaxedGroupConv, RegularImage, RelaxedGroupConv

#: Compile-bound: many small programs compiled once each (tests/conftest.py, fast_compile).
pytestmark = pytest.mark.usefixtures("fast_compile")

#: Relative ED₂ (mean squared defect / mean squared output) of an exactly equivariant layer.
EXACT_REL_F32 = 1e-5
#: A relaxed layer (coefficient deviations of 0.3) must exceed this relative ED₂.
BROKEN_REL = 1e-2

#: (group, domain, lifting, input shape with batch 3, C_in = 2)
CONFIGS = {
    "C4-lift": (Cyclic(4), "image", True, (3, 5, 5, 2)),
    "D4-lift": (Dihedral(4), "image", True, (3, 5, 5, 2)),
    "C4-group": (Cyclic(4), "image", False, (3, 5, 5, 4, 2)),
    "D4-group": (Dihedral(4), "image", False, (3, 5, 5, 8, 2)),
    "C8-sequence": (Cyclic(8), "sequence", False, (3, 8, 2)),
}


def make(name, dtype=jnp.float32, seed=0):
    group, domain, lifting, shape = CONFIGS[name]
    layer = RelaxedGroupConv(
        2, 3, group=group, domain=domain, lifting=lifting, rngs=nnx.Rngs(seed), param_dtype=dtype
    )
    return layer, jax.random.normal(jax.random.key(seed + 1), shape, dtype)


def relative_ed2(apply_fn, state, x, sym):
    err = symreg.exact_equivariance_error(apply_fn, state, x, symmetry=sym)
    y = jax.jit(apply_fn)(state, x)
    return float(jnp.mean(err) / jnp.mean(jnp.sum(jnp.square(y).reshape(y.shape[0], -1), -1)))


def relax(layer, scale, seed=2):
    """Adds scale·δ to the coefficients, δ a fixed random deviation (returns δ)."""
    w = layer.coefficients.get_value()
    delta = 0.3 * jax.random.normal(jax.random.key(seed), w.shape, w.dtype)
    layer.coefficients.set_value(w + scale * delta)
    return delta


@pytest.mark.parametrize("name", list(CONFIGS))
def test_zero_relaxation_is_exactly_equivariant_and_relaxation_breaks_it(name):
    layer, x = make(name)
    assert float(layer.relaxation()) == 0.0
    assert relative_ed2(*nnx_functional(layer), x, layer.symmetry) <= EXACT_REL_F32
    relax(layer, 1.0)
    assert relative_ed2(*nnx_functional(layer), x, layer.symmetry) > BROKEN_REL


@pytest.mark.parametrize("name", ["D4-group", "C8-sequence"])
def test_ed2_is_quadratic_in_the_relaxation_and_below_its_bound(name):
    layer, x = make(name)
    delta = relax(layer, 1.0)
    one, bound = float(layer.penalty(x)), float(layer.relaxation_bound(x))
    assert 0 < one <= bound
    expected = jnp.sum(jnp.square(delta - delta.mean(axis=0)))
    np.testing.assert_allclose(layer.relaxation(), expected, rtol=1e-5)
    layer, x = make(name)
    relax(layer, 2.0)
    np.testing.assert_allclose(float(layer.penalty(x)), 4.0 * one, rtol=1e-4)
    assert float(layer.relaxation_bound(x)) == pytest.approx(4.0 * bound, rel=1e-4)


def test_penalty_is_the_mean_exact_error():
    layer, x = make("C4-group")
    relax(layer, 1.0)
    apply_fn, state = nnx_functional(layer)
    err = symreg.exact_equivariance_error(apply_fn, state, x, symmetry=layer.symmetry)
    np.testing.assert_allclose(layer.penalty(x), err.mean(), rtol=1e-6)


def test_a_lifting_then_group_conv_stack_is_equivariant_image_to_feature_map():
    rngs = nnx.Rngs(3)
    lift = RelaxedGroupConv(1, 2, group=Dihedral(4), lifting=True, rngs=rngs)
    conv = RelaxedGroupConv(2, 2, group=Dihedral(4), rngs=rngs)
    model = nnx.Sequential(lift, nnx.relu, conv)
    sym = symreg.Symmetry(Dihedral(4), Image(), RegularImage())
    x = jax.random.normal(jax.random.key(4), (2, 4, 4, 1))  # even side: the centre is a corner
    assert relative_ed2(*nnx_functional(model), x, sym) <= EXACT_REL_F32
    symreg.testing.assert_equivariant(model, x, jax.random.key(5), symmetry=sym)


def test_the_group_axis_follows_the_regular_representation():
    """A rotated image gives the output moved in space and cyclically along the group axis."""
    layer, x = make("C4-lift")
    y, y_rot = layer(x), layer(jnp.rot90(x, 1, axes=(1, 2)))
    expected = jnp.roll(jnp.rot90(y, 1, axes=(1, 2)), 1, axis=3)
    np.testing.assert_allclose(y_rot, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(y_rot, jnp.rot90(y, 1, axes=(1, 2)), atol=1e-3)  # not invariant


@pytest.mark.parametrize("name", ["C4-lift", "D4-group", "C8-sequence"])
def test_gradients_match_finite_differences(name):
    with jax.enable_x64(True):
        layer, x = make(name, dtype=jnp.float64)
        x = x[:1, :3, :3] if CONFIGS[name][1] == "image" else x[:1]
        relax(layer, 1.0)
        apply_fn, state = nnx_functional(layer)
        loss = jax.jit(lambda s, x: jnp.sum(jnp.sin(apply_fn(s, x))))
        check_grads(loss, (state, x), order=1, modes=["rev"])


def test_penalty_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        layer, x = make("C8-sequence", dtype=jnp.float64)
        relax(layer, 1.0)
        graphdef, state = nnx.split(layer)
        penalty = jax.jit(lambda s: nnx.merge(graphdef, s).penalty(x[:2]))
        check_grads(penalty, (state,), order=1, modes=["rev"])


@pytest.mark.parametrize("name", ["D4-lift", "C4-group", "C8-sequence"])
def test_linen_version_is_the_same_maths(name):
    layer, x = make(name)
    relax(layer, 1.0)
    group, domain, lifting, _ = CONFIGS[name]
    linen_conv = LinenRelaxedGroupConv(3, group=group, domain=domain, lifting=lifting)
    variables = linen_conv.init(jax.random.key(0), x)
    fresh = symreg.exact_equivariance_error(
        linen_conv.apply, variables, x, symmetry=linen_conv.symmetry_of(2)
    )
    assert float(fresh.max()) <= EXACT_REL_F32 * float(
        jnp.mean(linen_conv.apply(variables, x) ** 2)
    )
    params = {k: getattr(layer, k).get_value() for k in ("kernels", "coefficients", "bias")}
    variables = {"params": params}
    np.testing.assert_allclose(linen_conv.apply(variables, x), layer(x), rtol=1e-6, atol=1e-6)
    rel = linen_conv.apply(variables, method=linen_conv.relaxation)
    np.testing.assert_allclose(rel, layer.relaxation(), rtol=1e-6)
    bound = linen_conv.apply(variables, x, method=linen_conv.relaxation_bound)
    np.testing.assert_allclose(bound, layer.relaxation_bound(x), rtol=1e-5)
