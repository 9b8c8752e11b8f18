"""Oracle tests of the equivariance kernels (`symreg.equivariance`).

Exactly equivariant models (DeepSets, circular convolutions, e3nn-jax layers, symmetrized
MLPs) give ~0; the sampled estimate agrees with closed forms and with exact enumeration; the
Reynolds identity ED_2 = 2‖f − Qf‖² holds; the Lie derivative is the limit of finite
differences. Statistical assertions are bounds in standard errors with fixed keys. The
mechanics of the kernels (gradients, chunking, pytrees, metrics) are in test_kernels.py.
"""

from __future__ import annotations

import functools

import e3nn_jax as e3nn
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from stats_helpers import rel_max, stat_check

import symreg
from symreg import actions as A
from symreg import groups as G
from symreg.equivariance import get_metric, pairwise_errors

#: Largest relative error of an exactly equivariant float32 model (rounding only).
RTOL_F32 = 1e-5
#: ED_2 = 2‖f − Qf‖² on an orbit-closed batch holds up to float32 rounding of the sums.
ORBIT_RTOL_F32 = 1e-4
#: Relative gap between ED_2(e^{tA})/t² and ‖L_A f‖² at the smallest t.
LIE_FD_RTOL = 1e-2
LIE_TS = (0.1, 0.03, 0.01)

CYC = symreg.Symmetry(G.Cyclic(8), A.Regular(), A.Regular())

pytestmark = pytest.mark.usefixtures("fast_compile")


# --- models --------------------------------------------------------------------------------


def mlp_params(key, d_in, d_hidden, d_out):
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "w1": jax.random.normal(k1, (d_in, d_hidden)) / np.sqrt(d_in),
        "b1": 0.1 * jax.random.normal(k2, (d_hidden,)),
        "w2": jax.random.normal(k3, (d_hidden, d_out)) / np.sqrt(d_hidden),
    }


def mlp(params, x):
    """A random MLP: not equivariant to anything in particular."""
    return jnp.tanh(x @ params["w1"] + params["b1"]) @ params["w2"]


def deepsets(params, x):
    """Permutation-equivariant layer on sets (B, n, d): φ(x_i) + ρ(mean_j x_j)."""
    phi = jnp.tanh(x @ params["a"])
    pooled = jnp.tanh(x.mean(axis=1, keepdims=True) @ params["b"])
    return (phi + pooled) @ params["c"]


def circular_conv(params, x):
    """Two circular convolutions over Z/n with a tanh: equivariant to cyclic shifts."""

    def conv(w, v):  # (B, n) ⊛ (k,) with circular padding
        return sum(w[k] * jnp.roll(v, k, axis=-1) for k in range(w.shape[0]))

    return conv(params["w2"], jnp.tanh(conv(params["w1"], x)))


def test_deepsets_is_permutation_equivariant(key):
    k1, k2, k3 = jax.random.split(key, 3)
    params = {
        "a": jax.random.normal(k1, (3, 8)),
        "b": jax.random.normal(k2, (3, 8)),
        "c": jax.random.normal(k3, (8, 2)),
    }
    x = jax.random.normal(key, (8, 6, 3))
    sym = symreg.Symmetry(G.Symmetric(6), A.Permutation(), A.Permutation())
    err = symreg.equivariance_error(
        deepsets, params, x, key, symmetry=sym, num_samples=32, metric="relative"
    )
    assert err.shape == (32, 8)
    assert rel_max(err) <= RTOL_F32, f"DeepSets relative error {rel_max(err):.3g}"


def test_circular_convolution_is_exactly_cyclic_equivariant(key):
    params = {"w1": jnp.array([0.5, -1.0, 0.3]), "w2": jnp.array([1.0, 0.2, -0.7, 0.1])}
    x = jax.random.normal(key, (8, 8))
    err = symreg.exact_equivariance_error(circular_conv, params, x, symmetry=CYC, metric="relative")
    assert err.shape == (8, 8)
    assert rel_max(err) <= RTOL_F32, f"circular convolution relative error {rel_max(err):.3g}"


# --- e3nn-jax layers under SO(3) and O(3) ---------------------------------------------------

E3_IN = e3nn.Irreps("0e + 1o + 1e + 2e")


class E3Layer(nn.Module):
    """One e3nn-jax layer on an IrrepsArray: a Linear, a tensor product, or a gate."""

    kind: str

    @nn.compact
    def __call__(self, x):
        if self.kind == "linear":
            return e3nn.flax.Linear("2x0e + 2x1o + 1e + 2e")(x)
        if self.kind == "tensor_product":
            y = e3nn.tensor_product(x, x, filter_ir_out=["0e", "1o", "1e", "2e"])
            return e3nn.flax.Linear("0e + 1o + 2e")(y)
        return e3nn.gate(e3nn.flax.Linear("5x0e + 2x1o + 1e")(x))  # 3 gates for 3 irreps


def e3nn_model(kind, seed=0):
    """apply_fn(params, x) on plain arrays, random params (numpy), and the output irreps."""
    module = E3Layer(kind)
    dummy = e3nn.IrrepsArray(E3_IN, jnp.zeros((1, E3_IN.dim)))
    shapes = jax.eval_shape(module.init, jax.random.key(0), dummy)
    rng = np.random.default_rng(seed)
    params = jax.tree.map(lambda s: jnp.asarray(rng.normal(size=s.shape), s.dtype), shapes)
    irreps_out = jax.eval_shape(module.apply, params, dummy).irreps

    def apply_fn(p, x):
        return module.apply(p, e3nn.IrrepsArray(E3_IN, x)).array

    return apply_fn, params, irreps_out


E3_MODELS = {kind: e3nn_model(kind) for kind in ("linear", "tensor_product", "gate")}


@pytest.mark.parametrize("group", [G.SO3(), G.O3()], ids=["SO3", "O3"])
@pytest.mark.parametrize("kind", E3_MODELS)
def test_e3nn_layers_are_equivariant(kind, group, key):
    apply_fn, params, irreps_out = E3_MODELS[kind]
    sym = symreg.Symmetry(group, A.Irreps(E3_IN), A.Irreps(irreps_out))
    x = jax.random.normal(key, (8, E3_IN.dim))
    err = symreg.equivariance_error(
        apply_fn, params, x, key, symmetry=sym, num_samples=8, metric="relative"
    )
    print(f"e3nn {kind} under {group!r}: max relative error {rel_max(err):.3g}")
    assert rel_max(err) <= RTOL_F32


def test_e3nn_layers_break_under_the_wrong_output_parity(key):
    """Power: outputs declared with the wrong parities are far from equivariant in O(3)."""
    apply_fn, params, irreps_out = E3_MODELS["linear"]
    wrong = e3nn.Irreps([(mul, (ir.l, -ir.p)) for mul, ir in irreps_out])
    sym = symreg.Symmetry(G.O3(), A.Irreps(E3_IN), A.Irreps(wrong))
    x = jax.random.normal(key, (8, E3_IN.dim))
    err = symreg.equivariance_error(
        apply_fn, params, x, key, symmetry=sym, num_samples=8, metric="relative"
    )
    assert rel_max(err) > 0.1


# --- Reynolds operator -----------------------------------------------------------------------

MLP8 = mlp_params(jax.random.key(42), 8, 16, 8)
N_ORBITS = 64  # 64 base points x 8 shifts = 512 examples, the shape of every CYC batch below


def test_symmetrize_random_mlp_is_exactly_equivariant(key):
    qf = symreg.symmetrize(mlp, symmetry=CYC)
    x = jax.random.normal(key, (8, 8))
    err = symreg.exact_equivariance_error(qf, MLP8, x, symmetry=CYC, metric="relative")
    before = symreg.exact_equivariance_error(mlp, MLP8, x, symmetry=CYC, metric="relative")
    print(f"symmetrized MLP: max relative error {rel_max(err):.3g} (before {rel_max(before):.3g})")
    assert rel_max(err) <= RTOL_F32
    assert rel_max(before) > 0.1


@functools.cache
def reynolds_terms(kind):
    """Per-example ED_2 (exact over C8) and 2‖f − Qf‖² on 512 inputs."""
    if kind == "gaussian":
        x = jax.random.normal(jax.random.key(7), (8 * N_ORBITS, 8))
    else:  # the full orbits of N_ORBITS points: an exactly shift-invariant empirical law
        base = jax.random.normal(jax.random.key(8), (N_ORBITS, 8))
        x = jnp.concatenate([jnp.roll(base, k, axis=-1) for k in range(8)])
    ed = symreg.exact_equivariance_error(mlp, MLP8, x, symmetry=CYC).mean(0)
    qf = jax.jit(symreg.symmetrize(mlp, symmetry=CYC))(MLP8, x)
    gap = 2 * jnp.sum((mlp(MLP8, x) - qf) ** 2, axis=-1)
    return np.asarray(ed, np.float64), np.asarray(gap, np.float64), x


def test_ed2_equals_twice_distance_to_symmetrization_in_se():
    ed, gap, _ = reynolds_terms("gaussian")
    mean, se = stat_check(ed - gap, 0.0, "ED_2 − 2‖f − Qf‖² (paired, Gaussian x)")
    print(f"ED_2 = {ed.mean():.4f}, 2‖f − Qf‖² = {gap.mean():.4f}, diff {mean:.2g} ± {se:.2g}")
    assert ed.mean() > 0.1  # a real symmetry defect, not 0 = 0


def test_ed2_equals_twice_distance_to_symmetrization_on_orbits():
    ed, gap, _ = reynolds_terms("orbits")
    np.testing.assert_allclose(ed.mean(), gap.mean(), rtol=ORBIT_RTOL_F32)


def test_linear_model_closed_form(key):
    """f(x) = wᵀx, x ~ N(0, s²I), D6 permuting 6 points: ED_2 = 2 s² ‖(I − Φ) w‖²."""
    group, s = G.Dihedral(6), 1.5
    sym = symreg.Symmetry(group, A.Permutation())
    w = jnp.asarray(np.random.default_rng(3).normal(size=6), jnp.float32)
    perms = np.asarray(jax.vmap(group.permutation)(group.elements()))
    phi = np.eye(6)[perms].mean(0)
    truth = 2 * s**2 * np.sum(((np.eye(6) - phi) @ np.asarray(w, np.float64)) ** 2)
    k1, k2 = jax.random.split(key)
    x = s * jax.random.normal(k1, (4096, 6))
    err = symreg.equivariance_error(lambda p, v: v @ p, w, x, k2, symmetry=sym, num_samples=4)
    mean, se = stat_check(err.mean(0), truth, "ED_2 of a linear model")
    print(f"linear oracle: ED_2 = {mean:.4f} ± {se:.4f}, closed form {truth:.4f}")


def test_sampled_error_agrees_with_exact_enumeration(key):
    _, _, x = reynolds_terms("gaussian")
    exact = symreg.exact_equivariance_error(mlp, MLP8, x, symmetry=CYC).mean(0)
    sampled = symreg.equivariance_error(mlp, MLP8, x, key, symmetry=CYC, num_samples=4).mean(0)
    mean, se = stat_check(sampled - exact, 0.0, "sampled − exact (paired)")
    print(f"sampled − exact: {mean:.3g} ± {se:.2g} (exact {float(exact.mean()):.4f})")


def odd_shifts(key, n):
    return 2 * jax.random.randint(key, (n,), 0, 4) + 1


def test_sampled_error_detects_a_wrong_measure(key):
    """Power of the comparison: odd shifts only (another λ) are detectably different."""
    _, _, x = reynolds_terms("gaussian")
    exact = np.asarray(symreg.exact_equivariance_error(mlp, MLP8, x, symmetry=CYC).mean(0))
    odd = symreg.Symmetry(G.UserSet(odd_shifts, G.Cyclic(8)), A.Regular(), A.Regular())
    sampled = np.asarray(
        symreg.equivariance_error(mlp, MLP8, x, key, symmetry=odd, num_samples=4).mean(0)
    )
    with pytest.raises(AssertionError, match="z ="):
        stat_check(sampled - exact, 0.0, "odd shifts vs exact")


# --- Lie derivative against finite differences -----------------------------------------------


def flat_mlp(params, x):
    """An MLP on a flattened point cloud (B, n, 3), with a scalar output."""
    return mlp(params, x.reshape(x.shape[0], -1))


# name: (symmetry, model, MLP sizes, shape of one example)
LIE_CASES = {
    "SO2-invariant": (
        symreg.Symmetry(G.SO2(), A.Vector()),
        lambda p, x: mlp(p, x)[:, 0],
        (2, 16, 1),
        (2,),
    ),
    "SO3-irreps": (
        symreg.Symmetry(G.SO3(), A.Irreps("1o + 2e"), A.Irreps("1o")),
        mlp,
        (8, 16, 3),
        (8,),
    ),
    "SO3xS4-pointcloud": (
        symreg.Symmetry(G.DirectProduct(G.SO3(), G.Symmetric(4)), A.PointCloud()),
        flat_mlp,
        (12, 16, 1),
        (4, 3),
    ),
}


@functools.cache
def lie_case(name):
    """Inputs, parameters and ‖L_A f‖² (mean over the batch) of one case."""
    sym, apply_fn, dims, shape = LIE_CASES[name]
    params = mlp_params(jax.random.key(5), *dims)
    x = jax.random.normal(jax.random.key(6), (16, *shape))
    lie = symreg.lie_derivative_error(apply_fn, params, x, symmetry=sym)
    return params, x, np.asarray(lie, np.float64)


@pytest.mark.parametrize("name", LIE_CASES)
def test_lie_derivative_is_the_limit_of_finite_differences(name):
    sym, apply_fn, _, _ = LIE_CASES[name]
    group = sym.group
    params, x, lie = lie_case(name)
    lie = lie.mean(1)
    k = group.num_generators
    coeffs = jnp.asarray([t * e for t in LIE_TS for e in np.eye(k)], jnp.float32)
    elements = jax.vmap(group.exp)(coeffs)
    fd = jax.jit(
        lambda p, v, g: pairwise_errors(
            apply_fn, p, v, None, g, symmetry=sym, metric=get_metric("sq"), shared=True
        )
    )(params, x, elements)
    ratio = np.asarray(fd).mean(1).reshape(len(LIE_TS), k) / np.square(LIE_TS)[:, None]
    dev = np.abs(ratio / lie - 1)
    print(f"{name}: ‖L_A f‖² = {lie}, relative gap of ED_2(e^(tA))/t² for t = {LIE_TS}: {dev}")
    assert np.all(lie > 1e-3), "the model should not be equivariant"
    assert np.all(dev[-1] <= LIE_FD_RTOL)
    assert np.all(dev[-1] <= dev[0] / 3), "no convergence as t decreases (expected ∝ t)"


def test_near_identity_error_is_scale_squared_times_lie_derivatives(key):
    """c ~ N(0, s² I): E‖f(e^{c·A}x) − f(x)‖² = s² Σ_i ‖L_i f‖² + O(s⁴), per example."""
    s = 0.01
    sym, apply_fn, _, _ = LIE_CASES["SO3-irreps"]
    params, x, lie = lie_case("SO3-irreps")
    near = symreg.Symmetry(G.NearIdentity(G.SO3(), s), sym.act_in, sym.act_out)
    err = symreg.equivariance_error(apply_fn, params, x, key, symmetry=near, num_samples=256)
    assert not near.is_exact
    mean, se = stat_check(err.mean(0) - s**2 * lie.sum(0), 0.0, "NearIdentity vs Lie")
    print(f"NearIdentity(SO3, {s}): ED_2 − s²Σ‖L f‖² = {mean:.3g} ± {se:.2g}")


def vector_times_invariant(params, x):
    """O(3)-equivariant map "1o + 2e" → "1o": the vector scaled by a function of ‖x_2e‖."""
    return x[:, :3] * (params + jnp.sum(x[:, 3:] ** 2, -1, keepdims=True))


def test_lie_derivative_vanishes_for_equivariant_models(key):
    sym = LIE_CASES["SO3-irreps"][0]
    x = jax.random.normal(key, (4, 8))
    lie = symreg.lie_derivative_error(vector_times_invariant, 0.5, x, symmetry=sym)
    out_sq = jnp.sum(vector_times_invariant(0.5, x) ** 2, -1)
    assert lie.shape == (3, 4)
    assert float(jnp.max(lie / out_sq)) <= RTOL_F32**2
