"""`sample_pairs`: cheap per-pair elements for Symmetric(n) that keep iid means and variances."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symreg
from symreg.actions import Permutation
from symreg.groups import Cyclic, Symmetric, sample_pairs

#: Compile-bound: many small programs compiled once each (tests/conftest.py, fast_compile).
pytestmark = pytest.mark.usefixtures("fast_compile")

#: Chi-square bound for 35 degrees of freedom (upper 1e-4 quantile is about 72.1).
CHI2_35_BOUND = 72.1
#: Chi-square bound for 5 degrees of freedom (upper 1e-4 quantile is about 25.7).
CHI2_5_BOUND = 25.7
Z_BOUND = 4.0


def _chi2(counts: np.ndarray) -> float:
    expected = counts.sum() / counts.size
    return float(((counts - expected) ** 2 / expected).sum())


@pytest.fixture(scope="module")
def s3_indices():
    """Indices in S_3 of sample_pairs draws of shape (S, B) = (2, 2), over 6000 keys."""
    g = Symmetric(3)
    keys = jax.random.split(jax.random.key(7), 6000)
    draw = jax.jit(jax.vmap(lambda k: sample_pairs(g, k, (2, 2))))
    elems = draw(keys)  # (K, 2, 2, 3)
    return np.asarray(jax.vmap(jax.vmap(jax.vmap(g.index)))(elems))  # (K, 2, 2)


def test_marginal_is_uniform(s3_indices):
    counts = np.bincount(s3_indices[:, 0, 1], minlength=6)
    assert _chi2(counts) < CHI2_5_BOUND


@pytest.mark.parametrize("pair", [((0, 0), (0, 1)), ((0, 0), (1, 0)), ((0, 0), (1, 1))])
def test_two_pairs_are_independent(s3_indices, pair):
    """Same sample, same example, or neither: the joint law of two pairs is uniform on S3²."""
    (s1, b1), (s2, b2) = pair
    joint = 6 * s3_indices[:, s1, b1] + s3_indices[:, s2, b2]
    assert _chi2(np.bincount(joint, minlength=36)) < CHI2_35_BOUND


def test_other_groups_and_stratified_are_plain_samples():
    key = jax.random.key(3)
    c = Cyclic(5)
    assert jnp.array_equal(sample_pairs(c, key, (4, 3)), c.sample(key, (4, 3)))
    s = Symmetric(4)
    got = sample_pairs(s, key, (4, 3), sampling="stratified")
    assert jnp.array_equal(got, s.sample(key, (4, 3), sampling="stratified"))
    assert jnp.array_equal(sample_pairs(s, key, (4,)), s.sample(key, (4,)))


def test_sampled_error_is_unbiased_for_symmetric():
    """The kernel's mean over pairs estimates the exact error within Z_BOUND s.e."""
    sym = symreg.Symmetry(Symmetric(4), Permutation())
    f = lambda w, x: jnp.tanh(x @ w)
    w = jnp.array([1.0, -0.5, 0.3, 0.2])
    x = jax.random.normal(jax.random.key(1), (8, 4))
    exact = float(symreg.exact_equivariance_error(f, w, x, symmetry=sym).mean())
    keys = jax.random.split(jax.random.key(2), 400)
    means = np.asarray(
        jax.vmap(
            lambda k: symreg.equivariance_error(f, w, x, k, symmetry=sym, num_samples=4).mean()
        )(keys)
    )
    se = means.std(ddof=1) / np.sqrt(means.size)
    assert abs(means.mean() - exact) <= Z_BOUND * se
