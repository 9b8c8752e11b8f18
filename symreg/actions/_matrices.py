"""A user representation of a finite group as a table of orthogonal matrices (layer 2, private).

`MatrixTable` holds the (G, d, d) matrices of `actions.Vector(matrices=...)`: checked when
built (shape, finite, orthogonal) and stored read-only with a precomputed hash, so the action
stays a hashable static argument. `homomorphism_error` checks ρ(g·h) = ρ(g) ρ(h) once a group
is known (when a `Symmetry` is built).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from symreg import _validation
from symreg.groups import AbstractFiniteGroup

#: Largest max |M Mᵀ − I| and max |ρ(gh) − ρ(g)ρ(h)| accepted (float32 rounding is ~1e-7).
TOLERANCE = 1e-5
#: The homomorphism is checked on every pair (g, h) with h among the first this many
#: elements of `elements()`; that is every pair for groups up to this order.
CHECKED_ELEMENTS = 256


@dataclasses.dataclass(frozen=True, eq=False)
class MatrixTable:
    """Read-only (G, d, d) float64 matrices, hashable by content.

    Examples:
      >>> import numpy as np
      >>> from symreg.actions._matrices import MatrixTable
      >>> t = MatrixTable.of(np.stack([np.eye(2), -np.eye(2)]))
      >>> t.order, t.dim, t == MatrixTable.of(np.stack([np.eye(2), -np.eye(2)]))
      (2, 2, True)
    """

    array: np.ndarray
    digest: str

    @classmethod
    def of(cls, matrices: Any) -> MatrixTable:
        """Validates `matrices` (shape (G, d, d), finite, orthogonal) and stores a copy.

        Raises:
          TypeError: `matrices` is not an array of real numbers.
          ValueError: a shape other than (G, d, d) with G, d >= 1, NaN or Inf entries, or a
            matrix that is not orthogonal.
        """
        a = _validation.float64_values(matrices, "matrices", "a (G, d, d) array of real numbers")
        if a is None:
            raise TypeError("matrices must be concrete (built outside jax.jit), got a tracer")
        if a.ndim != 3 or a.shape[1] != a.shape[2] or 0 in a.shape:
            raise ValueError(
                f"matrices must have shape (G, d, d) with G, d >= 1 (one d×d matrix per group "
                f"element), got shape {a.shape}"
            )
        bad = ~np.isfinite(a)
        if bad.any():
            raise ValueError(
                f"matrices contains NaN or Inf (first at {np.argwhere(bad)[0].tolist()})"
            )
        defect = np.abs(a @ np.swapaxes(a, 1, 2) - np.eye(a.shape[1])).max(axis=(1, 2))
        worst = int(np.argmax(defect))
        if defect[worst] > TOLERANCE:
            raise ValueError(
                f"matrices must be orthogonal (ρ(g) ρ(g)ᵀ = I): matrices[{worst}] @ "
                f"matrices[{worst}].T differs from the identity by {defect[worst]:.3g} "
                f"(tolerance {TOLERANCE:g})"
            )
        a.setflags(write=False)
        return cls(a, hashlib.sha256(a.tobytes() + repr(a.shape).encode()).hexdigest())

    @property
    def order(self) -> int:
        return self.array.shape[0]

    @property
    def dim(self) -> int:
        return self.array.shape[1]

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, MatrixTable) and self.digest == other.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"<{self.order}×{self.dim}×{self.dim} matrices>"


def _product_indices(group: AbstractFiniteGroup, m: int) -> np.ndarray:
    """index(g_i · g_j) for i < G, j < m, as a (G, m) array."""
    elements = group.elements()
    right = jax.tree.map(lambda a: a[:m], elements)

    @jax.jit
    def table(left, right):
        row = lambda g: jax.vmap(lambda h: group.index(group.compose(g, h)))(right)
        return jax.vmap(row)(left)

    return np.asarray(table(elements, right))


def homomorphism_error(table: MatrixTable, group: Any) -> str | None:
    """Why `table` is not an orthogonal representation of `group`, or None.

    Checks that the group is finite with order G, and ρ(g·h) = ρ(g) ρ(h) for every g and every
    h among the first `CHECKED_ELEMENTS` elements (all pairs for orders up to that).
    """
    if not isinstance(group, AbstractFiniteGroup):
        return "matrices (a user representation) needs a finite group, one matrix per element"
    if table.order != group.order:
        return (
            f"matrices must hold one matrix per element: G = {group.order} for this group, "
            f"got {table.order}"
        )
    m = min(group.order, CHECKED_ELEMENTS)
    prod = _product_indices(group, m)
    a = table.array
    defect = np.stack([np.abs(a[prod[:, j]] - a @ a[j]).max(axis=(1, 2)) for j in range(m)], 1)
    i, j = np.unravel_index(int(np.argmax(defect)), defect.shape)
    if defect[i, j] > TOLERANCE:
        return (
            "matrices must be a representation, matrices[index(g·h)] = matrices[index(g)] @ "
            f"matrices[index(h)]; it fails for the elements of index {i} and {j} (off by "
            f"{defect[i, j]:.3g}); row i must be the matrix of elements()[i]"
        )
    return None


def matrix_of(table: MatrixTable, group: AbstractFiniteGroup, g: Any) -> jax.Array:
    """ρ(g): the row of `table` at `group.index(g)`."""
    return jnp.asarray(table.array)[group.index(g)]
