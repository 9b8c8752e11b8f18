"""The O(3) inertia task and its models: point masses in 3-D → their 3×3 inertia tensor.

f_sym(x) = Σ_i m_i (‖x_i‖² I − x_i x_iᵀ) is O(3)-equivariant under x_i ↦ R x_i, I ↦ R I Rᵀ
(`Conjugation`). The symmetry-breaking term f_break(x) = (Σ_i m_i z_i²)·e_z e_zᵀ is equivariant
only under the rotations about the z axis (and the reflection z ↦ −z). The masses are fixed
(`MASSES`, summing to 1), so an input is the (5, 3) array of positions.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, final

import jax
import jax.numpy as jnp
from flax import nnx

import symreg
from symreg.actions import AbstractAction, PointCloud
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


class FlatMLP(nnx.Module):
    """An MLP on the flattened input, reshaped to `out_shape`: not equivariant.

    Args:
      d_in: the size of one flattened input.
      hidden: the hidden widths (SiLU activations).
      out_shape: the shape of one output.
      rngs: the `nnx.Rngs` of the initialization.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from symreg.experiments.inertia_task import FlatMLP
      >>> FlatMLP(15, (8,), (3, 3), rngs=nnx.Rngs(0))(jnp.ones((2, 5, 3))).shape
      (2, 3, 3)
    """

    def __init__(self, d_in: int, hidden: tuple[int, ...], out_shape: tuple[int, ...], *, rngs):
        sizes = (d_in, *hidden, math.prod(out_shape))
        self.layers = nnx.List(
            [nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        )
        self.out_shape = tuple(out_shape)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = x.reshape(x.shape[0], -1)
        for layer in self.layers[:-1]:
            h = jax.nn.silu(layer(h))
        return self.layers[-1](h).reshape(x.shape[0], *self.out_shape)


class EquivariantInertia(nnx.Module):
    """An exactly O(3)-equivariant map from point masses to a 3×3 tensor.

    f(x) = Σ_i a_i·I + b_i·x_i x_iᵀ with (a_i, b_i) = φ(‖x_i‖², m_i), φ a small MLP on the
    invariants of point i. Since R(aI + b x xᵀ)Rᵀ = aI + b (Rx)(Rx)ᵀ and ‖Rx‖ = ‖x‖, every
    term is equivariant under O(3) acting by `Conjugation`. The inertia tensor is the case
    a_i = m_i‖x_i‖², b_i = −m_i.

    Args:
      hidden: the hidden widths of φ (SiLU activations).
      masses: the point masses m_i (a tuple of floats, one per point).
      rngs: the `nnx.Rngs` of the initialization.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> from symreg.experiments.inertia_task import EquivariantInertia, inertia_task
      >>> from symreg.testing import assert_equivariant
      >>> model = EquivariantInertia((16,), rngs=nnx.Rngs(0))
      >>> x = jax.random.normal(jax.random.key(0), (4, 5, 3))
      >>> assert_equivariant(model, x, jax.random.key(1), symmetry=inertia_task().symmetry)
      >>> model(x).shape
      (4, 3, 3)
    """

    def __init__(self, hidden: tuple[int, ...], masses: tuple[float, ...] = MASSES, *, rngs):
        self.phi = FlatMLP(2, hidden, (2,), rngs=rngs)
        self.masses = tuple(float(m) for m in masses)

    def __call__(self, x: jax.Array) -> jax.Array:
        b, n, _ = x.shape
        m = jnp.broadcast_to(jnp.asarray(self.masses, x.dtype), (b, n))
        features = jnp.stack([jnp.sum(x**2, -1), m], -1).reshape(b * n, 2)
        coef = self.phi(features).reshape(b, n, 2)
        iso = jnp.sum(coef[..., 0], -1)[:, None, None] * jnp.eye(3, dtype=x.dtype)
        return iso + jnp.einsum("bi,bij,bik->bjk", coef[..., 1], x, x)


def make_model(kind: str, hidden: tuple[int, ...], key: jax.Array) -> Any:
    """A fresh model: "mlp" (`FlatMLP`), "equivariant" (`EquivariantInertia`) or "pathway"
    (`symreg.nn.ResidualPathway` of both), initialized from `key`.

    Raises:
      ValueError: an unknown `kind`.

    Examples:
      >>> import jax
      >>> from symreg.experiments.inertia_task import make_model
      >>> type(make_model("pathway", (8,), jax.random.key(0))).__name__
      'ResidualPathway'
    """
    k_eq, k_free = jax.random.split(key)
    if kind == "mlp":
        return FlatMLP(3 * POINTS, hidden, (3, 3), rngs=nnx.Rngs(k_free))
    if kind == "equivariant":
        return EquivariantInertia(hidden, rngs=nnx.Rngs(k_eq))
    if kind == "pathway":
        return ResidualPathway(
            EquivariantInertia(hidden, rngs=nnx.Rngs(k_eq)),
            FlatMLP(3 * POINTS, hidden, (3, 3), rngs=nnx.Rngs(k_free)),
            symmetry=inertia_task().symmetry,
        )
    raise ValueError(f"kind must be 'mlp', 'equivariant' or 'pathway', got {kind!r}")
