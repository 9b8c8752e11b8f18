"""Compact Lie groups with Haar sampling: SO2, O2, SO3, O3 and periodic translations.

Stratified sampling (`sample(..., sampling="stratified")`) is randomized quasi-Monte Carlo:
a fixed, evenly spread set of S elements (`symreg.groups._stratified`) moved by one
Haar-random element, so that each element is exactly Haar-distributed.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, final

import jax
import jax.numpy as jnp
import numpy as np

from symreg import _validation
from symreg.groups._base import (
    AbstractLieGroup,
    AbstractMatrixRepresentation,
    AbstractStratifiedSampler,
    checks_elements,
)
from symreg.groups._stratified import lattice_points, quaternion_points

#: How far from orthogonal (max |gᵀg − I|) a concrete matrix element may be: loose enough for
#: float32 products of many rotations, tight enough to refuse a matrix that is no rotation.
ORTHOGONALITY_TOLERANCE = 1e-3

_SO2_GENERATOR = jnp.array([[[0.0, -1.0], [1.0, 0.0]]], jnp.float32)
# (L_i)_{jk} = -ε_{ijk}: infinitesimal rotations about the x, y and z axes.
_SO3_GENERATORS = jnp.array(
    [
        [[0, 0, 0], [0, 0, -1], [0, 1, 0]],
        [[0, 0, 1], [0, 0, 0], [-1, 0, 0]],
        [[0, -1, 0], [1, 0, 0], [0, 0, 0]],
    ],
    _validation.float_dtype(),
)


def rotation_2d(angle: jax.Array) -> jax.Array:
    """The (..., 2, 2) rotation matrices by `angle` (counter-clockwise)."""
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.stack([jnp.stack([c, -s], -1), jnp.stack([s, c], -1)], -2)


def quaternion_to_matrix(q: jax.Array) -> jax.Array:
    """Rotation matrices (..., 3, 3) of unit quaternions (..., 4) in (w, x, y, z) order."""
    w, x, y, z = jnp.moveaxis(q, -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return jnp.stack([jnp.stack(r, -1) for r in rows], -2)


def haar_so3(key: jax.Array, n: int) -> jax.Array:
    """n Haar-random rotations (n, 3, 3): normalized Gaussian quaternions (never Euler angles)."""
    q = jax.random.normal(key, (n, 4), _validation.float_dtype())
    q = q / jnp.linalg.norm(q, axis=-1, keepdims=True)
    return quaternion_to_matrix(q)


def grid_angles(key: jax.Array, s: int) -> jax.Array:
    """s equally spaced angles θ_i = φ + 2πi/s with one uniform φ; each θ_i is uniform."""
    offset = jax.random.uniform(key, (), _validation.float_dtype(), 0.0, 2 * jnp.pi)
    return offset + jnp.asarray(2 * np.pi * np.arange(s) / s, _validation.float_dtype())


def alternating_signs(key: jax.Array, s: int) -> jax.Array:
    """Signs ε·(-1)^i, i < s, with one uniform sign ε: balanced, and each one uniform on ±1."""
    flip = jax.random.bernoulli(key, 0.5, ()) ^ (jnp.arange(s) % 2 == 1)
    return jnp.where(flip, -1.0, 1.0).astype(_validation.float_dtype())


def stratified_so3(key: jax.Array, s: int) -> jax.Array:
    """s rotations R₀·P_i (s, 3, 3): the evenly spread set P of `quaternion_points`, turned by
    one Haar rotation R₀, so that each R₀·P_i is exactly Haar (left invariance)."""
    points = quaternion_to_matrix(jnp.asarray(quaternion_points(s), _validation.float_dtype()))
    return jnp.einsum("ij,sjk->sik", haar_so3(key, 1)[0], points)


def so3_exp(omega: jax.Array) -> jax.Array:
    """exp of the skew matrix of `omega` (3,) by Rodrigues' formula; smooth at omega = 0."""
    theta2 = jnp.sum(omega * omega)
    small = theta2 < 1e-6
    safe2 = jnp.where(small, 1.0, theta2)
    theta = jnp.sqrt(safe2)
    a = jnp.where(small, 1 - theta2 / 6, jnp.sin(theta) / theta)
    b = jnp.where(small, 0.5 - theta2 / 24, (1 - jnp.cos(theta)) / safe2)
    k = jnp.einsum("i,ijk->jk", omega, _SO3_GENERATORS.astype(omega.dtype))
    return jnp.eye(3, dtype=omega.dtype) + a * k + b * (k @ k)


def _check_coefficients(c, k, name="coefficients"):
    c = jnp.asarray(c)
    if c.shape != (k,):
        raise ValueError(f"{name} must have shape ({k},), got {c.shape}")
    return c


@dataclasses.dataclass(frozen=True)
class _MatrixLieGroup(AbstractLieGroup, AbstractMatrixRepresentation):
    """Shared structure of the orthogonal matrix groups (private)."""

    #: True for SO(d): elements have determinant +1.
    special: ClassVar[bool] = False

    @checks_elements("g", "h")
    def compose(self, g, h):
        return jnp.asarray(g) @ jnp.asarray(h)

    @checks_elements("g")
    def inverse(self, g):
        return jnp.swapaxes(jnp.asarray(g), -1, -2)

    def identity(self):
        return jnp.eye(self.vector_dim, dtype=_validation.float_dtype())

    @checks_elements("g")
    def defining_matrix(self, g):
        return jnp.asarray(g)

    def _element_value_error(self, g):
        g = np.asarray(g, np.float64)
        if not np.all(np.isfinite(g)):
            return "it has NaN or Inf entries"
        off = np.max(np.abs(g.T @ g - np.eye(self.vector_dim)))
        if off > ORTHOGONALITY_TOLERANCE:
            return f"expected an orthogonal matrix, but max |gᵀg − I| = {off:.3g}"
        if self.special and np.linalg.det(g) < 0:
            return "expected a rotation (determinant +1), got a reflection (determinant −1)"
        return None


@final
@dataclasses.dataclass(frozen=True)
class SO2(_MatrixLieGroup, AbstractStratifiedSampler):
    """Rotations of the plane; an element is a (2, 2) float32 rotation matrix.

    Haar measure: the angle is uniform on [0, 2π). One generator, [[0, -1], [1, 0]].
    Stratified: S equally spaced angles θ_i = φ + 2πi/S with one uniform offset φ.

    Examples:
      >>> import jax
      >>> from symreg.groups import SO2
      >>> SO2().sample(jax.random.key(0), (3,)).shape
      (3, 2, 2)
      >>> SO2().exp(jax.numpy.array([0.0])).tolist()
      [[1.0, -0.0], [0.0, 1.0]]
    """

    special: ClassVar[bool] = True

    @property
    def vector_dim(self) -> int:
        return 2

    def _sample_n(self, key, n):
        return rotation_2d(
            jax.random.uniform(key, (n,), _validation.float_dtype(), 0.0, 2 * jnp.pi)
        )

    def _sample_stratified(self, key, s):
        return rotation_2d(grid_angles(key, s))

    @property
    def num_generators(self) -> int:
        return 1

    def generators(self):
        return _SO2_GENERATOR

    def exp(self, coefficients):
        return rotation_2d(_check_coefficients(coefficients, 1)[0])


@final
@dataclasses.dataclass(frozen=True)
class O2(_MatrixLieGroup, AbstractStratifiedSampler):
    """Rotations and reflections of the plane; an element is a (2, 2) orthogonal matrix.

    Haar measure: a uniform angle, then with probability ½ the reflection diag(1, -1) first.
    Stratified: the angles of SO2 (θ_i = φ + 2πi/S), and reflections on every other element,
    starting with a random one (ε·(-1)^i), so rotations and reflections are balanced while
    each element stays Haar (uniform angle, independent fair reflection bit).

    Examples:
      >>> import jax
      >>> from symreg.groups import O2
      >>> O2().sample(jax.random.key(0), (4,)).shape
      (4, 2, 2)
    """

    @property
    def vector_dim(self) -> int:
        return 2

    def _sample_n(self, key, n):
        k1, k2 = jax.random.split(key)
        rot = rotation_2d(jax.random.uniform(k1, (n,), _validation.float_dtype(), 0.0, 2 * jnp.pi))
        sign = jnp.where(jax.random.bernoulli(k2, 0.5, (n,)), -1.0, 1.0).astype(
            _validation.float_dtype()
        )
        return rot * jnp.stack([jnp.ones_like(sign), sign], -1)[:, None, :]

    def _sample_stratified(self, key, s):
        k1, k2 = jax.random.split(key)
        sign = alternating_signs(k2, s)
        return rotation_2d(grid_angles(k1, s)) * jnp.stack([jnp.ones_like(sign), sign], -1)[:, None]

    @property
    def num_generators(self) -> int:
        return 1

    def generators(self):
        return _SO2_GENERATOR

    def exp(self, coefficients):
        return rotation_2d(_check_coefficients(coefficients, 1)[0])


@final
@dataclasses.dataclass(frozen=True)
class SO3(_MatrixLieGroup, AbstractStratifiedSampler):
    """Rotations of space; an element is a (3, 3) float32 rotation matrix.

    Haar measure from normalized Gaussian quaternions (uniform on S³, which covers SO(3)
    twice); never uniform Euler angles. Generators: infinitesimal rotations about x, y, z.
    Stratified: a fixed evenly spread set of S rotations (`stratified_so3`) turned by one
    Haar-random rotation.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from symreg.groups import SO3
      >>> r = SO3().sample(jax.random.key(0), (2,))
      >>> r.shape, bool(jnp.allclose(jnp.linalg.det(r), 1.0, atol=1e-5))
      ((2, 3, 3), True)
    """

    special: ClassVar[bool] = True

    @property
    def vector_dim(self) -> int:
        return 3

    def _sample_n(self, key, n):
        return haar_so3(key, n)

    def _sample_stratified(self, key, s):
        return stratified_so3(key, s)

    @property
    def num_generators(self) -> int:
        return 3

    def generators(self):
        return _SO3_GENERATORS

    def exp(self, coefficients):
        return so3_exp(_check_coefficients(coefficients, 3))


@final
@dataclasses.dataclass(frozen=True)
class O3(_MatrixLieGroup, AbstractStratifiedSampler):
    """Rotations and reflections of space; an element is a (3, 3) orthogonal matrix.

    Haar measure: a Haar rotation times ±1 with equal probability (det = ±1). The Lie algebra
    is that of SO3 (the identity component). Stratified: the rotations of SO3 times signs
    ε·(-1)^i with one uniform ε, so det = ±1 are balanced and each element is Haar.

    Examples:
      >>> import jax
      >>> from symreg.groups import O3
      >>> O3().sample(jax.random.key(0), (2,)).shape
      (2, 3, 3)
    """

    @property
    def vector_dim(self) -> int:
        return 3

    def _sample_n(self, key, n):
        k1, k2 = jax.random.split(key)
        sign = jnp.where(jax.random.bernoulli(k2, 0.5, (n,)), -1.0, 1.0).astype(
            _validation.float_dtype()
        )
        return haar_so3(k1, n) * sign[:, None, None]

    def _sample_stratified(self, key, s):
        k1, k2 = jax.random.split(key)
        return stratified_so3(k1, s) * alternating_signs(k2, s)[:, None, None]

    @property
    def num_generators(self) -> int:
        return 3

    def generators(self):
        return _SO3_GENERATORS

    def exp(self, coefficients):
        return so3_exp(_check_coefficients(coefficients, 3))


@final
@dataclasses.dataclass(frozen=True)
class Translations(AbstractLieGroup, AbstractStratifiedSampler):
    """Periodic translations of the torus R^d / (period·Z^d).

    An element is a float32 vector t of shape (d,) in [0, period)^d; composition is addition
    modulo the period, and the Haar measure is uniform. Generators are the unit vectors, and
    exp(c) = c mod period. Stratified: the lattice set of `lattice_points` (coordinate 0 on
    the midpoint grid, the others a Kronecker sequence) shifted by one uniform random
    translation (a Cranley–Patterson rotation), so each element is uniform.

    Args:
      dim: the dimension d, >= 1.
      period: the period L > 0 of each coordinate.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.groups import Translations
      >>> t = Translations(2, period=1.0)
      >>> t.compose(jnp.array([0.75, 0.5]), jnp.array([0.5, 0.25])).tolist()
      [0.25, 0.75]
    """

    dim: int
    period: float = 1.0

    def __post_init__(self):
        _validation.positive_int(self.dim, "dim")
        _validation.positive_float(self.period, "period")

    def _sample_n(self, key, n):
        return jax.random.uniform(key, (n, self.dim), _validation.float_dtype(), 0.0, self.period)

    def _sample_stratified(self, key, s):
        shift = jax.random.uniform(key, (self.dim,), _validation.float_dtype())
        points = jnp.asarray(lattice_points(s, self.dim), _validation.float_dtype())
        return self.period * jnp.mod(points + shift, 1.0)

    @checks_elements("g", "h")
    def compose(self, g, h):
        return jnp.mod(jnp.asarray(g) + jnp.asarray(h), self.period)

    @checks_elements("g")
    def inverse(self, g):
        return jnp.mod(-jnp.asarray(g), self.period)

    def _element_value_error(self, g):
        return None if np.all(np.isfinite(g)) else "it has NaN or Inf entries"

    def identity(self):
        return jnp.zeros((self.dim,), _validation.float_dtype())

    @property
    def num_generators(self) -> int:
        return self.dim

    def generators(self):
        return jnp.eye(self.dim, dtype=_validation.float_dtype())

    def exp(self, coefficients):
        return jnp.mod(_check_coefficients(coefficients, self.dim), self.period)
