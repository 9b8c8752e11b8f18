"""Property tests for every action in `symreg.actions` and the `Symmetry` spec.

For each (group, action, example) case one compiled program checks the homomorphism
act(g, act(h, x)) = act(g·h, x), the identity, the inverse, the preservation of shapes,
dtypes and norms (the actions are orthogonal) and, for linear actions on a basis, the
orthogonality of the action's matrix (Wigner-D included). Group elements are made on the
host with a fixed NumPy generator, so the programs hold only the action code.
"""

from __future__ import annotations

import dataclasses
import functools
import pickle
import zlib

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symreg
from symreg import actions as A
from symreg import groups as G

pytestmark = pytest.mark.usefixtures("fast_compile")

#: Absolute tolerance for float32 actions (Wigner-D matrices up to l = 3 included).
ATOL_F32 = 2e-5
#: Relative tolerance on squared norms preserved by the (orthogonal) actions.
NORM_RTOL_F32 = 1e-4
#: Elements per homomorphism check.
N_ELEMENTS = 8
#: The bilinear rotation of an image by continuous angles breaks the homomorphism by at
#: least this much (interpolation blurs and the corners leave the image).
BILINEAR_MIN_DEFECT = 1e-2


def host_elements(group, rng: np.random.Generator, n: int):
    """n elements of `group` made with NumPy (independent of the library's samplers)."""
    if isinstance(group, G.DirectProduct):
        return tuple(host_elements(f, rng, n) for f in group.factors)
    if isinstance(group, (G.Cyclic, G.Dihedral)):
        return jnp.asarray(rng.integers(0, group.order, n), jnp.int32)
    if isinstance(group, G.Symmetric):
        return jnp.asarray(np.argsort(rng.random((n, group.n)), axis=1), jnp.int32)
    if isinstance(group, G.Translations):
        return jnp.asarray(rng.uniform(0, group.period, (n, group.dim)), jnp.float32)
    if group.vector_dim == 2:
        t = rng.uniform(0, 2 * np.pi, n)
        c, s = np.cos(t), np.sin(t)
        m = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    else:  # Haar rotations: QR of a Gaussian matrix with the sign fix, det = +1
        q, r = np.linalg.qr(rng.normal(size=(n, 3, 3)))
        m = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[:, None, :]
        m = m * np.sign(np.linalg.det(m))[:, None, None]
    if isinstance(group, (G.O2, G.O3)):  # every other element is improper
        m[1::2] = m[1::2] @ (np.diag([1.0, -1.0]) if group.vector_dim == 2 else -np.eye(3))
    return jnp.asarray(m, jnp.float32)


@dataclasses.dataclass(frozen=True)
class Case:
    group: G.AbstractGroup
    action: object
    shape: object  # example shape: a tuple, or a pytree of tuples; "eye" for a basis
    dtype: str = "float32"
    basis_dim: int | None = None  # if set, the example is the identity matrix (a basis)
    irreps_array: bool = False

    def example(self, rng):
        if self.basis_dim is not None:
            return jnp.eye(self.basis_dim, dtype=jnp.float32)
        x = jax.tree.map(
            lambda s: jnp.asarray(rng.normal(size=s), self.dtype),
            self.shape,
            is_leaf=lambda s: isinstance(s, tuple) and all(isinstance(i, int) for i in s),
        )
        if self.irreps_array:
            x = e3nn.IrrepsArray(self.action.irreps, x)
        return x


SO3, O3, S4 = G.SO3(), G.O3(), G.Symmetric(4)
CASES = {
    # Trivial: invariance.
    "Trivial-SO3": Case(SO3, A.Trivial(), (4,)),
    "Trivial-Cyclic5": Case(G.Cyclic(5), A.Trivial(), (2, 3)),
    "Trivial-Translations": Case(G.Translations(2), A.Trivial(), (3,)),
    # Vector: the defining representation (on a basis: the matrix itself).
    "Vector-Cyclic5": Case(G.Cyclic(5), A.Vector(), None, basis_dim=2),
    "Vector-Dihedral5": Case(G.Dihedral(5), A.Vector(), None, basis_dim=2),
    "Vector-Symmetric4": Case(S4, A.Vector(), None, basis_dim=4),
    "Vector-SO2": Case(G.SO2(), A.Vector(), (5, 2)),
    "Vector-O2": Case(G.O2(), A.Vector(), None, basis_dim=2),
    "Vector-SO3": Case(SO3, A.Vector(), None, basis_dim=3),
    "Vector-O3": Case(O3, A.Vector(), (5, 3)),
    # Irreps: Wigner-D matrices, on a basis, with parity and l = 0..3.
    "Irreps-SO3-l0123": Case(SO3, A.Irreps("0e + 2x1o + 2e + 3o"), None, basis_dim=19),
    "Irreps-O3-parity": Case(O3, A.Irreps("0o + 1e + 1o + 2o + 3e"), None, basis_dim=19),
    "Irreps-O3-IrrepsArray": Case(O3, A.Irreps("1o + 2e"), (3, 8), irreps_array=True),
    # PointCloud: coordinates, optional irreps features, optional permutation of the points.
    "PointCloud-SO3": Case(SO3, A.PointCloud(), (4, 3)),
    "PointCloud-O3-features": Case(O3, A.PointCloud("0e + 1o"), ((4, 3), (4, 4))),
    "PointCloud-SO3xS4": Case(G.DirectProduct(SO3, S4), A.PointCloud(), (4, 3)),
    "PointCloud-O3xS4-features": Case(
        G.DirectProduct(O3, S4), A.PointCloud("1e + 2o"), ((4, 3), (4, 8))
    ),
    "PointCloud-SO2xS4": Case(G.DirectProduct(G.SO2(), S4), A.PointCloud(), (4, 2)),
    # Permutation of an axis.
    "Permutation-Symmetric4": Case(S4, A.Permutation(), (4, 2)),
    "Permutation-Symmetric4-axis1": Case(S4, A.Permutation(axis=1), (2, 4)),
    "Permutation-Symmetric3-pytree": Case(G.Symmetric(3), A.Permutation(), ((3,), (3, 2))),
    "Permutation-Cyclic5": Case(G.Cyclic(5), A.Permutation(), (5,)),
    "Permutation-Dihedral5": Case(G.Dihedral(5), A.Permutation(), (5, 3)),
    # Regular representation.
    "Regular-Cyclic6": Case(G.Cyclic(6), A.Regular(), (6,)),
    "Regular-Dihedral4": Case(G.Dihedral(4), A.Regular(), (2, 8)),
    "Regular-Symmetric3": Case(G.Symmetric(3), A.Regular(), (6,)),
    "Regular-C2xC3": Case(G.DirectProduct(G.Cyclic(2), G.Cyclic(3)), A.Regular(), (6,)),
    "Regular-D3xC2-axis0": Case(
        G.DirectProduct(G.Dihedral(3), G.Cyclic(2)), A.Regular(axis=0), (12, 2)
    ),
    # Images: exact rot90/flips and circular shifts.
    "Image-C4": Case(G.Cyclic(4), A.Image(), (5, 5, 2)),
    "Image-D4": Case(G.Dihedral(4), A.Image(), (4, 4)),
    "Image-D2-rectangle": Case(G.Dihedral(2), A.Image(), (4, 6)),
    "Image-shifts": Case(G.DirectProduct(G.Cyclic(4), G.Cyclic(6)), A.Image(), (4, 6, 3)),
    # Trees: tuple and dict examples, all entries acted on by the same element.
    "Tree-tuple-O3": Case(O3, A.as_action((A.Vector(), A.Irreps("0e + 1o"))), ((5, 3), (4,))),
    "Tree-dict-SO3": Case(
        SO3,
        A.as_action({"pos": A.PointCloud(), "inv": A.Trivial(), "vec": A.Vector()}),
        {"pos": (4, 3), "inv": (2,), "vec": (3,)},
    ),
    "Tree-nested-Cyclic4": Case(
        G.Cyclic(4), A.as_action((A.Regular(), {"img": A.Image()})), ((4,), {"img": (3, 3)})
    ),
    # Factorwise actions of products.
    "Factorwise-SO2xS3": Case(
        G.DirectProduct(G.SO2(), G.Symmetric(3)), A.Factorwise(A.Vector(), A.Permutation()), (3, 2)
    ),
    "Factorwise-C2xC3": Case(
        G.DirectProduct(G.Cyclic(2), G.Cyclic(3)),
        A.Factorwise(A.Regular(axis=0), A.Regular(axis=1)),
        (2, 3),
    ),
    "Factorwise-SO3xS4": Case(
        G.DirectProduct(SO3, S4), A.Factorwise(A.Vector(), A.Permutation()), (4, 3)
    ),
}


def _flat(tree):
    """The leaves of an example (IrrepsArrays included) as plain arrays."""
    leaves = jax.tree.leaves(tree, is_leaf=lambda a: isinstance(a, e3nn.IrrepsArray))
    return [a.array if isinstance(a, e3nn.IrrepsArray) else a for a in leaves]


def _max_diff(a, b):
    return functools.reduce(
        jnp.maximum, [jnp.max(jnp.abs(x - y)) for x, y in zip(_flat(a), _flat(b), strict=True)]
    )


def _sq_norm(tree):
    return sum(jnp.sum(jnp.square(a)) for a in _flat(tree))


@functools.cache
def run_case(name):
    """Checks of one case in one program with two call sites of the action.

    h[0] is the identity, so ρ(e)x = x is checked; g[1] = h[1]⁻¹, so ρ(h⁻¹)ρ(h)x = x is.
    """
    case = CASES[name]
    group, act = case.group, case.action
    sym = symreg.Symmetry(group, act)  # validates the action against the group
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = case.example(rng)
    sym.check_input(x)
    g, h = host_elements(group, rng, N_ELEMENTS), host_elements(group, rng, N_ELEMENTS)

    def run(x, g, h):
        n = N_ELEMENTS
        h = jax.tree.map(lambda a, e: a.at[0].set(e), h, group.identity())
        g = jax.tree.map(lambda a, b: a.at[1].set(b[1]), g, jax.vmap(group.inverse)(h))
        gh = jax.vmap(group.compose)(g, h)
        both = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), h, gh)
        ys = jax.vmap(lambda e: act.apply(group, e, x))(both)  # ρ(h)x and ρ(gh)x
        hx = jax.tree.map(lambda a: a[:n], ys)
        ghx = jax.tree.map(lambda a: a[n:], ys)
        lhs = jax.vmap(lambda e, y: act.apply(group, e, y))(g, hx)  # ρ(g)ρ(h)x
        take = lambda t, i: jax.tree.map(lambda a: a[i], t)
        out = {
            "homomorphism": _max_diff(lhs, ghx),
            "identity": _max_diff(take(hx, 0), x),
            "inverse": _max_diff(take(lhs, 1), x),
            "norm": jnp.max(jnp.abs(jax.vmap(_sq_norm)(ys) - _sq_norm(x))),
            "moves": _max_diff(hx, jax.tree.map(lambda a: jnp.broadcast_to(a, (n,) + a.shape), x)),
        }
        if case.basis_dim is not None:  # ρ(h) applied to the basis: rows are its columns
            m = _flat(hx)[0]
            eye = jnp.eye(case.basis_dim)
            out["orthogonality"] = jnp.max(jnp.abs(m @ jnp.swapaxes(m, -1, -2) - eye))
        return out, jax.tree.map(lambda a: a[0], ys)

    out, y0 = jax.jit(run)(x, g, h)
    return jax.tree.map(float, out), x, y0


@pytest.mark.parametrize("name", CASES)
def test_action_is_a_homomorphism(name):
    out, _, _ = run_case(name)
    assert out["homomorphism"] <= ATOL_F32, f"{name}: ρ(g)ρ(h) ≠ ρ(gh) by {out['homomorphism']}"
    assert out["identity"] <= ATOL_F32, f"{name}: ρ(e) ≠ id by {out['identity']}"
    assert out["inverse"] <= ATOL_F32, f"{name}: ρ(h⁻¹)ρ(h) ≠ id by {out['inverse']}"


@pytest.mark.parametrize("name", CASES)
def test_action_preserves_structure_and_norm(name):
    out, x, y = run_case(name)
    assert jax.tree.structure(y) == jax.tree.structure(x)
    for a, b in zip(_flat(y), _flat(x), strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
    if isinstance(x, e3nn.IrrepsArray):
        assert isinstance(y, e3nn.IrrepsArray) and y.irreps == x.irreps
    assert out["norm"] <= NORM_RTOL_F32 * (1 + float(_sq_norm(x)))
    if not isinstance(CASES[name].action, A.Trivial):
        assert out["moves"] > 10 * ATOL_F32, f"{name}: the action did not move the example"


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.basis_dim is not None])
def test_action_matrix_is_orthogonal(name):
    out, _, _ = run_case(name)
    assert out["orthogonality"] <= ATOL_F32, f"{name}: M Mᵀ ≠ I by {out['orthogonality']}"


@pytest.mark.parametrize("name", CASES)
def test_symmetry_of_exact_action_is_exact(name):
    case = CASES[name]
    sym = symreg.Symmetry(case.group, case.action, case.action)
    assert sym.is_exact and sym.act_in.is_exact(case.group)
    assert hash(sym) == hash(symreg.Symmetry(case.group, case.action, case.action))


def test_bilinear_image_rotation_is_not_a_homomorphism():
    group, act = G.SO2(), A.Image()
    assert not act.is_exact(group)
    assert not symreg.Symmetry(group, act).is_exact
    assert not symreg.Symmetry(G.Cyclic(8), act).is_exact  # 45° needs interpolation
    assert not symreg.Symmetry(G.RotationRange(0.3), act).is_exact  # not a group either
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(8, 8)), jnp.float32)
    g, h = host_elements(group, rng, 4), host_elements(group, rng, 4)

    @jax.jit
    def defect(g, h):
        lhs = jax.vmap(lambda a, b: act.apply(group, a, act.apply(group, b, x)))(g, h)
        rhs = jax.vmap(lambda a, b: act.apply(group, group.compose(a, b), x))(g, h)
        return jnp.max(jnp.abs(lhs - rhs))

    assert float(defect(g, h)) > BILINEAR_MIN_DEFECT


@functools.cache
def concrete_values():
    """Actions on small hand-made examples, in one compiled program, against NumPy below."""
    img = jnp.arange(12.0).reshape(3, 4)
    sq = jnp.arange(16.0).reshape(4, 4)
    vec = jnp.array([1.0, 2.0, 3.0])
    r = host_elements(SO3, np.random.default_rng(1), 1)[0]
    cyc6 = symreg.Symmetry(G.Cyclic(6), A.Regular(), A.Regular())

    @jax.jit
    def run():
        return {
            "rot90": A.Image().apply(G.Cyclic(4), 1, sq),
            "rot180": A.Image().apply(G.Cyclic(2), 1, img),
            "roll": A.Image().apply(G.DirectProduct(G.Cyclic(3), G.Cyclic(4)), (1, 2), img),
            "shift": cyc6.act_input(2, jnp.arange(6.0)),
            "shift_back": cyc6.act_output_inverse(2, cyc6.act_output(2, jnp.arange(6.0))),
            "regular_c2xc3": A.Regular().apply(
                G.DirectProduct(G.Cyclic(2), G.Cyclic(3)), (1, 1), jnp.arange(6.0)
            ),
            "vector_c4": A.Vector().apply(G.Cyclic(4), 1, vec[:2]),
            "matrix_c4": G.Cyclic(4).defining_matrix(1) @ vec[:2],
            "vector_d4": A.Vector().apply(G.Dihedral(4), 5, vec[:2]),
            "matrix_d4": G.Dihedral(4).defining_matrix(5) @ vec[:2],
            "vector_s3": A.Vector().apply(G.Symmetric(3), jnp.array([2, 0, 1]), vec),
            "matrix_s3": G.Symmetric(3).defining_matrix(jnp.array([2, 0, 1])) @ vec,
            "parity": A.Irreps("0o + 1o + 1e").apply(
                O3, -jnp.eye(3), jnp.array([0.5, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0])
            ),
            "irreps_1o": A.Irreps("1o").apply(SO3, r, jnp.array([1.0, -2.0, 0.5])),
            "matrix_1o": r @ jnp.array([1.0, -2.0, 0.5]),
        }

    return jax.tree.map(np.asarray, run())


def test_image_rot90_and_shifts_match_numpy():
    v = concrete_values()
    np.testing.assert_array_equal(v["rot90"], np.rot90(np.arange(16.0).reshape(4, 4)))
    np.testing.assert_array_equal(v["rot180"], np.rot90(np.arange(12.0).reshape(3, 4), 2))
    np.testing.assert_array_equal(
        v["roll"], np.roll(np.arange(12.0).reshape(3, 4), (1, 2), axis=(0, 1))
    )


def test_regular_cyclic_is_circular_shift_and_symmetry_inverts_outputs():
    v = concrete_values()
    np.testing.assert_array_equal(v["shift"], np.roll(np.arange(6.0), 2))
    np.testing.assert_array_equal(v["shift_back"], np.arange(6.0))
    # The enumeration path (C2 × C3, isomorphic to C6) permutes the entries.
    assert sorted(v["regular_c2xc3"].tolist()) == list(range(6))
    assert not np.array_equal(v["regular_c2xc3"], np.arange(6.0))


def test_vector_matches_defining_matrix():
    v = concrete_values()
    for name in ("c4", "d4", "s3"):
        np.testing.assert_allclose(v[f"vector_{name}"], v[f"matrix_{name}"], atol=ATOL_F32)
    np.testing.assert_allclose(v["vector_c4"], [-2.0, 1.0], atol=ATOL_F32)  # rotation by 90°


def test_irreps_parity_and_vector_agreement():
    v = concrete_values()
    # Under -I: 0o flips sign, 1o (a vector) flips, 1e (a pseudovector) does not.
    np.testing.assert_allclose(v["parity"], [-0.5, -1, -2, -3, 1, 2, 3], atol=ATOL_F32)
    np.testing.assert_allclose(v["irreps_1o"], v["matrix_1o"], atol=ATOL_F32)


def test_as_action_normalizes_specs():
    assert A.as_action(A.Vector()) == A.Vector()
    tree = A.as_action({"b": A.Vector(), "a": [A.Trivial(), A.Regular()]})
    assert isinstance(tree, A.Tree)
    assert tree == A.Tree((("a", A.Tree((A.Trivial(), A.Regular()))), ("b", A.Vector())))
    sym = symreg.Symmetry(G.Cyclic(3), (A.Vector(), A.Regular()))
    assert isinstance(sym.act_in, A.Tree) and sym.act_out == A.Trivial()


def test_actions_are_hashable_and_picklable():
    for case in CASES.values():
        act = case.action
        assert pickle.loads(pickle.dumps(act)) == act
        assert hash(pickle.loads(pickle.dumps(act))) == hash(act)
    assert repr(A.Irreps("1o + 0e")) == 'Irreps("1x1o+1x0e")'


def test_symmetry_group_of_partial_sets():
    cyc = symreg.Symmetry(G.Cyclic(6), A.Regular(), A.Regular())
    assert cyc.group is cyc.transforms and cyc.is_exact
    partial = symreg.Symmetry(G.RotationRange(0.5), A.Vector())
    assert partial.group == G.SO2() and not partial.is_exact
