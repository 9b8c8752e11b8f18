"""Stratified sampling of group elements: exact marginals, unbiasedness, variance reduction.

`sample(key, (S, K), sampling="stratified")` gives K independent stratified sets of S
elements, so the K draws at one position i are independent draws of that position's marginal,
which must be the group's measure λ. The error estimates are compared over many fixed keys:
their means agree with the exact (or long-run iid) value within NUM_SE standard errors, and the
variance of the stratified estimate is at least MIN_RATIO times lower than the iid one.
"""

from __future__ import annotations

import dataclasses
import math

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symreg
from symreg import groups as G
from symreg.actions import Irreps, Permutation, Vector

#: Compile-bound: many small programs compiled once each (tests/conftest.py, fast_compile).
pytestmark = pytest.mark.usefixtures("fast_compile")

#: Statistical assertions allow this many standard errors.
NUM_SE = 4.0
#: Required variance reduction (iid variance / stratified variance) at equal S.
MIN_RATIO = 2.0
#: Independent stratified sets per marginal check, and keys per variance estimate.
N_SETS = 2000
N_KEYS = 300
#: Batch size of the models' inputs.
B = 16
ATOL_F32 = 1e-5

KEYS = dict(zip("ABCDEF", jax.random.split(jax.random.key(20240601), 6), strict=True))
STRATIFIABLE = {
    "Cyclic4": G.Cyclic(4),
    "Dihedral6": G.Dihedral(6),
    "Symmetric5": G.Symmetric(5),
    "SO2": G.SO2(),
    "O2": G.O2(),
    "SO3": G.SO3(),
    "O3": G.O3(),
    "Translations2": G.Translations(2, period=2.0),
    "SO3xS4": G.DirectProduct(G.SO3(), G.Symmetric(4)),
    "SO2xC4": G.DirectProduct(G.SO2(), G.Cyclic(4)),
}


def within_se(estimate, truth, se, what):
    estimate, truth, se = np.broadcast_arrays(*map(np.asarray, (estimate, truth, se)))
    z = np.abs(estimate - truth) / se
    assert np.all(z <= NUM_SE), f"{what}: {estimate} vs {truth}, z = {z.max():.2f} s.e."


def uniform_counts(values, num_values, what):
    """Per-position counts of each value 0..num_values-1 over axis 1, within NUM_SE s.e."""
    values = np.asarray(values)
    n = values.shape[1]
    counts = (values[..., None] == np.arange(num_values)).sum(1)
    p = 1 / num_values
    within_se(counts / n, p, np.sqrt(p * (1 - p) / n), what)


def angle_checks(angle, what):
    """Uniform angles on the circle, per position (axis 1 = independent sets)."""
    n = angle.shape[1]
    within_se(np.cos(angle).mean(1), 0.0, np.sqrt(0.5 / n), f"{what}: mean cos")
    within_se(np.sin(angle).mean(1), 0.0, np.sqrt(0.5 / n), f"{what}: mean sin")
    frac = np.mod(angle, 2 * np.pi) / (2 * np.pi)
    for q in (0.25, 0.5, 0.75):
        within_se((frac <= q).mean(1), q, np.sqrt(q * (1 - q) / n), f"{what}: CDF at {q}")


def stratified_sets(group, s, key, n_sets=N_SETS):
    fn = jax.jit(lambda k: group.sample(k, (s, n_sets), sampling="stratified"))
    return jax.tree.map(np.asarray, fn(key))


# --- contracts: shapes, dtypes, determinism, iid unchanged, errors ---------------------------


@pytest.mark.parametrize("name", list(STRATIFIABLE))
def test_shapes_and_dtypes_match_iid(name):
    group = STRATIFIABLE[name]
    shape = (5, 2, 3)
    strat = jax.eval_shape(lambda k: group.sample(k, shape, sampling="stratified"), KEYS["A"])
    iid = jax.eval_shape(lambda k: group.sample(k, shape), KEYS["A"])
    assert jax.tree.structure(strat) == jax.tree.structure(iid)
    for a, b in zip(jax.tree.leaves(strat), jax.tree.leaves(iid), strict=True):
        assert (a.shape, a.dtype) == (b.shape, b.dtype)


@pytest.mark.parametrize("name", ["Symmetric5", "O3", "SO2xC4"])
def test_deterministic_given_key_and_trailing_sets_independent(name):
    group = STRATIFIABLE[name]
    draw = jax.jit(lambda k: group.sample(k, (4, 2, 3), sampling="stratified"))
    first, again, other = (jax.tree.map(np.asarray, draw(KEYS[k])) for k in "BBC")
    jax.tree.map(np.testing.assert_array_equal, first, again)
    leaves = list(zip(*map(jax.tree.leaves, (first, other)), strict=True))
    assert any(not np.array_equal(a, b) for a, b in leaves)
    # the sets at different trailing indices are different draws
    assert any(not np.array_equal(a[:, 0, 0], a[:, 1, 2]) for a in jax.tree.leaves(first))


@pytest.mark.parametrize("name", ["Cyclic4", "SO3"])
def test_iid_sampling_is_unchanged(name):
    """The default and sampling="iid" give the same draws as before: `_sample_n` reshaped."""
    group = STRATIFIABLE[name]
    old = jax.tree.map(lambda a: a.reshape((3, 4) + a.shape[1:]), group._sample_n(KEYS["A"], 12))
    jax.tree.map(np.testing.assert_array_equal, group.sample(KEYS["A"], (3, 4)), old)
    jax.tree.map(
        np.testing.assert_array_equal, group.sample(KEYS["A"], (3, 4), sampling="iid"), old
    )


@dataclasses.dataclass(frozen=True)
class _PlainGroup(G.AbstractGroup):
    """A group without a stratified sampler (Z/2 as ±1), for the error paths."""

    def _sample_n(self, key, n):
        return jnp.where(jax.random.bernoulli(key, 0.5, (n,)), -1.0, 1.0)

    def compose(self, g, h):
        return g * h

    def inverse(self, g):
        return g

    def identity(self):
        return jnp.ones(())


def test_bad_sampling_arguments_raise():
    with pytest.raises(ValueError, match=r"sampling must be one of \('iid', 'stratified'\)"):
        G.SO3().sample(KEYS["A"], (4,), sampling="sobol")
    with pytest.raises(
        ValueError, match="sampling='stratified' is not available for RotationRange"
    ):
        G.RotationRange(0.5).sample(KEYS["A"], (4,), sampling="stratified")
    with pytest.raises(ValueError, match="factor 1"):
        G.DirectProduct(G.SO2(), _PlainGroup()).sample(KEYS["A"], (4,), sampling="stratified")
    with pytest.raises(ValueError, match="leading axis S"):
        G.SO2().sample(KEYS["A"], (), sampling="stratified")
    sym = symreg.Symmetry(G.SO2(), Vector())
    with pytest.raises(ValueError, match="sampling must be one of"):
        symreg.equivariance_error(
            lambda p, x: x, None, jnp.ones((2, 2)), KEYS["A"], symmetry=sym, num_samples=2,
            sampling="halton",
        )  # fmt: skip
    with pytest.raises(ValueError, match="sampling must be one of"):
        symreg.symmetrize(lambda p, x: x, symmetry=sym, num_samples=2, key=KEYS["A"], sampling=1)


def test_empty_shapes_follow_iid():
    out = G.SO3().sample(KEYS["A"], (0, 3), sampling="stratified")
    assert out.shape == (0, 3, 3, 3)


# --- exact marginals, per position ------------------------------------------------------------


def test_so3_marginal_is_haar_at_every_position():
    s = 6
    r = stratified_sets(G.SO3(), s, KEYS["A"]).astype(np.float64)  # (S, K, 3, 3)
    within_se(r.mean(1), 0.0, np.sqrt(1 / 3 / N_SETS), "per-position mean of SO(3) matrices")
    angle = np.arccos(np.clip((np.trace(r, axis1=-2, axis2=-1) - 1) / 2, -1, 1))
    for t in (np.pi / 4, np.pi / 2, 3 * np.pi / 4):
        p = (t - np.sin(t)) / np.pi
        within_se((angle <= t).mean(1), p, np.sqrt(p * (1 - p) / N_SETS), f"angle CDF at {t}")
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=ATOL_F32)


def test_o3_marginal_is_haar_and_determinants_balanced():
    s = 5
    r = stratified_sets(G.O3(), s, KEYS["B"]).astype(np.float64)
    det = np.linalg.det(r)
    np.testing.assert_allclose(np.abs(det), 1.0, atol=ATOL_F32)
    within_se((det > 0).mean(1), 0.5, 0.5 / np.sqrt(N_SETS), "per-position P(det = +1)")
    within_se(r.mean(1), 0.0, np.sqrt(1 / 3 / N_SETS), "per-position mean of O(3) matrices")
    assert set(np.sum(det > 0, axis=0).tolist()) <= {2, 3}  # balanced within every set


def test_so2_and_o2_marginals_uniform_and_angles_evenly_spread():
    s = 6
    r = stratified_sets(G.SO2(), s, KEYS["C"]).astype(np.float64)
    angle = np.arctan2(r[..., 1, 0], r[..., 0, 0])
    angle_checks(angle, "SO(2) stratified angle")
    gaps = np.diff(np.sort(np.mod(angle, 2 * np.pi), axis=0), axis=0)
    np.testing.assert_allclose(gaps, 2 * np.pi / s, atol=1e-4)
    o = stratified_sets(G.O2(), s, KEYS["D"]).astype(np.float64)
    det = np.linalg.det(o)
    within_se((det > 0).mean(1), 0.5, 0.5 / np.sqrt(N_SETS), "per-position P(rotation) in O(2)")
    assert np.all(np.sum(det > 0, axis=0) == s // 2)
    angle_checks(np.arctan2(o[..., 1, 0], o[..., 0, 0]), "O(2) stratified angle")


def test_translations_marginal_uniform():
    period, s = 2.0, 7
    t = stratified_sets(G.Translations(2, period=period), s, KEYS["E"]) / period  # (S, K, 2)
    assert np.all((t >= 0) & (t < 1))
    for q in (0.25, 0.5, 0.75):
        within_se((t <= q).mean(1), q, np.sqrt(q * (1 - q) / N_SETS), f"translation CDF at {q}")
    first = np.sort(np.mod(t[..., 0] - t[:1, :, 0], 1.0), axis=0)  # coordinate 0 is a grid
    np.testing.assert_allclose(
        first, np.broadcast_to((np.arange(s) / s)[:, None], first.shape), atol=1e-5
    )


def test_finite_without_replacement_uniform_per_position():
    group, s = G.Dihedral(6), 8
    g = stratified_sets(group, s, KEYS["A"])  # (S, K) int32 indices
    uniform_counts(g, group.order, "Dihedral(6) per-position frequencies")
    assert all(len(set(col)) == s for col in g.T.tolist())  # no repeats within a set


def test_finite_more_samples_than_elements_takes_whole_copies():
    g = stratified_sets(G.Cyclic(4), 10, KEYS["B"])  # (S, K)
    counts = (g[..., None] == np.arange(4)).sum(0)  # (K, 4) per set
    assert np.all((g[:8, :, None] == np.arange(4)).sum(0) == 2)  # two whole copies first
    assert np.all((counts == 2) | (counts == 3)) and np.all(counts.sum(1) == 10)
    uniform_counts(g, 4, "Cyclic(4), S = 10")


def test_symmetric_latin_design_uniform_and_balanced():
    group, s = G.Symmetric(4), 6  # S < |G| = 24: the Latin design
    p = stratified_sets(group, s, KEYS["D"])  # (S, K, n)
    assert np.all(np.sort(p, axis=-1) == np.arange(4))  # every row is a permutation
    assert np.all(np.sort(p[:4], axis=0) == np.arange(4)[:, None, None])  # a Latin square
    idx = jax.jit(jax.vmap(jax.vmap(group.index)))(p)
    uniform_counts(idx, 24, "Symmetric(4) per-position frequencies (Latin design)")


def test_symmetric_takes_the_whole_group_when_s_reaches_its_order():
    g = G.Symmetric(3)
    whole = jax.jit(
        lambda k: jax.vmap(jax.vmap(g.index))(g.sample(k, (6, 20), sampling="stratified"))
    )
    assert np.all(np.sort(np.asarray(whole(KEYS["F"])), axis=0) == np.arange(6)[:, None])


def test_product_marginal_is_the_product_measure():
    group, s = G.DirectProduct(G.SO2(), G.Cyclic(4)), 4
    r, c = stratified_sets(group, s, KEYS["E"])
    quadrant = (np.mod(np.arctan2(r[..., 1, 0], r[..., 0, 0]), 2 * np.pi) // (np.pi / 2)) % 4
    uniform_counts(c, 4, "cyclic factor")
    uniform_counts(quadrant.astype(int) * 4 + c, 16, "joint (angle quadrant, cyclic factor)")
    assert np.all(np.sort(c, axis=0) == np.arange(4)[:, None])  # each factor stratified
    assert np.all(np.sort(quadrant, axis=0) == np.arange(4)[:, None])


# --- models -----------------------------------------------------------------------------------


def mlp_params(key, d_in, d_out=1, width=32):
    k1, k2, k3 = jax.random.split(key, 3)
    return [
        (jax.random.normal(k1, (d_in, width)) / math.sqrt(d_in), jnp.zeros(width)),
        (jax.random.normal(k2, (width, width)) / math.sqrt(width), jnp.zeros(width)),
        (jax.random.normal(k3, (width, d_out)) / math.sqrt(width), jnp.zeros(d_out)),
    ]


def mlp(params, x):
    for w, b in params[:-1]:
        x = jnp.tanh(x @ w + b)
    w, b = params[-1]
    return x @ w + b


E3_LINEAR = e3nn.flax.Linear("1o")


def e3nn_params(key):
    k1, k2 = jax.random.split(key)
    lin = E3_LINEAR.init(k1, e3nn.IrrepsArray("2x1o", jnp.zeros((1, 6))))
    return {"linear": lin, "break": 0.3 * jax.random.normal(k2, (6, 3))}


def e3nn_model(params, x):
    """An e3nn Linear on two vectors (equivariant) plus a small symmetry-breaking term."""
    y = E3_LINEAR.apply(params["linear"], e3nn.IrrepsArray("2x1o", x)).array
    return y + jnp.tanh(x @ params["break"])


def case(name):
    kp, kx = jax.random.split(jax.random.key(7))
    if name == "SO2-mlp":
        return mlp, mlp_params(kp, 2), jax.random.normal(kx, (B, 2)), (G.SO2(), Vector())
    if name == "SO3-mlp":
        return mlp, mlp_params(kp, 3), jax.random.normal(kx, (B, 3)), (G.SO3(), Vector())
    if name == "SO3-e3nn":
        spec = (G.SO3(), Irreps("2x1o"), Irreps("1o"))
        return e3nn_model, e3nn_params(kp), jax.random.normal(kx, (B, 6)), spec
    if name == "Dihedral6-mlp":  # order 12, rotating and reflecting the plane
        return mlp, mlp_params(kp, 2), jax.random.normal(kx, (B, 2)), (G.Dihedral(6), Vector())
    if name == "Symmetric5-mlp":  # order 120, permuting 5 coordinates
        return (
            mlp,
            mlp_params(kp, 5),
            jax.random.normal(kx, (B, 5)),
            (G.Symmetric(5), Permutation()),
        )
    raise KeyError(name)


def estimates(name, s, key, shared=False, n_keys=N_KEYS):
    """Batch-mean error estimates for `n_keys` keys: (iid, stratified), each of shape (n_keys,).

    One independent key per estimate (vmapped: one compile). Copies of the batch in one call
    would not do for iid sampling of Symmetric(n), whose per-pair elements p_s·q_b are only
    pairwise independent (`symreg.groups.sample_pairs`): that keeps each estimate's mean and
    variance, but copies sharing the p_s make a variance measured across them much noisier.
    """
    fn, params, x, spec = case(name)
    sym = symreg.Symmetry(*spec)
    kw = dict(symmetry=sym, num_samples=s, share_elements=shared)

    def batch_means(k, sampling):
        one = lambda kk: symreg.equivariance_error(fn, params, x, kk, sampling=sampling, **kw)
        return jax.vmap(lambda kk: one(kk).mean())(jax.random.split(k, n_keys))

    k1, k2 = jax.random.split(key)
    out = jax.jit(lambda: (batch_means(k1, "iid"), batch_means(k2, "stratified")))()
    return tuple(np.asarray(a, np.float64) for a in out)


# --- unbiasedness and variance reduction --------------------------------------------------------

# (model, S): S is the same for both samplers in each comparison.
REDUCTION_CASES = [
    ("SO2-mlp", 8),
    ("SO3-mlp", 16),
    ("SO3-e3nn", 16),
    ("Symmetric5-mlp", 8),
]


@pytest.mark.parametrize("name,s", REDUCTION_CASES)
def test_stratified_is_unbiased_and_reduces_variance(name, s):
    iid, strat = estimates(name, s, KEYS["A"])
    se = math.sqrt(iid.var(ddof=1) / iid.size + strat.var(ddof=1) / strat.size)
    within_se(strat.mean(), iid.mean(), se, f"{name}: stratified vs iid mean")
    ratio = iid.var(ddof=1) / strat.var(ddof=1)
    assert ratio >= MIN_RATIO, f"{name}, S = {s}: variance ratio iid/stratified = {ratio:.2f}"


def test_shared_elements_stratified_reduces_variance():
    iid, strat = estimates("SO2-mlp", 8, KEYS["C"], shared=True)
    assert iid.var(ddof=1) / strat.var(ddof=1) >= MIN_RATIO


def finite_truth(name):
    """Exact mean error and per-example variance over g of a finite-group case."""
    fn, params, x, spec = case(name)
    err = np.asarray(
        symreg.exact_equivariance_error(fn, params, x, symmetry=symreg.Symmetry(*spec)),
        np.float64,
    )  # (G, B)
    return err.mean(), err.var(axis=0), err.shape[0]


def test_finite_group_variances_match_the_finite_population_formula():
    """Per example, the mean of S iid draws has variance σ²/S; without replacement it has
    (G − S)/(G − 1) · σ²/S, with σ² the variance over the G elements (known exactly here)."""
    s = 10
    mean, var_g, order = finite_truth("Dihedral6-mlp")
    iid, strat = estimates("Dihedral6-mlp", s, KEYS["E"], n_keys=2 * N_KEYS)
    iid_var = var_g.sum() / (s * B**2)
    strat_var = iid_var * (order - s) / (order - 1)
    for est, var, what in [(iid, iid_var, "iid"), (strat, strat_var, "stratified")]:
        within_se(est.mean(), mean, est.std(ddof=1) / math.sqrt(est.size), f"{what}: unbiased")
        se_var = var * math.sqrt(2 / (est.size - 1))  # sample variance of near-normal values
        within_se(est.var(ddof=1), var, se_var, f"{what}: variance of the estimate")
    assert iid.var(ddof=1) / strat.var(ddof=1) >= MIN_RATIO  # theory: (G − 1)/(G − S) = 11/2


def test_stratified_reynolds_is_unbiased_with_the_finite_population_variance():
    """The sampled Qf(x_b) averages S values f(g x_b): without replacement its mean squared
    error is (G − S)/(G − 1) times the iid one, σ_b²/S (σ_b² over the G elements)."""
    s = 8
    fn, params, x, spec = case("Dihedral6-mlp")
    sym = symreg.Symmetry(*spec)
    group = sym.transforms
    act = jax.vmap(sym.act_input, in_axes=(None, 0))
    values = jax.jit(jax.vmap(lambda g: fn(params, act(g, x))))(group.elements())  # (G, B, 1)
    values = np.asarray(values, np.float64)
    exact, iid_mse = values.mean(0), values.var(0).mean() / s

    def sampled(k):  # relax passes `sampling` on: alpha = 0 is the same Qf
        kw = dict(symmetry=sym, num_samples=s, key=k, sampling="stratified")
        return symreg.symmetrize(fn, **kw)(params, x), symreg.relax(fn, 0.0, **kw)(params, x)

    strat, relaxed = jax.jit(jax.vmap(sampled))(jax.random.split(KEYS["F"], N_KEYS))
    strat = np.asarray(strat, np.float64)  # (K, B, 1)
    np.testing.assert_allclose(relaxed, strat, atol=ATOL_F32)
    se = strat.std(0, ddof=1) / math.sqrt(N_KEYS)
    within_se(strat.mean(0), exact, se, "stratified Reynolds average")
    sq = ((strat - exact) ** 2).mean((1, 2))  # per key
    truth = iid_mse * (group.order - s) / (group.order - 1)
    within_se(sq.mean(), truth, sq.std(ddof=1) / math.sqrt(N_KEYS), "stratified Reynolds MSE")
    assert iid_mse / sq.mean() >= MIN_RATIO  # theory: (G − 1)/(G − S) = 11/4
