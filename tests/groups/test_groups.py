"""Property tests for every group and transformation set in `symreg.groups`.

Group laws (identity, inverse, associativity) on sampled elements, closure and indexing for
finite groups, the defining representation, the exponential map, and sampling contracts. Each
set's checks come from one compiled probe program (tests/groups/group_probes.py); the Haar
sanity checks on the same draws are in tests/groups/test_groups_haar.py.
"""

from __future__ import annotations

import pickle

import jax
import numpy as np
import pytest
import scipy.linalg
from group_probes import ALL_SETS, ATOL_F32, FINITE, GROUPS, KEYS, LIE, MATRIX, probe, probe_fn

from symreg import groups as G

pytestmark = pytest.mark.usefixtures("fast_compile")


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
