"""Images: exact rot90/flips and circular shifts, interpolated rotations (layer 2)."""

from __future__ import annotations

import dataclasses
from typing import final

import jax
import jax.numpy as jnp

from symreg.actions._base import AbstractAction, _one_leaf
from symreg.groups import (
    AbstractMatrixRepresentation,
    Cyclic,
    Dihedral,
    DirectProduct,
    Symmetric,
)


def _mode(group) -> str | None:
    """'shift', 'exact' (multiples of 90° and flips), 'bilinear', or None (unsupported)."""
    if isinstance(group, DirectProduct):
        ok = len(group.factors) == 2 and all(isinstance(f, Cyclic) for f in group.factors)
        return "shift" if ok else None
    if isinstance(group, (Cyclic, Dihedral)) and group.n in (1, 2, 4):
        return "exact"
    if isinstance(group, AbstractMatrixRepresentation) and not isinstance(group, Symmetric):
        return "bilinear" if group.vector_dim == 2 else None
    return None


def _source_coords(m: jax.Array, h: int, w: int) -> tuple[jax.Array, jax.Array]:
    """Source (row, col) of every output pixel for the planar map m: out(c) = in(mᵀ c).

    Pixel (i, j) has centred coordinates u = j - (w-1)/2 (right), v = (h-1)/2 - i (up).
    """
    i, j = jnp.meshgrid(
        jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij"
    )
    u, v = j - (w - 1) / 2, (h - 1) / 2 - i
    su = m[0, 0] * u + m[1, 0] * v
    sv = m[0, 1] * u + m[1, 1] * v
    return (h - 1) / 2 - sv, su + (w - 1) / 2


def _bilinear(x: jax.Array, rows: jax.Array, cols: jax.Array) -> jax.Array:
    """Samples x (h, w, ...) at fractional (rows, cols) with zeros outside the image."""
    h, w = x.shape[:2]
    r0, c0 = jnp.floor(rows), jnp.floor(cols)
    out = 0.0
    for dr in (0, 1):
        for dc in (0, 1):
            r, c = r0 + dr, c0 + dc
            weight = (1 - jnp.abs(rows - r)) * (1 - jnp.abs(cols - c))
            inside = (r >= 0) & (r <= h - 1) & (c >= 0) & (c <= w - 1)
            ri = jnp.clip(r, 0, h - 1).astype(jnp.int32)
            ci = jnp.clip(c, 0, w - 1).astype(jnp.int32)
            wt = jnp.where(inside, weight, 0.0).astype(x.dtype)
            out = out + x[ri, ci] * wt.reshape(wt.shape + (1,) * (x.ndim - 2))
    return out


@final
@dataclasses.dataclass(frozen=True)
class Image(AbstractAction):
    """Acts on one image of shape (H, W) or (H, W, C) (channels last).

    - Cyclic(n)/Dihedral(n) with n ∈ {1, 2, 4}: exact rotations by multiples of 90° and flips
      (a pixel permutation; square images for 90° rotations).
    - DirectProduct(Cyclic(H), Cyclic(W)): exact circular shifts (rolls) of the two axes.
    - Other planar rotations (SO2, O2, Cyclic(n), Dihedral(n), RotationRange): rotation about
      the centre by bilinear interpolation, zero outside. This is *not* a group action (the
      paper's non-group case): `is_exact` is False and ρ(g)ρ(h) ≠ ρ(gh) near the border.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.actions import Image
      >>> from symreg.groups import Cyclic
      >>> img = jnp.arange(4.0).reshape(2, 2)
      >>> bool(jnp.array_equal(Image().apply(Cyclic(4), 1, img), jnp.rot90(img)))
      True
    """

    def apply(self, group, g, x):
        h, w = x.shape[:2]
        mode = _mode(group)
        if mode == "shift":
            rows = jnp.mod(jnp.arange(h) - g[0], h)
            cols = jnp.mod(jnp.arange(w) - g[1], w)
            return x[rows][:, cols]
        rows, cols = _source_coords(group.defining_matrix(g), h, w)
        if mode == "exact":
            return x[jnp.round(rows).astype(jnp.int32), jnp.round(cols).astype(jnp.int32)]
        return _bilinear(x, rows, cols)

    def _group_error(self, group):
        if _mode(group) is None:
            return (
                "Image supports Cyclic/Dihedral(1, 2, 4) (exact), "
                "DirectProduct(Cyclic(H), Cyclic(W)) (shifts), and planar rotations (interpolated)"
            )
        return None

    def _example_error(self, group, example):
        x = _one_leaf(example)
        if x is None or x.ndim not in (2, 3):
            return "expected one image of shape (H, W) or (H, W, C)"
        h, w = x.shape[:2]
        mode = _mode(group)
        if mode == "shift" and (group.factors[0].n, group.factors[1].n) != (h, w):
            return f"shifts of Cyclic({group.factors[0].n}) × Cyclic({group.factors[1].n}) need an image of {group.factors[0].n}×{group.factors[1].n}"
        if mode != "shift" and h != w and not (mode == "exact" and group.n <= 2):
            return f"rotations need a square image, got {h}×{w}"
        if mode == "bilinear" and not jnp.issubdtype(x.dtype, jnp.inexact):
            return f"interpolation needs a floating dtype, got {x.dtype}"
        return None

    def is_exact(self, group):
        return _mode(group) in ("shift", "exact")
