"""The O(3) inertia task and its models: point masses in 3-D → their 3×3 inertia tensor.

f_sym(x) = Σ_i m_i (‖x_i‖² I − x_i x_iᵀ) is O(3)-equivariant under x_i ↦ R x_i, I ↦ R I Rᵀ
(`Conjugation`). The symmetry-breaking term f_break(x) = (Σ_i m_i z_i²)·e_z e_zᵀ is equivariant
only under the rotations about the z axis (and the reflection z ↦ −z). The masses are fixed
(`MASSES`, summing to 1), so an input is the (5, 3) array of positions.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, final

import jax
import jax.numpy as jnp

import symreg
from symreg.actions import AbstractAction, PointCloud
from symreg.estimators import MLP
from symreg.experiments.tasks import NormalInputs, SyntheticTask
from symreg.groups import O3, AbstractMatrixRepresentation
from symreg.nn import ResidualPathway

#: The fixed point masses (sum 1), one per point of a cloud.
MASSES = (0.1, 0.15, 0.2, 0.25, 0.3)
#: Points per cloud.
POINTS = len(MASSES)
#: The z axis, the only axis that the symmetry-breaking term singles out.
AXIS = jnp.array([0.0, 0.0, 1.0])


@final
@dataclasses.dataclass(frozen=True)
class Conjugation(AbstractAction):
    """A rotation or reflection R acting on a d×d matrix by conjugation: M ↦ R M Rᵀ.

    The action of O(d) on second-order tensors such as the inertia tensor (R is the group's
    defining matrix, so det R = ±1 gives the same result for ±R).

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.experiments.inertia_task import Conjugation
      >>> from symreg.groups import O3
      >>> r = jnp.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90° about z
      >>> Conjugation().apply(O3(), r, jnp.diag(jnp.array([1.0, 2.0, 3.0]))).diagonal().tolist()
      [2.0, 1.0, 3.0]
    """

    def apply(self, group, g, x):
        r = group.defining_matrix(g).astype(x.dtype)
        return r @ x @ r.T

    def _group_error(self, group):
        if not isinstance(group, AbstractMatrixRepresentation):
            return "Conjugation needs a group of orthogonal matrices (SO2, O2, SO3, O3)"
        return None

    def _example_error(self, group, example):
        d = group.vector_dim
        shape = tuple(getattr(example, "shape", ()))
        if shape != (d, d) or not jnp.issubdtype(example.dtype, jnp.inexact):
            return f"expected a float ({d}, {d}) matrix, got shape {shape}"
        return None

    def is_exact(self, group):
        return True


def inertia(x: jax.Array) -> jax.Array:
    """Σ_i m_i (‖x_i‖² I − x_i x_iᵀ) with m = `MASSES`: positions (B, 5, 3) → (B, 3, 3)."""
    m = jnp.asarray(MASSES, x.dtype)
    r2 = jnp.sum(x**2, -1)
    outer = jnp.einsum("i,bij,bik->bjk", m, x, x)
    return (r2 @ m)[:, None, None] * jnp.eye(3, dtype=x.dtype) - outer


def axial(x: jax.Array) -> jax.Array:
    """(Σ_i m_i z_i²)·e_z e_zᵀ: positions (B, 5, 3) → (B, 3, 3), equivariant only about z."""
    m = jnp.asarray(MASSES, x.dtype)
    s = x[..., 2] ** 2 @ m
    return s[:, None, None] * jnp.outer(AXIS, AXIS).astype(x.dtype)


def inertia_task(eps: float = 0.5, noise: float = 0.3) -> SyntheticTask:
    """The inertia tensor of 5 fixed point masses at N(0, I) positions, plus ε·`axial`, plus noise.

    y = f_sym(x) + ε·f_break(x) + σ·ξ with ξ a 3×3 matrix of i.i.d. N(0, 1) entries (its law is
    invariant under conjugation), f_sym = `inertia`, f_break = `axial`.

    Args:
      eps: ε, the size of the symmetry-breaking term.
      noise: σ, the noise per output entry.

    Returns:
      A `SyntheticTask` with O(3) acting on the points (`PointCloud`) and on the output by
      `Conjugation`; its `oracle_eta` is η₂ = ε²·ED₂(f_break).

    Examples:
      >>> from symreg.experiments.inertia_task import inertia_task
      >>> task = inertia_task()
      >>> task.out_shape, task.symmetry.act_out
      ((3, 3), Conjugation())
    """
    return SyntheticTask(
        name="inertia",
        title=f"O(3) on {POINTS} point masses in 3-D, inertia tensor, axial term",
        symmetry=symreg.Symmetry(O3(), PointCloud(), Conjugation()),
        sample_inputs=NormalInputs((POINTS, 3)),
        f_sym=inertia,
        f_break=axial,
        eps=float(eps),
        noise=float(noise),
        out_shape=(3, 3),
        breaking="ε·(Σ_i m_i z_i²)·e_z e_zᵀ",
    )


@final
@dataclasses.dataclass(frozen=True)
class EquivariantInertia:
    """An exactly O(3)-equivariant map from point masses to a 3×3 tensor, as `apply(params, x)`.

    f(x) = Σ_i a_i·I + b_i·x_i x_iᵀ with (a_i, b_i) = φ(‖x_i‖², m_i), φ a small MLP on the
    invariants of point i. Since R(aI + b x xᵀ)Rᵀ = aI + b (Rx)(Rx)ᵀ and ‖Rx‖ = ‖x‖, every
    term is equivariant under O(3) acting by `Conjugation`. The inertia tensor is the case
    a_i = m_i‖x_i‖², b_i = −m_i. Frozen and hashable; calling the instance is `apply`.

    Args:
      hidden: the hidden widths of φ (SiLU activations).
      masses: the point masses m_i (a tuple of floats, one per point).

    Examples:
      >>> import jax
      >>> from symreg.experiments.inertia_task import EquivariantInertia, inertia_task
      >>> from symreg.testing import assert_equivariant
      >>> model = EquivariantInertia((16,))
      >>> params = model.init(jax.random.key(0))
      >>> x = jax.random.normal(jax.random.key(1), (4, 5, 3))
      >>> assert_equivariant(lambda x: model(params, x), x, jax.random.key(2),
      ...                    symmetry=inertia_task().symmetry)
      >>> model(params, x).shape
      (4, 3, 3)
    """

    hidden: tuple[int, ...] = (64, 64)
    masses: tuple[float, ...] = MASSES

    @property
    def phi(self) -> MLP:
        """φ: (‖x_i‖², m_i) → (a_i, b_i)."""
        return MLP(hidden=tuple(self.hidden), out_shape=(2,), activation="silu")

    def init(self, key: jax.Array) -> Any:
        """φ's parameters (LeCun-normal weights, zero biases)."""
        return self.phi.init(key, jnp.ones((1, 2)))

    def __call__(self, params: Any, x: jax.Array) -> jax.Array:
        """f(x) on a batch of positions (B, 5, 3) → (B, 3, 3)."""
        b, n, _ = x.shape
        m = jnp.broadcast_to(jnp.asarray(self.masses, x.dtype), (b, n))
        features = jnp.stack([jnp.sum(x**2, -1), m], -1).reshape(b * n, 2)
        coef = self.phi(params, features).reshape(b, n, 2)
        iso = jnp.sum(coef[..., 0], -1)[:, None, None] * jnp.eye(3, dtype=x.dtype)
        return iso + jnp.einsum("bi,bij,bik->bjk", coef[..., 1], x, x)


@final
@dataclasses.dataclass(frozen=True)
class Pathway:
    """equivariant(x) + free(x) as `apply(params, x)`: the functional form of
    `symreg.nn.ResidualPathway` (which `as_layer` builds from the same paths).

    The defect of the sum at every (g, x) is the free path's, so the model's ED₂ is ED₂(free),
    the pathway's penalty. Frozen and hashable; calling the instance is `apply`.

    Args:
      equivariant: the exactly equivariant path (`EquivariantInertia`).
      free: the free path (an `symreg.estimators.MLP` with out_shape (3, 3)).

    Examples:
      >>> import jax
      >>> from symreg.experiments.inertia_task import make_model
      >>> model = make_model("pathway", (8,))
      >>> params = model.init(jax.random.key(0))
      >>> x = jax.random.normal(jax.random.key(1), (2, 5, 3))
      >>> layer = model.as_layer(params)
      >>> bool(jax.numpy.allclose(layer(x), model(params, x)))
      True
    """

    equivariant: EquivariantInertia
    free: MLP

    def init(self, key: jax.Array) -> dict[str, Any]:
        """{"equivariant": ..., "free": ...}, each path's parameters from its own key."""
        k_eq, k_free = jax.random.split(key)
        return {"equivariant": self.equivariant.init(k_eq), "free": _init_free(self.free, k_free)}

    def __call__(self, params: Any, x: jax.Array) -> jax.Array:
        """f(x) = equivariant(x) + free(x) on a batch (B, 5, 3) → (B, 3, 3)."""
        return self.equivariant(params["equivariant"], x) + self.free(params["free"], x)

    def as_layer(self, params: Any) -> ResidualPathway:
        """The `symreg.nn.ResidualPathway` of the two paths at `params` (same outputs and
        `penalty`; its paths are closures, so it is for measuring, not for training)."""
        return ResidualPathway(
            functools.partial(self.equivariant, params["equivariant"]),
            functools.partial(self.free, params["free"]),
            symmetry=inertia_task().symmetry,
        )


def _init_free(free: MLP, key: jax.Array) -> Any:
    return free.init(key, jnp.ones((1, POINTS, 3)))


@final
@dataclasses.dataclass(frozen=True)
class PlainMLP:
    """The `symreg.estimators.MLP` on flattened positions → (3, 3), with `init(key)`.

    Examples:
      >>> import jax
      >>> from symreg.experiments.inertia_task import PlainMLP
      >>> model = PlainMLP((8,))
      >>> model(model.init(jax.random.key(0)), jax.numpy.ones((2, 5, 3))).shape
      (2, 3, 3)
    """

    hidden: tuple[int, ...] = (64, 64)

    @property
    def mlp(self) -> MLP:
        return MLP(hidden=tuple(self.hidden), out_shape=(3, 3), activation="silu")

    def init(self, key: jax.Array) -> Any:
        """The MLP's parameters (LeCun-normal weights, zero biases)."""
        return _init_free(self.mlp, key)

    def __call__(self, params: Any, x: jax.Array) -> jax.Array:
        return self.mlp(params, x)


def make_model(kind: str, hidden: tuple[int, ...]) -> PlainMLP | EquivariantInertia | Pathway:
    """A model as a hashable `apply(params, x)` with `init(key)`: "mlp" (`PlainMLP`),
    "equivariant" (`EquivariantInertia`) or "pathway" (`Pathway` of both).

    Raises:
      ValueError: an unknown `kind`.

    Examples:
      >>> from symreg.experiments.inertia_task import make_model
      >>> type(make_model("pathway", (8,))).__name__
      'Pathway'
    """
    hidden = tuple(hidden)
    if kind == "mlp":
        return PlainMLP(hidden)
    if kind == "equivariant":
        return EquivariantInertia(hidden)
    if kind == "pathway":
        return Pathway(EquivariantInertia(hidden), PlainMLP(hidden).mlp)
    raise ValueError(f"kind must be 'mlp', 'equivariant' or 'pathway', got {kind!r}")
