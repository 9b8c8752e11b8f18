"""Partial and non-group transformation sets: the paper's bounds cover them too.

Each set shares the element format of a `base` group, so that group's actions apply; but the
set is not closed under composition, so exact enumeration and the projection property of the
Reynolds operator do not hold. Their measures are documented on each class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import final

import jax
import jax.numpy as jnp

from symreg import _validation
from symreg.groups._base import AbstractGroup, AbstractLieGroup, AbstractTransformSet
from symreg.groups._continuous import SO2, SO3, rotation_2d, so3_exp


def _truncated_haar_angle(key, n, max_angle):
    """Angles on [0, a] with density ∝ 1 - cos θ (SO(3) Haar restricted to a ball), by bisection
    on the CDF F(θ) = (θ - sin θ) / (a - sin a)."""
    target = jax.random.uniform(key, (n,), _validation.float_dtype()) * (
        max_angle - jnp.sin(max_angle)
    )

    def step(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        below = mid - jnp.sin(mid) < target
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = jax.lax.fori_loop(
        0,
        40,
        step,
        (
            jnp.zeros((n,), _validation.float_dtype()),
            jnp.full((n,), max_angle, _validation.float_dtype()),
        ),
    )
    return 0.5 * (lo + hi)


@final
@dataclasses.dataclass(frozen=True)
class RotationRange(AbstractTransformSet):
    """Rotations by at most `max_angle`: a partial symmetry, not a group (for max_angle < π).

    dim = 2: angle uniform on [-max_angle, max_angle]; elements are SO2 matrices.
    dim = 3: the Haar measure of SO(3) restricted to rotations of angle ≤ max_angle (uniform
    axis, angle density ∝ 1 - cos θ); elements are SO3 matrices. max_angle = π recovers the
    full group's Haar measure.

    Args:
      max_angle: the largest rotation angle, in (0, π] radians.
      dim: 2 or 3.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from symreg.groups import RotationRange
      >>> r = RotationRange(0.1).sample(jax.random.key(0), (100,))
      >>> bool(jnp.all(jnp.abs(jnp.arctan2(r[:, 1, 0], r[:, 0, 0])) <= 0.1 + 1e-6))
      True
    """

    max_angle: float
    dim: int = 2

    def __post_init__(self):
        a = _validation.positive_float(self.max_angle, "max_angle")
        if a > float(jnp.pi) + 1e-9:
            raise ValueError(f"max_angle must be in (0, π], got {a}")
        if self.dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {self.dim!r}")

    @property
    def base(self) -> AbstractGroup:
        return SO2() if self.dim == 2 else SO3()

    def _sample_n(self, key, n):
        a = float(self.max_angle)
        if self.dim == 2:
            return rotation_2d(jax.random.uniform(key, (n,), _validation.float_dtype(), -a, a))
        k1, k2 = jax.random.split(key)
        axis = jax.random.normal(k1, (n, 3), _validation.float_dtype())
        axis = axis / jnp.linalg.norm(axis, axis=-1, keepdims=True)
        angle = _truncated_haar_angle(k2, n, a)
        return jax.vmap(so3_exp)(axis * angle[:, None])


@final
@dataclasses.dataclass(frozen=True)
class NearIdentity(AbstractTransformSet):
    """Elements exp(Σ c_i A_i) with c ~ N(0, scale² I): small transformations of a Lie group.

    Not a group; its measure concentrates on the identity as scale → 0, where the model's
    error per element behaves like scale²·Σ‖L_i f‖² (the Lie-derivative regime).

    Args:
      group: a Lie group (SO2, O2, SO3, O3, Translations, Scalings, or a product with one of
        them).
      scale: the standard deviation of the Lie-algebra coefficients, > 0.

    Examples:
      >>> import jax
      >>> from symreg.groups import NearIdentity, SO3
      >>> NearIdentity(SO3(), 0.01).sample(jax.random.key(0), (2,)).shape
      (2, 3, 3)
    """

    group: AbstractLieGroup
    scale: float

    def __post_init__(self):
        if not isinstance(self.group, AbstractLieGroup):
            raise TypeError(
                f"NearIdentity needs a Lie group (SO2, O2, SO3, O3, Translations), got {self.group!r}"
            )
        _validation.positive_float(self.scale, "scale")

    @property
    def base(self) -> AbstractGroup:
        return self.group

    def _sample_n(self, key, n):
        c = self.scale * jax.random.normal(
            key, (n, self.group.num_generators), _validation.float_dtype()
        )
        return jax.vmap(self.group.exp)(c)


@final
@dataclasses.dataclass(frozen=True)
class UserSet(AbstractTransformSet):
    """A transformation set defined by a user sampling function.

    `sample_fn(key, n)` must return n elements of `base`'s format stacked on a leading axis;
    its output measure is λ. Use it for data-driven or hand-made sets of transformations.

    Args:
      sample_fn: a function (key, n) -> elements, hashable (a top-level function).
      base: the group whose element format and actions the samples use.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from symreg.groups import Cyclic, UserSet
      >>> def even_shifts(key, n):
      ...     return 2 * jax.random.randint(key, (n,), 0, 4)
      >>> UserSet(even_shifts, Cyclic(8)).sample(jax.random.key(0), (3,)).shape
      (3,)
    """

    sample_fn: Callable[[jax.Array, int], object]
    base_group: AbstractGroup

    def __init__(self, sample_fn, base):
        _validation.check_callable(sample_fn, "sample_fn")
        if not isinstance(base, AbstractGroup):
            raise TypeError(f"base must be a group (symreg.groups), got {base!r}")
        object.__setattr__(self, "sample_fn", sample_fn)
        object.__setattr__(self, "base_group", base)

    @property
    def base(self) -> AbstractGroup:
        return self.base_group

    def _sample_n(self, key, n):
        out = self.sample_fn(key, n)
        want = self.base_group.element_struct()
        got = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype), out)
        same = jax.tree.structure(got) == jax.tree.structure(want) and all(
            g.shape == w.shape and g.shape is not None
            for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True)
        )
        lead = {a.shape[0] if a.ndim else None for a in jax.tree.leaves(out)}
        if not same or lead != {n}:
            raise ValueError(
                f"sample_fn(key, {n}) must return {n} elements shaped like {want} "
                f"(stacked on a leading axis), got {jax.tree.map(lambda a: a.shape, out)}"
            )
        return jax.tree.map(lambda a, w: jnp.asarray(a, w.dtype), out, want)
