"""Images warped by continuous planar maps through bilinear interpolation (layer 2).

Rotations by any angle, translations, scalings and general affine maps, on images of any
height and width, by `jax.scipy.ndimage.map_coordinates(order=1)`. None of them is an exact
group action on a pixel grid: interpolation blurs, and the border either loses content
("constant": zero outside) or wraps it ("wrap": the image tiles the plane).

The derivative of bilinear interpolation is one-sided at the pixel centres, which is where
the identity samples. The forward derivative (`jax.jvp`) here takes, per pixel and axis, the
side towards which the tangent moves the sample point: the derivative of t ↦ ρ(e^{tA})x at
t → 0⁺, so that Lie derivatives (`symreg.lie_derivative_error`) match the finite differences
(f(ρ(e^{tA})x) − f(x))/t, as in Gruver et al.'s Lie derivatives of image models. That rule
is not linear in the tangent of the sample points, so reverse-mode derivatives with respect
to the transformation are not available; derivatives with respect to the image are.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import final

import jax
import jax.numpy as jnp
from jax.scipy.ndimage import map_coordinates

from symreg.actions._base import AbstractAction, _one_leaf
from symreg.groups import AbstractMatrixRepresentation, Scalings, Symmetric, Translations

#: The boundary modes: "constant" reads 0 outside the image, "wrap" tiles the plane with it.
WARP_MODES = ("constant", "wrap")


def _check_mode(mode) -> str:
    if not isinstance(mode, str) or mode not in WARP_MODES:
        raise ValueError(f"mode must be one of {WARP_MODES}, got {mode!r}")
    return mode


def _interp(x: jax.Array, rows: jax.Array, cols: jax.Array, mode: str) -> jax.Array:
    """Bilinear samples of one channel x (H, W) at fractional (rows, cols)."""
    return map_coordinates(x, [rows, cols], order=1, mode=mode, cval=0.0)


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _sample(x, rows, cols, mode):
    return _interp(x, rows, cols, mode)


@_sample.defjvp
def _sample_jvp(mode, primals, tangents):
    """Image tangent: linear. Sample-point tangents: the one-sided slope they move into."""
    x, rows, cols = primals
    dx, drows, dcols = tangents
    r_lo = jnp.where(drows < 0, jnp.ceil(rows) - 1, jnp.floor(rows))
    c_lo = jnp.where(dcols < 0, jnp.ceil(cols) - 1, jnp.floor(cols))
    slope_r = _interp(x, r_lo + 1, cols, mode) - _interp(x, r_lo, cols, mode)
    slope_c = _interp(x, rows, c_lo + 1, mode) - _interp(x, rows, c_lo, mode)
    tangent = _interp(dx, rows, cols, mode) + drows * slope_r + dcols * slope_c
    return _interp(x, rows, cols, mode), tangent.astype(x.dtype)


def _source_points(matrix, offset, h: int, w: int):
    """(rows, cols) read by each output pixel: out(p) = in(A⁻¹(p − t)), p centred (u, v)."""
    i, j = jnp.meshgrid(
        jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij"
    )
    u = j - (w - 1) / 2 - offset[0]
    v = (h - 1) / 2 - i - offset[1]
    a, b, c, d = matrix[0, 0], matrix[0, 1], matrix[1, 0], matrix[1, 1]
    det = a * d - b * c
    su, sv = (d * u - b * v) / det, (a * v - c * u) / det
    return (h - 1) / 2 - sv, su + (w - 1) / 2


def unchecked_warp(x, matrix, offset, mode: str) -> jax.Array:
    """`warp_image` without its checks (for the action's hot path)."""
    h, w = x.shape[:2]
    matrix = jnp.asarray(matrix, jnp.float32)
    offset = jnp.asarray(offset, jnp.float32)
    rows, cols = _source_points(matrix, offset, h, w)
    one = lambda ch: _sample(ch, rows, cols, mode)
    if x.ndim == 2:
        return one(x)
    return jax.vmap(one, in_axes=2, out_axes=2)(x)


def warp_image(x, matrix, offset, *, mode: str = "constant") -> jax.Array:
    """Warps one image by the affine map p ↦ A p + t, with bilinear interpolation.

    out(p) = x(A⁻¹(p − t)), where p = (u, v) are pixel coordinates about the image centre in
    pixel units, u to the right (columns) and v up (rows upwards): a rotation matrix turns
    the content counter-clockwise, t = (1, 0) moves it one pixel to the right.

    Args:
      x: one image, shape (H, W) or (H, W, C) (channels last), floating.
      matrix: A, shape (2, 2), invertible.
      offset: t, shape (2,), in pixels.
      mode: the boundary, "constant" (0 outside the image) or "wrap" (periodic: the image
        tiles the plane, so integer translations are circular shifts).

    Returns:
      The warped image, shaped like x.

    Raises:
      ValueError: `x` is not of rank 2 or 3, `matrix` is not (2, 2), `offset` is not (2,),
        or `mode` is unknown.
      TypeError: `x` is not floating.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.actions import warp_image
      >>> img = jnp.arange(6.0).reshape(2, 3)
      >>> warp_image(img, jnp.eye(2), jnp.array([1.0, 0.0]), mode="wrap").tolist()
      [[2.0, 0.0, 1.0], [5.0, 3.0, 4.0]]
    """
    mode = _check_mode(mode)
    if jnp.ndim(x) not in (2, 3):
        raise ValueError(f"x must be one image of shape (H, W) or (H, W, C), got {jnp.shape(x)}")
    if not jnp.issubdtype(jnp.result_type(x), jnp.inexact):
        raise TypeError(f"x must be floating for interpolation, got {jnp.result_type(x)}")
    if jnp.shape(matrix) != (2, 2):
        raise ValueError(f"matrix must have shape (2, 2), got {jnp.shape(matrix)}")
    if jnp.shape(offset) != (2,):
        raise ValueError(f"offset must have shape (2,), got {jnp.shape(offset)}")
    return unchecked_warp(jnp.asarray(x), matrix, offset, mode)


def _kind(group) -> str | None:
    """'translation', 'scaling', 'linear' (planar matrices) or None (unsupported)."""
    if isinstance(group, Translations):
        return "translation" if group.dim == 2 else None
    if isinstance(group, Scalings):
        return "scaling"
    if isinstance(group, AbstractMatrixRepresentation) and not isinstance(group, Symmetric):
        return "linear" if group.vector_dim == 2 else None
    return None


def _affine(group, g):
    """(A, t) of one element: the planar map the element stands for."""
    kind = _kind(group)
    eye = jnp.eye(2, dtype=jnp.float32)
    if kind == "translation":
        half = group.period / 2
        return eye, jnp.mod(jnp.asarray(g) + half, group.period) - half  # t in [-L/2, L/2)
    if kind == "scaling":
        return jnp.asarray(g, jnp.float32) * eye, jnp.zeros(2, jnp.float32)
    return group.defining_matrix(g), jnp.zeros(2, jnp.float32)


@final
@dataclasses.dataclass(frozen=True)
class InterpolatedImage(AbstractAction):
    """Acts on one image (H, W) or (H, W, C) by a continuous planar map, interpolated.

    Each element stands for an affine map p ↦ A p + t of the centred pixel coordinates
    (see `warp_image`), and the image is resampled bilinearly with
    `jax.scipy.ndimage.map_coordinates(order=1)`:

    - planar matrix groups (SO2, O2, Cyclic(n), Dihedral(n); RotationRange and NearIdentity
      of them): A = the element's 2×2 matrix, rotation (and reflection) about the centre by
      any angle;
    - `Translations(2, period=L)`: t = the element in pixels, (right, up), read in
      [-L/2, L/2) so that small negative shifts stay small (take L = H = W for "wrap");
    - `Scalings(m)`: A = s·I, a zoom about the centre by s.

    Images need not be square. Not an exact group action (`is_exact` is False, and
    `Symmetry` warns once): ρ(g)ρ(h) ≠ ρ(gh) up to interpolation error everywhere and the
    boundary near the border. For exact rotations by multiples of 90°, flips and circular
    shifts, use `Image()`. Forward derivatives with respect to the element are one-sided at
    the identity (see the module notes), so `symreg.lie_derivative_error` works with
    every generator: translation in x and y, rotation, scaling.

    Args:
      mode: the boundary, "constant" (0 outside the image, the default) or "wrap".

    Raises:
      ValueError: an unknown `mode`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.actions import InterpolatedImage
      >>> from symreg.groups import Translations
      >>> img = jnp.arange(6.0).reshape(2, 3)
      >>> shift = InterpolatedImage("wrap").apply(Translations(2, 3.0), jnp.array([1.0, 0.0]), img)
      >>> bool(jnp.allclose(shift, jnp.roll(img, 1, axis=1)))
      True
    """

    mode: str = "constant"

    def __post_init__(self):
        _check_mode(self.mode)

    def apply(self, group, g, x):
        matrix, offset = _affine(group, g)
        return unchecked_warp(x, matrix, offset, self.mode)

    def _group_error(self, group):
        if _kind(group) is None:
            return (
                "InterpolatedImage supports planar matrix groups (SO2, O2, Cyclic, Dihedral), "
                "Translations(2) and Scalings"
            )
        return None

    def _example_error(self, group, example):
        x = _one_leaf(example)
        if x is None or x.ndim not in (2, 3):
            return "expected one image of shape (H, W) or (H, W, C)"
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            return f"interpolation needs a floating dtype, got {x.dtype}"
        return None

    def is_exact(self, group):
        return False
