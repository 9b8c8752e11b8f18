"""Linear actions on arrays: Vector, Permutation, Regular, Irreps and PointCloud (layer 2)."""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING, Any, final

import jax
import jax.numpy as jnp

from symreg.actions import _matrices
from symreg.actions._base import AbstractAction, _one_leaf
from symreg.actions._wigner import apply_wigner
from symreg.groups import (
    MAX_ENUMERATION,
    O3,
    SO3,
    AbstractFiniteGroup,
    AbstractMatrixRepresentation,
    AbstractPermutationRepresentation,
    Cyclic,
    DirectProduct,
    Symmetric,
)

if TYPE_CHECKING:
    import e3nn_jax as e3nn


def _e3nn() -> Any:
    """e3nn-jax, imported on first use: it imports Flax, which `import symreg` must not."""
    import e3nn_jax

    return e3nn_jax


def _is_irreps_array(x: Any) -> bool:
    """Whether x is an `e3nn.IrrepsArray` (never true before e3nn-jax is imported)."""
    e3nn_jax = sys.modules.get("e3nn_jax")
    return e3nn_jax is not None and isinstance(x, e3nn_jax.IrrepsArray)


def _is_float(a) -> bool:
    return jnp.issubdtype(a.dtype, jnp.inexact)


def _matvec(m: jax.Array, x: jax.Array) -> jax.Array:
    """Applies the matrix m to the last axis of x, in x's dtype."""
    return jnp.einsum("ij,...j->...i", m.astype(x.dtype), x)


@final
@dataclasses.dataclass(frozen=True, init=False)
class Vector(AbstractAction):
    """An orthogonal representation on the last axis: x ↦ ρ(g) x.

    By default the group's defining representation: 2×2 rotations (and reflections) for
    Cyclic, Dihedral, SO2, O2; 3×3 for SO3, O3; permutation matrices for Symmetric(n)
    (applied as a gather). With `matrices`, a user representation of a finite group: row i is
    ρ of `group.elements()[i]`. Leading axes are batch-like, so an (n, 3) point cloud has
    each point rotated.

    Args:
      matrices: None (the defining representation), or a (G, d, d) array of orthogonal
        matrices, one per element of a finite group of order G, with
        ρ(g·h) = ρ(g) ρ(h). Shape, finiteness and orthogonality are checked here; the
        order and the homomorphism when a `Symmetry` is built (for groups of order above
        256, on the pairs (g, h) with h among the first 256 elements).

    Raises:
      TypeError: `matrices` is not an array of real numbers.
      ValueError: `matrices` is not (G, d, d), has NaN or Inf, or is not orthogonal.

    Examples:
      >>> import jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Vector
      >>> from symreg.groups import Cyclic
      >>> Vector().apply(Cyclic(4), 1, jnp.array([1.0, 0.0])).round(6).tolist()
      [0.0, 1.0]
      >>> sign = Vector(matrices=[[[1.0]], [[-1.0]]])   # C2 acting on R by ±1
      >>> symreg.Symmetry(Cyclic(2), sign).act_input(1, jnp.array([3.0])).tolist()
      [-3.0]
    """

    matrices: _matrices.MatrixTable | None

    def __init__(self, matrices: Any = None):
        table = None if matrices is None else _matrices.MatrixTable.of(matrices)
        object.__setattr__(self, "matrices", table)

    def __repr__(self):
        return "Vector()" if self.matrices is None else f"Vector(matrices={self.matrices!r})"

    def apply(self, group, g, x):
        if self.matrices is not None:
            return _matvec(_matrices.matrix_of(self.matrices, group, g), x)
        if isinstance(group, Symmetric):
            return jnp.take(x, g, axis=-1)
        return _matvec(group.defining_matrix(g), x)

    def _group_error(self, group):
        if self.matrices is not None:
            return _matrices.homomorphism_error(self.matrices, group)
        if not isinstance(group, AbstractMatrixRepresentation):
            hint = "; use Factorwise(...) for products" if isinstance(group, DirectProduct) else ""
            return f"the group has no defining matrix representation{hint}"
        return None

    def _example_error(self, group, example):
        x = _one_leaf(example)
        d = group.vector_dim if self.matrices is None else self.matrices.dim
        if x is None:
            return "Vector acts on a single array; use a tuple of actions for tuples"
        if x.ndim < 1 or x.shape[-1] != d:
            return f"expected a last axis of size {d}, got shape {tuple(x.shape)}"
        gather = isinstance(group, Symmetric) and self.matrices is None
        if not gather and not _is_float(x):
            return f"expected a floating dtype, got {x.dtype}"
        return None

    def is_exact(self, group):
        return True


@final
@dataclasses.dataclass(frozen=True)
class Permutation(AbstractAction):
    """Permutes the entries of `axis` (set elements, nodes): x ↦ x[p(g)] along `axis`.

    Works for every group with a permutation representation: Symmetric(n), and Cyclic(n) and
    Dihedral(n) acting on n points. Every array leaf of the example is permuted along `axis`.

    Args:
      axis: the axis of one example that holds the permuted points (default 0, the first).

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.actions import Permutation
      >>> from symreg.groups import Symmetric
      >>> Permutation().apply(Symmetric(3), jnp.array([2, 0, 1]), jnp.array([10, 20, 30])).tolist()
      [30, 10, 20]
    """

    axis: int = 0

    def apply(self, group, g, x):
        p = group.permutation(g)
        return jax.tree.map(lambda a: jnp.take(a, p, axis=self.axis), x)

    def _group_error(self, group):
        if not isinstance(group, AbstractPermutationRepresentation):
            return "the group does not act by permutations (Symmetric, Cyclic, Dihedral do)"
        return None

    def _example_error(self, group, example):
        for leaf in jax.tree.leaves(example):
            if not -leaf.ndim <= self.axis < leaf.ndim or leaf.shape[self.axis] != group.degree:
                return (
                    f"expected axis {self.axis} of size {group.degree} (the points permuted), "
                    f"got shape {tuple(leaf.shape)}"
                )
        return None

    def is_exact(self, group):
        return True


@final
@dataclasses.dataclass(frozen=True)
class Regular(AbstractAction):
    """The regular representation of a finite group on R^|G|: (ρ(g) x)_h = x_{g⁻¹h}.

    For Cyclic(n) on R^n it is the circular shift by g, computed directly; other groups use
    their enumeration (order up to `MAX_ENUMERATION`).

    Args:
      axis: the axis of size |G| (default -1, the last).

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.actions import Regular
      >>> from symreg.groups import Cyclic
      >>> Regular().apply(Cyclic(4), 1, jnp.array([1., 2., 3., 4.])).tolist()
      [4.0, 1.0, 2.0, 3.0]
    """

    axis: int = -1

    def _indices(self, group, g):
        if isinstance(group, Cyclic):  # the circular shift: no enumeration needed
            return group.permutation(g)
        g_inv = group.inverse(g)
        return jax.vmap(lambda h: group.index(group.compose(g_inv, h)))(group.elements())

    def apply(self, group, g, x):
        idx = self._indices(group, g)
        return jax.tree.map(lambda a: jnp.take(a, idx, axis=self.axis), x)

    def _group_error(self, group):
        if not isinstance(group, AbstractFiniteGroup):
            return "the regular representation needs a finite group"
        if group.order > MAX_ENUMERATION:
            return f"order {group.order} is too large for the regular representation"
        return None

    def _example_error(self, group, example):
        for leaf in jax.tree.leaves(example):
            if not -leaf.ndim <= self.axis < leaf.ndim or leaf.shape[self.axis] != group.order:
                return f"expected axis {self.axis} of size |G| = {group.order}, got {tuple(leaf.shape)}"
        return None

    def is_exact(self, group):
        return True


def _rotation_part(group, g):
    """Splits an element into (rotation group, rotation) and (permutation group, perm)."""
    if isinstance(group, DirectProduct):
        return (group.factors[0], g[0]), (group.factors[1], g[1])
    return (group, g), None


@final
@dataclasses.dataclass(frozen=True, init=False)
class Irreps(AbstractAction):
    """e3nn-jax irreducible representations of O(3) on the last axis: x ↦ D(g) x.

    D is e3nn-jax's Wigner-D matrix of `irreps` (the matrix of `Irreps.D_from_matrix`),
    including the parity of reflections for O3 elements, computed as a polynomial in g in the
    dtype of x: accurate and differentiable at the identity, where Euler angles are not.
    Accepts plain arrays of last size `irreps.dim` and `e3nn.IrrepsArray`s with the same
    irreps.

    Args:
      irreps: an e3nn irreps string such as "1o + 0e" or an `e3nn.Irreps`.

    Raises:
      ValueError: `irreps` is not a valid irreps string.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.actions import Irreps
      >>> from symreg.groups import O3
      >>> Irreps("0e + 1o").apply(O3(), -jnp.eye(3), jnp.array([2., 1., 1., 1.])).tolist()
      [2.0, -1.0, -1.0, -1.0]
    """

    irreps: e3nn.Irreps

    def __init__(self, irreps: Any):
        try:
            object.__setattr__(self, "irreps", _e3nn().Irreps(irreps))
        except (ValueError, TypeError, AssertionError) as err:
            raise ValueError(
                f"irreps must be an e3nn irreps string, got {irreps!r}: {err}"
            ) from None

    def __repr__(self):
        return f'Irreps("{self.irreps}")'

    def apply(self, group, g, x):
        g = jnp.asarray(g)
        if _is_irreps_array(x):
            return _e3nn().IrrepsArray(x.irreps, apply_wigner(self.irreps, g, x.array))
        return apply_wigner(self.irreps, g, x)

    def _group_error(self, group):
        if not isinstance(group, (SO3, O3)):
            return "Irreps needs SO3 or O3 elements (3×3 rotation matrices)"
        return None

    def _example_error(self, group, example):
        if _is_irreps_array(example):
            if example.irreps != self.irreps:
                return f"the IrrepsArray has irreps {example.irreps}, expected {self.irreps}"
            example = example.array
        x = _one_leaf(example)
        if x is None or x.ndim < 1 or x.shape[-1] != self.irreps.dim:
            shape = None if x is None else tuple(x.shape)
            return f"expected a last axis of size {self.irreps.dim} ({self.irreps}), got {shape}"
        if not _is_float(x):
            return f"expected a floating dtype, got {x.dtype}"
        return None

    def is_exact(self, group):
        return True


@final
@dataclasses.dataclass(frozen=True, init=False)
class PointCloud(AbstractAction):
    """A point cloud: (n, d) coordinates, optionally with (n, irreps.dim) features.

    With a rotation group (SO2, O2, SO3, O3) the coordinates rotate and the features transform
    by their irreps; with `DirectProduct(rotations, Symmetric(n))` the points are also permuted.
    An example is the coordinate array, or a tuple (coordinates, features) if `irreps` is set.

    Args:
      irreps: e3nn irreps of the per-point features, or None for coordinates only.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.actions import PointCloud
      >>> from symreg.groups import DirectProduct, SO3, Symmetric
      >>> G = DirectProduct(SO3(), Symmetric(4))
      >>> pos, feat = PointCloud("0e + 1o").apply(G, G.identity(), (jnp.ones((4, 3)), jnp.ones((4, 4))))
      >>> pos.shape, feat.shape
      ((4, 3), (4, 4))
    """

    irreps: Irreps | None

    def __init__(self, irreps: Any = None):
        object.__setattr__(self, "irreps", None if irreps is None else Irreps(irreps))

    def __repr__(self):
        return "PointCloud()" if self.irreps is None else f'PointCloud("{self.irreps.irreps}")'

    def apply(self, group, g, x):
        (rot_group, r), perm = _rotation_part(group, g)
        pos, feat = (x, None) if self.irreps is None else x
        pos = _matvec(rot_group.defining_matrix(r), pos)
        if feat is not None:
            feat = self.irreps.apply(rot_group, r, feat)
        if perm is not None:
            p = perm[0].permutation(perm[1])
            pos = jnp.take(pos, p, axis=0)
            feat = None if feat is None else jnp.take(feat, p, axis=0)
        return pos if self.irreps is None else (pos, feat)

    def _group_error(self, group):
        rot, perm = (group, None)
        if isinstance(group, DirectProduct):
            if len(group.factors) != 2:
                return "expected DirectProduct(rotations, Symmetric(n))"
            rot, perm = group.factors
        if not isinstance(rot, AbstractMatrixRepresentation) or isinstance(rot, Symmetric):
            return "expected a rotation group (SO2, O2, SO3, O3) or its product with Symmetric(n)"
        if perm is not None and not isinstance(perm, AbstractPermutationRepresentation):
            return f"the second factor {perm!r} does not permute points"
        if self.irreps is not None:
            return self.irreps._group_error(rot)
        return None

    def _example_error(self, group, example):
        (rot, _), perm = _rotation_part(group, group.identity())
        if self.irreps is None:
            pos, feat = _one_leaf(example), None
        elif isinstance(example, (tuple, list)) and len(example) == 2:
            pos, feat = example
        else:
            return "expected a tuple (coordinates, features)"
        d = rot.vector_dim
        if pos is None or pos.ndim != 2 or pos.shape[1] != d or not _is_float(pos):
            return f"expected float coordinates of shape (n, {d})"
        if perm is not None and pos.shape[0] != perm[0].degree:
            return f"expected {perm[0].degree} points, got {pos.shape[0]}"
        if feat is not None:
            if feat.ndim != 2 or feat.shape[0] != pos.shape[0]:
                return f"expected features of shape ({pos.shape[0]}, {self.irreps.irreps.dim})"
            return self.irreps._example_error(rot, feat)
        return None

    def is_exact(self, group):
        return True
