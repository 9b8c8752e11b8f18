"""The Irreps action's Wigner-D matrices against e3nn-jax's, away from the identity."""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import pytest

from symreg.actions._wigner import apply_wigner
from symreg.groups import O3

#: Compile-bound: many small programs compiled once each (tests/conftest.py, fast_compile).
pytestmark = pytest.mark.usefixtures("fast_compile")

#: float32 agreement with e3nn's Euler-angle construction at generic rotations (l <= 4).
ATOL_F32 = 5e-5


@pytest.mark.parametrize("irreps", ["0e + 0o", "2x1o + 1e", "2e + 3x2o", "3o + 4e", "0x1o + 1x3e"])
def test_apply_wigner_matches_e3nn(irreps):
    ir = e3nn.Irreps(irreps)
    g = O3().sample(jax.random.key(0), (16,))
    x = jax.random.normal(jax.random.key(1), (16, 3, ir.dim))
    ours = jax.vmap(lambda gi, xi: apply_wigner(ir, gi, xi))(g, x)
    d = jax.vmap(ir.D_from_matrix)(g)
    theirs = jnp.einsum("nij,nkj->nki", d, x)
    assert ours.shape == x.shape
    assert float(jnp.abs(ours - theirs).max()) < ATOL_F32
