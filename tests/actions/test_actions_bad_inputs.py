"""The bad-input battery of `symreg.actions` and `symreg.Symmetry`.

An action that cannot act with the group's elements, a user representation
(`Vector(matrices=...)`) that is not one, and inputs or outputs that do not fit an action (shape,
dtype, structure; reached through a kernel, or through `Symmetry.act_*`) raise a readable
ValueError or TypeError that names the argument and what was expected
(tests/bad_input_helpers.py: the tables).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
from bad_input_helpers import (
    C4,
    ROT_EQ,
    X3,
    T,
    V,
    assert_readable_error,
    merged,
    sampled,
    sampled3,
    sym,
)

import symreg
from symreg import actions as A
from symreg import groups as G
from symreg.actions import Irreps, Regular, Vector
from symreg.groups import SO2, Cyclic

C4_MATRICES = np.stack(
    [[[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]] for t in np.pi / 2 * np.arange(4)]
)


#: id -> (call, exception type, regex that the message must match)
CASES = {
    "regular-action-on-continuous-group": (
        lambda: symreg.Symmetry(SO2(), Regular()),
        V,
        r"act_in=Regular\(axis=-1\) cannot act with elements of SO2\(\).*needs a finite group",
    ),
    "irreps-action-on-cyclic-group": (
        lambda: symreg.Symmetry(Cyclic(4), Irreps("1o")),
        V,
        r"act_in=Irreps\(\"1x1o\"\) cannot act with elements of Cyclic\(n=4\).*SO3 or O3",
    ),
    "vector-matrices-not-orthogonal": (
        lambda: Vector(matrices=2 * C4_MATRICES),
        V,
        r"matrices must be orthogonal .*matrices\[0\] @ matrices\[0\].T differs from the identity",
    ),
    "vector-matrices-not-square": (
        lambda: Vector(matrices=np.ones((4, 2, 3))),
        V,
        r"matrices must have shape \(G, d, d\).*got shape \(4, 2, 3\)",
    ),
    "vector-matrices-rank-2": (
        lambda: Vector(matrices=np.eye(2)),
        V,
        r"matrices must have shape \(G, d, d\).*got shape \(2, 2\)",
    ),
    "vector-matrices-nan": (
        lambda: Vector(matrices=C4_MATRICES * np.nan),
        V,
        r"matrices contains NaN or Inf \(first at \[0, 0, 0\]\)",
    ),
    "vector-matrices-not-numbers": (
        lambda: Vector(matrices="rotations"),
        T,
        r"matrices must be a \(G, d, d\) array of real numbers, got str",
    ),
    "vector-matrices-wrong-order": (
        lambda: symreg.Symmetry(Cyclic(3), Vector(matrices=C4_MATRICES)),
        V,
        r"matrices must hold one matrix per element: G = 3 for this group, got 4",
    ),
    "vector-matrices-not-a-homomorphism": (
        lambda: symreg.Symmetry(Cyclic(4), Vector(matrices=C4_MATRICES[[0, 1, 1, 3]])),
        V,
        r"matrices must be a representation, matrices\[index\(g·h\)\] = matrices\[index\(g\)\]",
    ),
    "vector-matrices-continuous-group": (
        lambda: symreg.Symmetry(SO2(), Vector(matrices=C4_MATRICES)),
        V,
        r"matrices \(a user representation\) needs a finite group",
    ),
    "vector-matrices-x-dimension": (
        lambda: sampled(
            jnp.ones((4, 3)), symmetry=symreg.Symmetry(Cyclic(4), Vector(matrices=C4_MATRICES))
        ),
        V,
        r"x \(one example\).*expected a last axis of size 2, got shape \(3,\)",
    ),
    "symmetry-act-input-wrong-size": (
        lambda: C4.act_input(1, jnp.ones(5)),
        V,
        r"x: Regular\(axis=-1\) cannot act on one example .*expected axis -1 of size \|G\| = 4",
    ),
    "symmetry-act-output-wrong-element": (
        lambda: ROT_EQ.act_output(jnp.eye(3), jnp.ones(2)),
        V,
        r"g must be one element of SO2\(\): expected shape \(2, 2\)",
    ),
}


#: id -> (call, regex that the ValueError message must match)
VALUE_ERRORS = {
    "x-rank": (
        lambda: sampled3(jnp.ones((4,))),
        r"x \(one example\): Vector\(\) cannot act on one example with \(\(\), 'float32'\): "
        r"expected a last axis of size 3, got shape \(\)",
    ),
    "x-last-axis": (
        lambda: sampled3(jnp.ones((4, 2))),
        r"x \(one example\).*expected a last axis of size 3, got shape \(2,\)",
    ),
    "x-int-vector": (
        lambda: sampled3(jnp.ones((4, 3), jnp.int32)),
        r"x \(one example\).*'int32'.*expected a floating dtype, got int32",
    ),
    "x-int-irreps": (
        lambda: sampled3(jnp.ones((4, 4), jnp.int32), symmetry=sym(G.O3(), A.Irreps("0e + 1o"))),
        r"Irreps\(\"1x0e\+1x1o\"\).*expected a floating dtype, got int32",
    ),
    "x-irreps-dim": (
        lambda: sampled3(jnp.ones((4, 5)), symmetry=sym(G.SO3(), A.Irreps("1o"))),
        r"expected a last axis of size 3 \(1x1o\), got \(5,\)",
    ),
    "x-pointcloud-dim": (
        lambda: sampled3(jnp.ones((2, 4, 2)), symmetry=sym(G.SO3(), A.PointCloud())),
        r"\(\(4, 2\), 'float32'\).*expected float coordinates of shape \(n, 3\)",
    ),
    "x-pointcloud-npoints": (
        lambda: sampled3(
            jnp.ones((2, 5, 3)),
            symmetry=sym(G.DirectProduct(G.SO3(), G.Symmetric(4)), A.PointCloud()),
        ),
        r"expected 4 points, got 5",
    ),
    "x-pointcloud-features": (
        lambda: sampled3(
            (jnp.ones((2, 4, 3)), jnp.ones((2, 4, 3))),
            symmetry=sym(G.SO3(), A.PointCloud("0e + 1o")),
        ),
        r"expected a last axis of size 4 \(1x0e\+1x1o\), got \(4, 3\)",
    ),
    "x-image-square": (
        lambda: sampled3(jnp.ones((2, 4, 5)), symmetry=sym(G.Cyclic(4), A.Image())),
        r"\(\(4, 5\), 'float32'\).*rotations need a square image, got 4×5",
    ),
    "x-image-shift-size": (
        lambda: sampled3(
            jnp.ones((2, 4, 5)), symmetry=sym(G.DirectProduct(G.Cyclic(4), G.Cyclic(6)), A.Image())
        ),
        r"need an image of 4×6",
    ),
    "x-image-rank": (
        lambda: sampled3(jnp.ones((2, 4)), symmetry=sym(G.Cyclic(4), A.Image())),
        r"expected one image of shape \(H, W\) or \(H, W, C\)",
    ),
    "x-permutation-size": (
        lambda: sampled3(jnp.ones((2, 5)), symmetry=sym(G.Symmetric(4), A.Permutation())),
        r"expected axis 0 of size 4 \(the points permuted\), got shape \(5,\)",
    ),
    "x-regular-size": (
        lambda: sampled3(jnp.ones((2, 5)), symmetry=sym(G.Dihedral(3), A.Regular())),
        r"expected axis -1 of size \|G\| = 6, got \(5,\)",
    ),
    "x-tree-not-tuple": (
        lambda: sampled3(X3, symmetry=sym(G.SO3(), (A.Vector(), A.Trivial()))),
        r"expected a tuple of 2 entries",
    ),
    "x-tree-dict-keys": (
        lambda: sampled3({"a": X3}, symmetry=sym(G.SO3(), {"a": A.Vector(), "b": A.Trivial()})),
        r"expected a dict with keys \['a', 'b'\]",
    ),
    "out-shape": (
        lambda: sampled3(fn=lambda p, x: x[:, :2]),
        r"apply_fn output \(one example\): Vector\(\).*\(\(2,\), 'float32'\).*"
        r"expected a last axis of size 3, got shape \(2,\)",
    ),
    "out-scalar": (
        lambda: sampled3(fn=lambda p, x: x.sum(-1)),
        r"apply_fn output \(one example\).*got shape \(\)",
    ),
    "action-vector-translations": (
        lambda: sym(G.Translations(2), A.Vector()),
        r"act_in=Vector\(\) cannot act with elements of Translations\(dim=2, period=1.0\): the "
        r"group has no defining matrix representation",
    ),
    "action-vector-product": (
        lambda: sym(G.DirectProduct(G.SO3(), G.Symmetric(3)), A.Vector()),
        r"use Factorwise\(\.\.\.\) for products",
    ),
    "action-irreps-so2": (
        lambda: sym(G.SO2(), A.Irreps("1o")),
        r"act_in=Irreps\(\"1x1o\"\) cannot act with elements of SO2\(\): Irreps needs SO3 or O3",
    ),
    "action-permutation-so3": (
        lambda: sym(G.SO3(), A.Permutation()),
        r"act_in=Permutation\(axis=0\) cannot act with elements of SO3\(\): the group does not "
        r"act by permutations",
    ),
    "action-regular-continuous": (
        lambda: sym(G.SO2(), A.Regular()),
        r"act_in=Regular\(axis=-1\) cannot act with elements of SO2\(\): the regular "
        r"representation needs a finite group",
    ),
    "action-out": (
        lambda: sym(G.SO3(), A.Vector(), A.Regular()),
        r"act_out=Regular\(axis=-1\) cannot act with elements of SO3\(\)",
    ),
    "action-image-symmetric": (
        lambda: sym(G.Symmetric(3), A.Image()),
        r"act_in=Image\(\) cannot act with elements of Symmetric\(n=3\): Image supports",
    ),
    "action-factorwise-count": (
        lambda: sym(G.DirectProduct(G.SO2(), G.Symmetric(3)), A.Factorwise(A.Vector())),
        r"1 actions for 2 factors",
    ),
    "action-factorwise-group": (
        lambda: sym(G.SO2(), A.Factorwise(A.Vector(), A.Vector())),
        r"Factorwise acts with DirectProduct elements",
    ),
    "action-pointcloud-product": (
        lambda: sym(G.DirectProduct(G.SO3(), G.Translations(3)), A.PointCloud()),
        r"the second factor Translations\(dim=3, period=1.0\) does not permute points",
    ),
    "action-tree-entry": (
        lambda: sym(G.SO2(), (A.Vector(), A.Irreps("0e"))),
        r"act_in=Tree\(.*\) cannot act with elements of SO2\(\): Irreps\(\"1x0e\"\): Irreps needs",
    ),
    "irreps-string": (lambda: A.Irreps("1x"), r"irreps must be an e3nn irreps string, got '1x'"),
}


#: id -> (call, regex that the TypeError message must match)
TYPE_ERRORS = {
    "action-not-an-action": (
        lambda: sym(G.SO3(), "vector"),
        r"act_in must be a symreg action \(e.g. symreg.actions.Vector\(\)\) or a tuple/dict of "
        r"actions, got 'vector' of type str",
    ),
    "action-nested-not-an-action": (
        lambda: sym(G.SO3(), (A.Vector(), 3)),
        r"act_in\[1\] must be a symreg action.*got 3 of type int",
    ),
    "transforms-not-a-set": (
        lambda: sym("SO3", A.Vector()),
        r"transforms must be a group or transformation set from symreg.groups, got 'SO3' of type str",
    ),
}


#: Every case of the three tables, checked alike: the exact exception type and its message.
ALL = merged(CASES, VALUE_ERRORS, TYPE_ERRORS)


@pytest.mark.parametrize("case", sorted(ALL))
def test_bad_input_raises_a_readable_error(case):
    assert_readable_error(*ALL[case])
