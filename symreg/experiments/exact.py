"""Exactly equivariant models of the point-cloud tasks, next to the sampled Reynolds average.

For a continuous group the job's symmetrized model Q f̂₀ averages over a sample of elements, so
it is close to, not exactly, equivariant. These models are equivariant by construction, for
every element (docs/architecture.md, The mathematics: ED_2(f) = 0 exactly):

- `PlanarInvariant` (cloud2d, SO(2)): an MLP on the rotation invariants of a planar cloud:
  radii ‖x_i‖, distances ‖x_i − x_j‖, and the cosine and sine of the angle from x_i to x_j
  (the sine tells SO(2) from O(2)).
- `E3nnCloud` (cloud3d, O(3), "0e + 1o" outputs): an MLP on the O(3) invariants (radii and
  distances, which fix the cloud up to O(3)) gives the scalar and one coefficient per point;
  the vector is Σ_i c_i Y¹(x_i/‖x_i‖), with Y¹ the e3nn-jax degree-1 spherical harmonics,
  which carry the "1o" irrep (odd under parity) by construction.

Both are hashable `apply(params, x)` functions with `init(key, x)` (the `Model` protocol of
`symreg.experiments.tasks`), trained by the job like its MLP.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, final

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp

from symreg.estimators import MLP


def _norm(v: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.sum(v**2, -1) + 1e-6)


def distances(x: jax.Array) -> jax.Array:
    """Radii ‖x_i‖ and pairwise distances ‖x_i − x_j‖ (i < j) of clouds (B, n, d).

    Invariant under every orthogonal map applied to all points of a cloud (up to the 1e-6
    that keeps the square root differentiable at 0).

    Returns:
      (B, n + n(n − 1)/2).

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.experiments.exact import distances
      >>> distances(jnp.array([[[3.0, 0.0], [0.0, 4.0]]])).round(3).tolist()
      [[3.0, 4.0, 5.0]]
    """
    i, j = jnp.triu_indices(x.shape[1], 1)
    return jnp.concatenate([_norm(x), _norm(x[:, i] - x[:, j])], -1)


def _angles(x: jax.Array) -> jax.Array:
    """cos and sin of the angle from x_i to x_j (i < j) of planar clouds (B, n, 2)."""
    i, j = jnp.triu_indices(x.shape[1], 1)
    u = x / _norm(x)[..., None]
    a, b = u[:, i], u[:, j]
    cos = jnp.sum(a * b, -1)
    sin = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return jnp.concatenate([cos, sin], -1)


@final
@dataclasses.dataclass(frozen=True)
class PlanarInvariant:
    """An exactly SO(2)-invariant scalar of planar clouds: f(x) = φ(radii, distances, angles).

    A rotation keeps every radius, every distance and the angle from one point to another,
    so f is invariant for every angle, not only for sampled ones. φ is a
    `symreg.estimators.MLP`.

    Args:
      hidden: the hidden widths of φ.
      activation: φ's activation.

    Examples:
      >>> import jax
      >>> import symreg
      >>> from symreg.actions import PointCloud
      >>> from symreg.experiments.exact import PlanarInvariant
      >>> from symreg.groups import SO2
      >>> from symreg.testing import assert_equivariant
      >>> model = PlanarInvariant((8,))
      >>> x = jax.random.normal(jax.random.key(0), (4, 4, 2))
      >>> params = model.init(jax.random.key(1), x)
      >>> assert_equivariant(lambda x: model(params, x), x, jax.random.key(2),
      ...                    symmetry=symreg.Symmetry(SO2(), PointCloud()))
      >>> model(params, x).shape
      (4,)
    """

    #: The model's row in the job's table.
    label: ClassVar[str] = "exact (invariants)"

    hidden: tuple[int, ...] = (32, 32)
    activation: str = "silu"

    @property
    def phi(self) -> MLP:
        """φ: the invariants → the scalar."""
        return MLP(hidden=tuple(self.hidden), out_shape=(), activation=self.activation)

    def features(self, x: jax.Array) -> jax.Array:
        """The invariants of a batch (B, n, 2) → (B, n + 3n(n − 1)/2)."""
        return jnp.concatenate([distances(x), _angles(x)], -1)

    def init(self, key: jax.Array, x: jax.Array) -> Any:
        """φ's parameters for clouds like the batch `x`."""
        return self.phi.init(key, self.features(x))

    def __call__(self, params: Any, x: jax.Array) -> jax.Array:
        """f(x) on a batch (B, n, 2) → (B,)."""
        return self.phi(params, self.features(x))


@final
@dataclasses.dataclass(frozen=True)
class E3nnCloud:
    """An exactly O(3)-equivariant "0e + 1o" map of 3-D clouds, with e3nn-jax harmonics.

    f(x) = (c_0, Σ_i c_i Y¹(x_i/‖x_i‖)) with (c_0, c_1, …, c_n) = φ(`distances`(x)) and Y¹ =
    `e3nn.spherical_harmonics("1o", ·)`. Radii and distances are O(3)-invariant, so c_0 is a
    scalar (0e) and the sum transforms as Y¹ does, the "1o" irrep of `Irreps("0e + 1o")`.

    Args:
      hidden: the hidden widths of φ (a `symreg.estimators.MLP`).
      activation: φ's activation.

    Examples:
      >>> import jax
      >>> from symreg.experiments.exact import E3nnCloud
      >>> from symreg.experiments.synthetic import cloud3d_task
      >>> from symreg.testing import assert_equivariant
      >>> model = E3nnCloud((8,))
      >>> x = jax.random.normal(jax.random.key(0), (4, 4, 3))
      >>> params = model.init(jax.random.key(1), x)
      >>> assert_equivariant(lambda x: model(params, x), x, jax.random.key(2),
      ...                    symmetry=cloud3d_task().symmetry)
      >>> model(params, x).shape
      (4, 4)
    """

    #: The model's row in the job's table.
    label: ClassVar[str] = "exact (e3nn)"

    hidden: tuple[int, ...] = (32, 32)
    activation: str = "silu"

    def phi(self, points: int) -> MLP:
        """φ: the invariants → (c_0, c_1, …, c_n)."""
        return MLP(hidden=tuple(self.hidden), out_shape=(1 + points,), activation=self.activation)

    def init(self, key: jax.Array, x: jax.Array) -> Any:
        """φ's parameters for clouds like the batch `x` (B, n, 3)."""
        return self.phi(x.shape[1]).init(key, distances(x))

    def __call__(self, params: Any, x: jax.Array) -> jax.Array:
        """f(x) on a batch (B, n, 3) → (B, 4): the 0e scalar, then the 1o vector."""
        c = self.phi(x.shape[1])(params, distances(x))
        y1 = e3nn.spherical_harmonics("1o", x, normalize=True, normalization="component").array
        vector = jnp.einsum("bi,bik->bk", c[:, 1:], y1)
        return jnp.concatenate([c[:, :1], vector], -1)
