"""The penalty reduces the kernels' pure cores: for every family of transformation sets, the
sampled penalty on the whole batch is the mean of `equivariance_error` with the same key and S,
and the Lie penalty is the mean of `lie_derivative_error` (docs/architecture.md, "One error
evaluation"). `Symmetric(n)` is the case where a penalty drawing `transforms.sample(key, (S,
B))` instead of `groups.sample_pairs` would get other elements from the same key.
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symreg
from symreg import actions as A
from symreg import groups as G
from symreg.regularizers import symmetry_penalty

#: Compile-bound: many small programs compiled once each (tests/conftest.py, fast_compile).
pytestmark = pytest.mark.usefixtures("fast_compile")


def even_shifts(key, n):
    """A user set: the even rotations of Cyclic(6)."""
    return 2 * jax.random.randint(key, (n,), 0, 3)


#: name -> (symmetry, shape of one example, whether the output is acted on by act_in).
CASES = {
    "Cyclic": (symreg.Symmetry(G.Cyclic(5), A.Regular()), (5,), False),
    "Dihedral": (symreg.Symmetry(G.Dihedral(4), A.Image()), (4, 4), False),
    "Symmetric": (symreg.Symmetry(G.Symmetric(4), A.Permutation()), (4, 2), False),
    "Symmetric-equivariant": (symreg.Symmetry(G.Symmetric(5), A.Permutation()), (5,), True),
    "product-finite": (
        symreg.Symmetry(G.DirectProduct(G.Cyclic(2), G.Cyclic(3)), A.Regular()),
        (6,),
        False,
    ),
    "product-SO2xS3": (
        symreg.Symmetry(
            G.DirectProduct(G.SO2(), G.Symmetric(3)), A.Factorwise(A.Vector(), A.Permutation())
        ),
        (3, 2),
        False,
    ),
    "RotationRange": (symreg.Symmetry(G.RotationRange(0.3), A.Vector()), (2,), True),
    "NearIdentity": (symreg.Symmetry(G.NearIdentity(G.SO3(), 0.2), A.Vector()), (3,), True),
    "UserSet": (symreg.Symmetry(G.UserSet(even_shifts, G.Cyclic(6)), A.Regular()), (6,), False),
    "SO2": (symreg.Symmetry(G.SO2(), A.Vector()), (2,), True),
    "O2": (symreg.Symmetry(G.O2(), A.Vector()), (2,), True),
    "SO3": (symreg.Symmetry(G.SO3(), A.Vector()), (3,), True),
    "O3": (symreg.Symmetry(G.O3(), A.PointCloud()), (4, 3), False),
}
with warnings.catch_warnings():  # interpolated warps are not exact actions: no matter here
    warnings.simplefilter("ignore", UserWarning)
    CASES["Translations"] = (
        symreg.Symmetry(G.Translations(2), A.InterpolatedImage("wrap")),
        (6, 6),
        False,
    )
    CASES["Scalings"] = (
        symreg.Symmetry(G.Scalings(2.0), A.InterpolatedImage("wrap")),
        (6, 6),
        False,
    )
B, S = 7, 3


def model(shape, equivariant_output):
    """A non-equivariant model: f(x) = tanh(W vec(x)), shaped like x or one invariant."""
    d = math.prod(shape)
    out = d if equivariant_output else 1
    w = jax.random.normal(jax.random.key(0), (d, out)) / np.sqrt(d)

    def apply(params, x):
        y = jnp.tanh(x.reshape(x.shape[0], -1) @ (params * w))
        return y.reshape(x.shape) if equivariant_output else y[:, 0]

    return apply


def case(name):
    sym, shape, equivariant_output = CASES[name]
    x = jax.random.normal(jax.random.key(1), (B, *shape))
    return sym, model(shape, equivariant_output), x


def is_lie(sym) -> bool:
    group = sym.group
    return isinstance(group, G.AbstractLieGroup) and group.num_generators > 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_sampled_penalty_is_the_mean_of_equivariance_error_with_the_same_key(name):
    sym, apply, x = case(name)
    key = jax.random.key(2)
    both = jax.jit(
        lambda x, key: (
            symreg.equivariance_error(apply, 1.0, x, key, symmetry=sym, num_samples=S),
            symmetry_penalty(apply, 1.0, x, key, symmetry=sym, num_samples=S),
        )
    )
    errors, penalty = both(x, key)
    assert float(errors.mean()) > 1e-4  # a model that breaks the symmetry
    np.testing.assert_allclose(float(penalty), float(errors.mean()), rtol=1e-5)


@pytest.mark.parametrize("name", sorted(n for n in CASES if is_lie(CASES[n][0])))
def test_lie_penalty_is_the_mean_of_lie_derivative_error(name):
    sym, apply, x = case(name)
    both = jax.jit(
        lambda x: (
            symreg.lie_derivative_error(apply, 1.0, x, symmetry=sym),
            symmetry_penalty(apply, 1.0, x, None, symmetry=sym, method="lie"),
        )
    )
    errors, penalty = both(x)
    assert float(errors.mean()) > 1e-4
    np.testing.assert_allclose(float(penalty), float(errors.mean()), rtol=1e-5)


def test_the_symmetric_case_distinguishes_sample_pairs_from_sample():
    """The test above can fail: for Symmetric(n), (S, B) draws through `transforms.sample`
    are other elements than `sample_pairs` gives from the same key."""
    sym = CASES["Symmetric"][0]
    key = jax.random.key(2)
    pairs = symreg.groups.sample_pairs(sym.transforms, key, (S, B))
    plain = sym.transforms.sample(key, (S, B))
    assert not np.array_equal(np.asarray(pairs), np.asarray(plain))
