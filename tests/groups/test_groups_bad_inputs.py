"""The bad-input battery of `symreg.groups`: constructors, sampling, and group elements.

Bad parameters, sample shapes and keys, and elements that are not elements of the group (out of
range, a float for a finite group, batched, not a permutation, not orthogonal, a reflection in
SO(3)) raise a readable ValueError or TypeError (tests/bad_input_helpers.py: the tables).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
from bad_input_helpers import KEY, T, V, assert_readable_error, merged

from symreg import groups as G
from symreg.groups import SO2, SO3, Cyclic, Dihedral, DirectProduct, Symmetric

#: id -> (call, exception type, regex that the message must match)
CASES = {
    "cyclic-order-zero": (lambda: Cyclic(0), V, r"n must be >= 1, got 0"),
    "dihedral-negative-order": (lambda: Dihedral(-2), V, r"n must be >= 1, got -2"),
    "sample-negative-shape": (
        lambda: SO2().sample(KEY, (-1,)),
        V,
        r"shape must contain non-negative ints, got \(-1,\)",
    ),
    "group-compose-out-of-range": (
        lambda: Cyclic(4).compose(7, 1),
        V,
        r"g = 7 is not an element of Cyclic\(n=4\): expected an integer in \[0, 4\)",
    ),
    "group-float-element-of-finite-group": (
        lambda: Cyclic(4).inverse(1.5),
        T,
        r"g must be an element of Cyclic\(n=4\): expected an integer dtype",
    ),
    "group-batched-element": (
        lambda: Symmetric(3).compose(jnp.zeros((2, 3), jnp.int32), jnp.arange(3)),
        V,
        r"g must be one element of Symmetric\(n=3\): expected shape \(3,\) \(no batch axis",
    ),
    "group-not-a-permutation": (
        lambda: Symmetric(3).inverse(jnp.array([0, 0, 1])),
        V,
        r"g = \[0 0 1\] is not an element of Symmetric\(n=3\): expected a permutation",
    ),
    "group-matrix-not-orthogonal": (
        lambda: SO3().compose(2 * jnp.eye(3), jnp.eye(3)),
        V,
        r"is not an element of SO3\(\): expected an orthogonal matrix, but max \|gᵀg − I\| = 3",
    ),
    "group-reflection-in-so3": (
        lambda: SO3().inverse(jnp.diag(jnp.array([1.0, 1.0, -1.0]))),
        V,
        r"expected a rotation \(determinant \+1\), got a reflection",
    ),
    "group-index-out-of-range": (
        lambda: Dihedral(3).element_from_index(6),
        V,
        r"i = 6 is not an index of Dihedral\(n=3\): expected 0 <= i < 6",
    ),
    "group-product-element-not-a-tuple": (
        lambda: DirectProduct(SO2(), Cyclic(3)).inverse(jnp.eye(2)),
        T,
        r"g must be one element of DirectProduct\(SO2\(\), Cyclic\(n=3\)\), shaped like",
    ),
    "group-traced-element-wrong-shape": (
        lambda: jax.jit(lambda g: Cyclic(4).compose(g, 1))(jnp.zeros(3, jnp.int32)),
        V,
        r"g must be one element of Cyclic\(n=4\): expected shape \(\)",
    ),
}


#: id -> (call, regex that the ValueError message must match)
VALUE_ERRORS = {
    "cyclic-zero": (lambda: G.Cyclic(0), r"n must be >= 1, got 0"),
    "symmetric-too-large-index": (
        lambda: G.Symmetric(13).elements(),
        r"order 6227020800, more than MAX_ENUMERATION",
    ),
    "translations-period": (
        lambda: G.Translations(2, period=0.0),
        r"period must be finite and > 0, got 0.0",
    ),
    "rotation-range-angle": (
        lambda: G.RotationRange(4.0),
        r"max_angle must be in \(0, π\], got 4.0",
    ),
    "rotation-range-negative": (
        lambda: G.RotationRange(-0.1),
        r"max_angle must be finite and > 0, got -0.1",
    ),
    "rotation-range-dim": (lambda: G.RotationRange(1.0, dim=4), r"dim must be 2 or 3, got 4"),
    "near-identity-scale": (
        lambda: G.NearIdentity(G.SO3(), 0.0),
        r"scale must be finite and > 0, got 0.0",
    ),
    "user-set-output": (
        lambda: G.UserSet(lambda k, n: jnp.zeros((n, 2)), G.Cyclic(3)).sample(KEY, (2,)),
        r"sample_fn\(key, 2\) must return 2 elements shaped like .*shape=\(\).*got \(2, 2\)",
    ),
    "sample-shape-negative": (
        lambda: G.SO3().sample(KEY, (-1,)),
        r"shape must contain non-negative ints, got \(-1,\)",
    ),
    "exp-coefficients": (
        lambda: G.SO3().exp(jnp.zeros(2)),
        r"coefficients must have shape \(3,\), got \(2,\)",
    ),
}


#: id -> (call, regex that the TypeError message must match)
TYPE_ERRORS = {
    "key-sample": (lambda: G.SO3().sample(42, (2,)), r"key must be a JAX PRNG key"),
    "dihedral-float": (lambda: G.Dihedral(2.5), r"n must be a positive int, got 2.5"),
    "near-identity-finite": (
        lambda: G.NearIdentity(G.Cyclic(3), 0.1),
        r"NearIdentity needs a Lie group \(SO2, O2, SO3, O3, Translations\), got Cyclic\(n=3\)",
    ),
    "product-one-factor": (
        lambda: G.DirectProduct(G.SO3()),
        r"DirectProduct needs at least two factors, got 1",
    ),
    "product-partial-factor": (
        lambda: G.DirectProduct(G.SO3(), G.RotationRange(1.0)),
        r"DirectProduct factor 1 must be a group.*partial sets such as RotationRange",
    ),
    "user-set-not-callable": (
        lambda: G.UserSet(3, G.Cyclic(3)),
        r"sample_fn must be callable, got 3",
    ),
    "user-set-base": (
        lambda: G.UserSet(lambda k, n: None, G.RotationRange(1.0)),
        r"base must be a group \(symreg.groups\), got RotationRange",
    ),
    "sample-shape-float": (
        lambda: G.SO3().sample(KEY, (2.5,)),
        r"shape must contain ints, got \(2.5,\)",
    ),
}


#: Every case of the three tables, checked alike: the exact exception type and its message.
ALL = merged(CASES, VALUE_ERRORS, TYPE_ERRORS)


@pytest.mark.parametrize("case", sorted(ALL))
def test_bad_input_raises_a_readable_error(case):
    assert_readable_error(*ALL[case])
