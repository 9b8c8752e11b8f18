"""Property tests of `symreg.groups.Scalings`: group laws, exp, the log-uniform measure."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from symreg.groups import AbstractLieGroup, NearIdentity, Scalings

RTOL_F32 = 1e-5
N = 10_000
#: The KS test of log s against uniform on [-log m, log m] must not reject at this level.
KS_ALPHA = 1e-3


@pytest.fixture
def elements():
    g = Scalings(3.0)
    a, b, c = g.sample(jax.random.key(0), (3, 64))
    return g, a, b, c


def test_group_laws(elements):
    g, a, b, c = elements
    comp = jax.vmap(g.compose)
    inv = jax.vmap(g.inverse)
    e = jnp.broadcast_to(g.identity(), a.shape)
    np.testing.assert_allclose(comp(a, e), a, rtol=RTOL_F32)
    np.testing.assert_allclose(comp(e, a), a, rtol=RTOL_F32)
    np.testing.assert_allclose(comp(a, inv(a)), e, rtol=RTOL_F32)
    np.testing.assert_allclose(comp(comp(a, b), c), comp(a, comp(b, c)), rtol=RTOL_F32)
    assert bool(jnp.all(comp(a, b) > 0))  # closure in R_{>0}


def test_exp_is_a_homomorphism_from_the_line():
    g = Scalings()
    assert isinstance(g, AbstractLieGroup) and g.is_group and g.num_generators == 1
    np.testing.assert_allclose(g.exp(jnp.zeros(1)), g.identity())
    s, t = jnp.array([0.3]), jnp.array([-0.7])
    np.testing.assert_allclose(g.exp(s + t), g.compose(g.exp(s), g.exp(t)), rtol=RTOL_F32)
    np.testing.assert_allclose(jax.jacfwd(g.exp)(jnp.zeros(1)), g.generators(), rtol=RTOL_F32)


def test_measure_is_log_uniform_and_symmetric_under_inversion():
    m = 3.0
    s = np.asarray(Scalings(m).sample(jax.random.key(1), (N,)), np.float64)
    assert s.shape == (N,)
    assert np.all((s >= 1 / m - 1e-6) & (s <= m + 1e-6))
    law = stats.uniform(-np.log(m), 2 * np.log(m))
    assert stats.kstest(np.log(s), law.cdf).pvalue > KS_ALPHA
    assert stats.kstest(-np.log(s), law.cdf).pvalue > KS_ALPHA  # s and 1/s alike


def test_hashable_and_near_identity():
    assert Scalings(2.0) == Scalings(2.0) and hash(Scalings(2.0)) == hash(Scalings(2.0))
    s = NearIdentity(Scalings(), 0.01).sample(jax.random.key(2), (100,))
    assert float(jnp.max(jnp.abs(jnp.log(s)))) < 0.1


@pytest.mark.parametrize("bad", [1.0, 0.5, -2.0, float("nan"), float("inf")])
def test_bad_max_scale_names_the_argument(bad):
    with pytest.raises(ValueError, match="max_scale"):
        Scalings(bad)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_bad_elements_name_the_argument(bad):
    with pytest.raises(ValueError, match="g = "):
        Scalings().inverse(jnp.float32(bad))
    with pytest.raises(ValueError, match="h"):
        Scalings().compose(jnp.float32(1.0), jnp.float32(bad))


def test_wrong_element_shape_and_coefficients():
    with pytest.raises(ValueError, match="g must be one element"):
        Scalings().inverse(jnp.ones(2))
    with pytest.raises(ValueError, match="coefficients"):
        Scalings().exp(jnp.zeros(2))
