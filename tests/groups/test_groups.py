"""Property tests for every group and transformation set in `symreg.groups`.

Group laws (identity, inverse, associativity) on sampled elements, closure and indexing for
finite groups, the defining representation, the exponential map, sampling contracts, and Haar
sanity checks written in standard errors. Compilation dominates the cost on CPU, so each set
compiles one probe program (cached, run with two keys) that every test of the set reads.
"""

from __future__ import annotations

import functools
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from symreg import groups as G

pytestmark = pytest.mark.usefixtures("fast_compile")

#: Absolute tolerance on float32 group elements after a few compositions.
ATOL_F32 = 1e-5
#: Statistical assertions allow this many standard errors.
NUM_SE = 4.0
#: Elements per law check, and draws per Haar check.
N_LAWS = 16
N_HAAR = 10_000
#: Parameters of the partial sets.
MAX_ANGLE = 0.7
NEAR_SCALE = 0.1


def even_shifts(key, n):
    """The even rotations of Cyclic(8), uniform: a user-defined set (not a group)."""
    return 2 * jax.random.randint(key, (n,), 0, 4)


GROUPS = {
    "Cyclic5": G.Cyclic(5),
    "Dihedral5": G.Dihedral(5),
    "Symmetric4": G.Symmetric(4),
    "SO2": G.SO2(),
    "O2": G.O2(),
    "SO3": G.SO3(),
    "O3": G.O3(),
    "Translations2": G.Translations(2, period=2.0),
    "C2xC3": G.DirectProduct(G.Cyclic(2), G.Cyclic(3)),
    "D3xS3xC2": G.DirectProduct(G.Dihedral(3), G.Symmetric(3), G.Cyclic(2)),
    "SO3xS4": G.DirectProduct(G.SO3(), G.Symmetric(4)),
}
PARTIAL_SETS = {
    "RotationRange2": G.RotationRange(MAX_ANGLE),
    "RotationRange3": G.RotationRange(MAX_ANGLE, dim=3),
    "NearIdentitySO3xS4": G.NearIdentity(G.DirectProduct(G.SO3(), G.Symmetric(4)), NEAR_SCALE),
    "UserSetEvenShifts": G.UserSet(even_shifts, G.Cyclic(8)),
}
ALL_SETS = {**GROUPS, **PARTIAL_SETS}
FINITE = {k: g for k, g in GROUPS.items() if isinstance(g, G.AbstractFiniteGroup)}
LIE = {k: g for k, g in GROUPS.items() if isinstance(g, G.AbstractLieGroup)}
MATRIX = {k: g for k, g in GROUPS.items() if isinstance(g, G.AbstractMatrixRepresentation)}
KEYS = {"A": jax.random.key(1), "B": jax.random.key(2)}


def distance(group, a, b):
    """Largest coordinate distance between (stacked) elements; periodic for translations."""
    if isinstance(group, G.DirectProduct):
        parts = [distance(f, x, y) for f, x, y in zip(group.factors, a, b, strict=True)]
        return functools.reduce(jnp.maximum, parts)
    d = jnp.abs(jnp.asarray(a, jnp.float32) - jnp.asarray(b, jnp.float32))
    if isinstance(group, G.Translations):
        d = jnp.minimum(d, group.period - d)
    return jnp.max(d)


def _stack(group, element, n):
    return jax.tree.map(lambda a: jnp.broadcast_to(a, (n,) + a.shape), element)


def _laws(group, g, h, k):
    n = jax.tree.leaves(g)[0].shape[0]
    e = _stack(group, group.identity(), n)
    mul, inv = jax.vmap(group.compose), jax.vmap(group.inverse)
    return {
        "left_identity": distance(group, mul(e, g), g),
        "right_identity": distance(group, mul(g, e), g),
        "left_inverse": distance(group, mul(inv(g), g), e),
        "right_inverse": distance(group, mul(g, inv(g)), e),
        "double_inverse": distance(group, inv(inv(g)), g),
        "associativity": distance(group, mul(mul(g, h), k), mul(g, mul(h, k))),
        "inverse_of_product": distance(group, inv(mul(g, h)), mul(inv(h), inv(g))),
        "distance_from_identity": distance(group, g, e),
    }


def _matrix_checks(group, g, h):
    m = jax.vmap(group.defining_matrix)
    mg, mh, mgh = m(g), m(h), m(jax.vmap(group.compose)(g, h))
    eye = jnp.eye(group.vector_dim)
    return {
        "shape": jnp.array(mg.shape),
        "orthogonality": jnp.max(jnp.abs(mg @ jnp.swapaxes(mg, -1, -2) - eye)),
        "homomorphism": jnp.max(jnp.abs(mgh - mg @ mh)),
        "identity": jnp.max(jnp.abs(group.defining_matrix(group.identity()) - eye)),
    }


def _exp_checks(group, key):
    c = jax.random.normal(key, (group.num_generators,))
    return {
        "coefficients": c,
        "exp": group.exp(c),
        "exp_zero": distance(group, group.exp(jnp.zeros_like(c)), group.identity()),
        "one_parameter": distance(
            group, group.compose(group.exp(0.3 * c), group.exp(0.7 * c)), group.exp(c)
        ),
        "exp_inverse": distance(
            group, group.compose(group.exp(c), group.exp(-c)), group.identity()
        ),
    }


def _cayley(group):
    els = group.elements()
    table = jax.vmap(lambda g: jax.vmap(lambda h: group.compose(g, h))(els))(els)
    flat = jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]), table)
    t_idx = jax.vmap(group.index)(flat)
    return {
        "elements": els,
        "index_of_elements": jax.vmap(group.index)(els),
        "table": t_idx.reshape(group.order, group.order),
        "round_trip": distance(group, jax.vmap(group.element_from_index)(t_idx), flat),
    }


@functools.cache
def probe_fn(name):
    """One compiled program per set: a draw of N_HAAR elements and every check built on it."""
    tset = ALL_SETS[name]
    group = tset.base

    def run(key):
        k1, k2 = jax.random.split(key)
        big = tset.sample(k1, (N_HAAR,))
        g, h, k = (jax.tree.map(lambda a, i=i: a[16 * i : 16 * (i + 1)], big) for i in range(3))
        out = {"big": big, "laws": _laws(group, g, h, k)}
        if isinstance(group, G.AbstractMatrixRepresentation):
            out["matrix"] = _matrix_checks(group, g, h)
        if isinstance(group, G.AbstractLieGroup):
            out["exp"] = _exp_checks(group, k2)
        if isinstance(group, G.AbstractFiniteGroup):
            out["big_index"] = jax.vmap(group.index)(big)
            if tset.is_group:
                out["cayley"] = _cayley(group)
        return out

    return jax.jit(run)


@functools.cache
def probe(name, key_name="A"):
    return jax.tree.map(np.asarray, probe_fn(name)(KEYS[key_name]))


LAWS = [
    "left_identity",
    "right_identity",
    "left_inverse",
    "right_inverse",
    "double_inverse",
    "associativity",
    "inverse_of_product",
]


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize("name", ALL_SETS)
def test_group_laws_on_sampled_elements(name, law):
    laws = probe(name)["laws"]
    assert laws[law] <= ATOL_F32, f"{name}: {law} violated by {laws[law]:.3g}"
    # Not vacuous: the sampled elements are not all the identity.
    assert laws["distance_from_identity"] > 10 * ATOL_F32


@pytest.mark.parametrize("name", ALL_SETS)
def test_is_group_flag_and_base(name):
    tset = ALL_SETS[name]
    assert tset.is_group == (name in GROUPS)
    assert tset.base.is_group
    if tset.is_group:
        assert tset.base is tset


@pytest.mark.parametrize("name", ALL_SETS)
def test_sets_are_hashable_comparable_and_picklable(name):
    tset = ALL_SETS[name]
    clone = pickle.loads(pickle.dumps(tset))
    assert clone == tset and hash(clone) == hash(tset)


def test_equal_parameters_give_equal_groups():
    assert G.Cyclic(3) == G.Cyclic(3) and G.Cyclic(3) != G.Cyclic(4)
    assert G.DirectProduct(G.SO3(), G.Symmetric(4)) == G.DirectProduct(G.SO3(), G.Symmetric(4))
    assert G.DirectProduct(G.Cyclic(2), G.Cyclic(3)) != G.DirectProduct(G.Cyclic(3), G.Cyclic(2))
    assert G.RotationRange(0.5) != G.RotationRange(0.5, dim=3)


# --- sampling contract -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 3), (), 5])
@pytest.mark.parametrize("name", ALL_SETS)
def test_sample_shape_and_dtype(name, shape):
    tset = ALL_SETS[name]
    struct = tset.element_struct()
    out = jax.eval_shape(lambda k: tset.sample(k, shape), KEYS["A"])
    lead = (shape,) if isinstance(shape, int) else shape
    assert jax.tree.structure(out) == jax.tree.structure(struct)
    for leaf, want in zip(jax.tree.leaves(out), jax.tree.leaves(struct), strict=True):
        assert leaf.shape == lead + want.shape
        assert leaf.dtype == want.dtype


@pytest.mark.parametrize("name", ALL_SETS)
def test_sample_is_deterministic_given_key_and_depends_on_key(name):
    first = probe(name)["big"]
    again = jax.tree.map(np.asarray, probe_fn(name)(KEYS["A"])["big"])
    other = probe(name, "B")["big"]
    changed = []
    for a, b, c in zip(*map(jax.tree.leaves, (first, again, other)), strict=True):
        np.testing.assert_array_equal(a, b)
        changed.append(not np.array_equal(a[:16], c[:16]))
    assert any(changed), "different keys gave the same elements"


def test_typed_and_raw_keys_give_the_same_elements():
    raw = jax.random.PRNGKey(3)
    typed = jax.random.wrap_key_data(raw)
    np.testing.assert_array_equal(G.Cyclic(5).sample(raw, (6,)), G.Cyclic(5).sample(typed, (6,)))


# --- finite groups: closure, indexing, distinct elements -------------------------------------


@pytest.mark.parametrize("name", FINITE)
def test_finite_group_index_round_trip_and_distinct_elements(name):
    group = FINITE[name]
    cay = probe(name)["cayley"]
    np.testing.assert_array_equal(cay["index_of_elements"], np.arange(group.order))
    flat = np.concatenate(
        [a.reshape(group.order, -1) for a in jax.tree.leaves(cay["elements"])], axis=1
    )
    assert len(np.unique(flat, axis=0)) == group.order, "elements() has duplicates"


@pytest.mark.parametrize("name", FINITE)
def test_finite_group_closure_latin_square(name):
    group = FINITE[name]
    cay = probe(name)["cayley"]
    # Every product is a genuine element: its index maps back to it ...
    assert cay["round_trip"] == 0.0
    table = cay["table"]
    assert table.min() >= 0 and table.max() < group.order
    # ... and the Cayley table is a Latin square (closure and cancellation).
    expected = np.arange(group.order)
    for row, col in zip(table, table.T, strict=True):
        np.testing.assert_array_equal(np.sort(row), expected)
        np.testing.assert_array_equal(np.sort(col), expected)


def test_finite_orders():
    assert [G.Cyclic(5).order, G.Dihedral(5).order, G.Symmetric(4).order] == [5, 10, 24]
    assert G.DirectProduct(G.Dihedral(3), G.Symmetric(3), G.Cyclic(2)).order == 72
    assert G.DirectProduct(G.Cyclic(2), G.Cyclic(3)).order == 6


def test_symmetric_elements_are_lexicographic_permutations():
    # Row-major index d·12 + s·2 + c: the Symmetric(3) factor has stride 2.
    els = probe("D3xS3xC2")["cayley"]["elements"][1]
    first = [els[2 * i].tolist() for i in range(6)]
    assert first == [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]


# --- defining representation and the exponential map ----------------------------------------


@pytest.mark.parametrize("name", MATRIX)
def test_defining_matrix_is_orthogonal_homomorphism(name):
    group, m = MATRIX[name], probe(name)["matrix"]
    assert m["shape"].tolist() == [16, group.vector_dim, group.vector_dim]
    for check in ("orthogonality", "homomorphism", "identity"):
        assert m[check] <= ATOL_F32, f"{name}: defining matrix {check} error {m[check]:.3g}"


def expm_reference(group, c):
    """exp(Σ c_i A_i) on the host in float64 (scipy), factor by factor for products."""
    if isinstance(group, G.DirectProduct):
        out, start = [], 0
        for f in group.factors:
            k = f.num_generators if isinstance(f, G.AbstractLieGroup) else 0
            ident = np.asarray(f.identity())
            out.append(expm_reference(f, c[start : start + k]) if k else ident)
            start += k
        return tuple(out)
    gens = np.asarray(group.generators(), np.float64)
    assert gens.shape[0] == group.num_generators == c.shape[0]
    if isinstance(group, G.AbstractMatrixRepresentation):
        return scipy.linalg.expm(np.einsum("i,ijk->jk", c, gens))
    return np.mod(c, group.period)  # translations: exp(c) = c mod period


@pytest.mark.parametrize("name", LIE)
def test_exp_map(name):
    group, checks = LIE[name], probe(name)["exp"]
    for check in ("exp_zero", "one_parameter", "exp_inverse"):
        assert checks[check] <= ATOL_F32, f"{name}: {check} error {checks[check]:.3g}"
    expected = expm_reference(group, checks["coefficients"].astype(np.float64))
    for got, want in zip(jax.tree.leaves(checks["exp"]), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, atol=ATOL_F32)


def test_product_structure():
    group = GROUPS["SO3xS4"]
    assert group.num_generators == 3
    assert isinstance(group, G.AbstractLieGroup) and not isinstance(group, G.AbstractFiniteGroup)
    assert isinstance(GROUPS["C2xC3"], G.AbstractFiniteGroup)
    with pytest.raises(NotImplementedError):
        group.generators()


# --- Haar sanity, in standard errors ---------------------------------------------------------


def within_se(estimate, truth, se, what):
    estimate, truth, se = np.broadcast_arrays(*map(np.asarray, (estimate, truth, se)))
    z = np.abs(estimate - truth) / se
    assert np.all(z <= NUM_SE), f"{what}: {estimate} vs {truth}, z = {z.max():.2f} s.e."


def ecdf_check(samples, cdf, points, what):
    """Empirical CDF at `points` against `cdf`, each within NUM_SE binomial standard errors."""
    samples = np.asarray(samples, np.float64)
    p = np.array([cdf(t) for t in points])
    emp = np.array([(samples <= t).mean() for t in points])
    within_se(emp, p, np.sqrt(p * (1 - p) / samples.size), what)


def rotation_angle(r):
    cos = (np.trace(np.asarray(r, np.float64), axis1=-2, axis2=-1) - 1) / 2
    return np.arccos(np.clip(cos, -1, 1))


def planar_angle(r):
    r = np.asarray(r, np.float64)
    return np.arctan2(r[..., 1, 0], r[..., 0, 0])


SO3_ANGLE_CDF = lambda t: (t - np.sin(t)) / np.pi
ANGLE_POINTS = np.linspace(0.3, 2.9, 7)
UNIFORM_ANGLE_CDF = lambda t: (t + np.pi) / (2 * np.pi)


def test_so3_haar_moments_and_angle_law():
    r = probe("SO3")["big"].astype(np.float64)
    within_se(r.mean(0), 0.0, r.std(0) / np.sqrt(N_HAAR), "mean of SO(3) matrices")
    sq = r**2  # E[R_ij^2] = 1/3 for a uniformly random rotation
    within_se(sq.mean(0), 1 / 3, sq.std(0) / np.sqrt(N_HAAR), "second moments")
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=ATOL_F32)
    ecdf_check(rotation_angle(r), SO3_ANGLE_CDF, ANGLE_POINTS, "SO(3) angle CDF (t - sin t)/π")


def test_so3_angle_histogram_follows_density():
    angle = rotation_angle(probe("SO3")["big"])
    edges = np.linspace(0, np.pi, 9)
    p = np.diff(SO3_ANGLE_CDF(edges))
    freq = np.histogram(angle, edges)[0] / N_HAAR
    within_se(freq, p, np.sqrt(p * (1 - p) / N_HAAR), "SO(3) angle histogram")


def test_uniform_euler_angles_fail_the_angle_check(rng):
    """The angle check has power: uniformly drawn Euler angles are not Haar."""
    a, b, c = rng.uniform(0, [2 * np.pi, np.pi, 2 * np.pi], (N_HAAR, 3)).T
    # The rotation angle of Rz(a) Ry(b) Rz(c): cos(θ/2) = cos(b/2) cos((a + c)/2).
    angle = 2 * np.arccos(np.abs(np.cos(b / 2) * np.cos((a + c) / 2)))
    with pytest.raises(AssertionError, match="s.e."):
        ecdf_check(angle, SO3_ANGLE_CDF, ANGLE_POINTS, "uniform Euler angles")


def test_o3_determinant_balanced_and_rotation_part_haar():
    r = probe("O3")["big"].astype(np.float64)
    det = np.linalg.det(r)
    np.testing.assert_allclose(np.abs(det), 1.0, atol=ATOL_F32)
    within_se((det < 0).mean(), 0.5, 0.5 / np.sqrt(N_HAAR), "fraction of reflections in O(3)")
    within_se(r.mean(0), 0.0, r.std(0) / np.sqrt(N_HAAR), "mean of O(3) matrices")
    proper = r * np.sign(det)[:, None, None]
    ecdf_check(rotation_angle(proper), SO3_ANGLE_CDF, ANGLE_POINTS, "O(3) rotation part")


def test_so2_angle_uniform():
    r = probe("SO2")["big"]
    np.testing.assert_allclose(np.linalg.det(r.astype(np.float64)), 1.0, atol=ATOL_F32)
    ecdf_check(planar_angle(r), UNIFORM_ANGLE_CDF, np.linspace(-2.5, 2.5, 6), "SO(2) angle")


def test_o2_reflections_balanced_and_angle_uniform():
    r = probe("O2")["big"].astype(np.float64)
    det = np.linalg.det(r)
    np.testing.assert_allclose(np.abs(det), 1.0, atol=ATOL_F32)
    within_se((det < 0).mean(), 0.5, 0.5 / np.sqrt(N_HAAR), "fraction of reflections in O(2)")
    ecdf_check(planar_angle(r), UNIFORM_ANGLE_CDF, np.linspace(-2.5, 2.5, 6), "O(2) angle")


def test_rotation_range_2d_uniform_on_interval():
    a = MAX_ANGLE
    angle = planar_angle(probe("RotationRange2")["big"])
    assert np.all(np.abs(angle) <= a + ATOL_F32)
    points = np.linspace(-0.6, 0.6, 5)
    ecdf_check(angle, lambda t: (t + a) / (2 * a), points, "RotationRange(dim=2) angle")


def test_rotation_range_3d_truncated_haar():
    a = MAX_ANGLE
    r = probe("RotationRange3")["big"].astype(np.float64)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=ATOL_F32)
    angle = rotation_angle(r)
    assert np.all(angle <= a + ATOL_F32)
    cdf = lambda t: (t - np.sin(t)) / (a - np.sin(a))
    ecdf_check(angle, cdf, np.linspace(0.2, 0.65, 5), "RotationRange(dim=3) angle")
    # A uniform axis (from the skew part of R) has mean zero.
    axis = np.stack([r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]], -1)
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    within_se(axis.mean(0), 0.0, axis.std(0) / np.sqrt(N_HAAR), "RotationRange axis mean")


def test_near_identity_scale():
    s = NEAR_SCALE
    rot, perm = probe("NearIdentitySO3xS4")["big"]
    sq = rotation_angle(rot) ** 2  # = |c|^2 with c ~ N(0, s^2 I_3)
    within_se(sq.mean(), 3 * s**2, sq.std() / np.sqrt(N_HAAR), "E θ² of NearIdentity")
    np.testing.assert_array_equal(perm, np.broadcast_to(np.arange(4), (N_HAAR, 4)))


def test_translations_uniform():
    period = GROUPS["Translations2"].period
    t = probe("Translations2")["big"].astype(np.float64)
    assert t.min() >= 0 and t.max() < period
    for j in range(2):
        ecdf_check(t[:, j], lambda v: v / period, [0.3, 1.0, 1.7], f"translation coordinate {j}")


def chi_square_check(indices, order, what):
    """Pearson's statistic against the uniform law: mean G - 1, s.d. sqrt(2 (G - 1))."""
    counts = np.bincount(np.asarray(indices).ravel(), minlength=order)
    assert counts.size == order, f"{what}: index out of range"
    expected = indices.size / order
    stat = np.sum((counts - expected) ** 2 / expected)
    dof = order - 1
    assert stat <= dof + NUM_SE * np.sqrt(2 * dof), f"{what}: chi-square {stat:.1f}, dof {dof}"
    return counts


@pytest.mark.parametrize("name", FINITE)
def test_finite_groups_sample_uniformly(name):
    order = FINITE[name].order
    counts = chi_square_check(probe(name)["big_index"], order, name)
    p = 1 / order
    within_se(counts / N_HAAR, p, np.sqrt(p * (1 - p) / N_HAAR), f"{name} element frequencies")


def test_chi_square_check_has_power():
    skewed = np.concatenate([np.zeros(300, int), np.arange(1000) % 10])
    with pytest.raises(AssertionError, match="chi-square"):
        chi_square_check(skewed, 10, "skewed")


def test_product_factors_uniform_and_independent():
    rot, perm = probe("SO3xS4")["big"]
    ranks = np.array([int("".join(map(str, p)), 4) for p in perm])  # a bijection of S4
    _, idx = np.unique(ranks, return_inverse=True)
    chi_square_check(idx, 24, "Symmetric(4) factor")
    ecdf_check(rotation_angle(rot), SO3_ANGLE_CDF, ANGLE_POINTS, "SO(3) factor")
    # Independence: the rotation angle has the same mean for even and odd permutations.
    odd = np.linalg.det(np.eye(4)[perm]) < 0
    angle = rotation_angle(rot)
    diff = angle[odd].mean() - angle[~odd].mean()
    se = np.sqrt(angle[odd].var() / odd.sum() + angle[~odd].var() / (~odd).sum())
    within_se(diff, 0.0, se, "angle difference between odd and even permutations")


def test_user_set_measure_is_its_sampler():
    idx = probe("UserSetEvenShifts")["big_index"]
    assert set(np.unique(idx).tolist()) == {0, 2, 4, 6}
    chi_square_check(idx // 2, 4, "UserSet even shifts")
