"""The transformation sets of the group tests and one compiled probe program per set.

tests/groups/test_groups.py (laws, sampling, finite groups, the exponential map) and
tests/groups/test_groups_haar.py (Haar sanity in standard errors) read the same probe: each set
compiles one program (cached, run with two keys) that draws N_HAAR elements and runs every check
built on them, so compilation, which dominates the cost on CPU, happens once per set.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from symreg import groups as G

#: Absolute tolerance on float32 group elements after a few compositions.
ATOL_F32 = 1e-5
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
