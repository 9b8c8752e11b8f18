"""Wigner-D matrices of O(3) as polynomials in the 3×3 matrix (layer 2, private).

e3nn-jax's `Irreps.D_from_matrix` goes through Euler angles. At the identity the angles are
degenerate (gimbal lock), so in float32 it is off by ~√ε near the identity and its derivative
there is wrong (zero for rotations about x and z), which breaks Lie derivatives. Here D^l is
built from D^1 = R by the Clebsch–Gordan recursion D^l = Cᵀ (D^{l-1} ⊗ R) C, with C the
(normalized) intertwiner from (l-1) ⊗ 1 to l in e3nn's real basis: a polynomial of degree l
in the entries of R, exact and smooth everywhere, in the dtype of R.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

if TYPE_CHECKING:
    import e3nn_jax as e3nn


@functools.cache
def _intertwiner(degree: int) -> np.ndarray:
    """C of shape ((2l-1)·3, 2l+1), l = degree, with CᵀC = I: e3nn's CG (l-1) ⊗ 1 → l."""
    import e3nn_jax as e3nn  # lazily: e3nn-jax imports Flax

    c = np.asarray(e3nn.clebsch_gordan(degree - 1, 1, degree), np.float64)
    return c.reshape(-1, 2 * degree + 1) * np.sqrt(2 * degree + 1)  # e3nn: norm 1 overall


def _proper_d(degree: int, r: jax.Array) -> jax.Array:
    """D^l(r), l = degree, for a rotation r (det +1), shape (2l+1, 2l+1)."""
    d = jnp.ones((1, 1), r.dtype)
    for k in range(1, degree + 1):
        c = jnp.asarray(_intertwiner(k), r.dtype)
        kron = jnp.einsum("ab,ij->aibj", d, r).reshape(3 * (2 * k - 1), 3 * (2 * k - 1))
        d = c.T @ kron @ c
    return d


def _det3(r: jax.Array) -> jax.Array:
    return jnp.dot(r[0], jnp.cross(r[1], r[2]))


def apply_wigner(irreps: e3nn.Irreps, g: jax.Array, x: jax.Array) -> jax.Array:
    """D(g) x on the last axis of x, block by block: one D^l per distinct l, never the full matrix.

    For an irrep l with parity p and det g = d = ±1 the block is p^((1-d)/2) D^l(d·g), as in
    e3nn's `Irreps.D_from_matrix`; applying it per block costs Σ mul·(2l+1)² instead of dim²
    multiply-adds per vector.

    Args:
      irreps: e3nn irreps, with `irreps.dim == x.shape[-1]`.
      g: an orthogonal (3, 3) matrix.
      x: an array of shape (..., irreps.dim).

    Returns:
      An array shaped like x.
    """
    g = g.astype(jnp.promote_types(g.dtype, x.dtype))
    sign = jnp.sign(_det3(g))
    proper = sign * g
    cache, out, start = {}, [], 0
    for mul, ir in irreps:
        width = mul * ir.dim
        if width == 0:
            continue
        if ir.l not in cache:
            cache[ir.l] = _proper_d(ir.l, proper).astype(x.dtype)
        d = cache[ir.l] if ir.p == 1 else cache[ir.l] * sign.astype(x.dtype)
        chunk = x[..., start : start + width].reshape(x.shape[:-1] + (mul, ir.dim))
        out.append(jnp.einsum("ij,...mj->...mi", d, chunk).reshape(x.shape[:-1] + (width,)))
        start += width
    return jnp.concatenate(out, axis=-1) if out else x
