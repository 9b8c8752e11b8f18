"""Data checks and flat layouts of (x, y) for the estimators (layer 4, private).

Estimators work on flat views: a batch pytree with leading axis N becomes an (N, D) array
(leaves flattened and concatenated); `Layout` is the static, hashable recipe to go back.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from symreg import _validation
from symreg.actions import Symmetry


@dataclasses.dataclass(frozen=True)
class Layout:
    """How one example's pytree maps to a flat vector of `size` entries (static, hashable)."""

    treedef: Any
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[np.dtype, ...]

    @classmethod
    def of_batch(cls, tree: Any) -> Layout:
        """The layout of one example of a batch (leaves without their leading axis)."""
        leaves, treedef = jax.tree.flatten(tree)
        shapes = tuple(tuple(a.shape[1:]) for a in leaves)
        return cls(treedef, shapes, tuple(np.dtype(a.dtype) for a in leaves))

    @property
    def size(self) -> int:
        return sum(math.prod(s) for s in self.shapes)

    def ravel(self, tree: Any) -> jax.Array:
        """A batch with leading axes L (any number) → array (*L, size), float32 or wider."""
        leaves = jax.tree.leaves(tree)
        lead = leaves[0].shape[: leaves[0].ndim - len(self.shapes[0])]
        dtype = jnp.result_type(jnp.float32, *leaves)
        return jnp.concatenate(
            [jnp.reshape(a, lead + (-1,)).astype(dtype) for a in leaves], axis=-1
        )

    def unravel(self, flat: jax.Array) -> Any:
        """An array (*L, size) → a batch pytree with leading axes L and this layout."""
        lead = flat.shape[:-1]
        sizes = [math.prod(s) for s in self.shapes]
        parts = jnp.split(flat, np.cumsum(sizes)[:-1].tolist(), axis=-1)
        leaves = [
            p.reshape(lead + s).astype(d)
            for p, s, d in zip(parts, self.shapes, self.dtypes, strict=True)
        ]
        return jax.tree.unflatten(self.treedef, leaves)


def _check_finite(tree: Any, name: str) -> None:
    for leaf_name, leaf in _validation.leaves_with_paths(tree, name):
        if isinstance(leaf, jax.core.Tracer):
            continue  # value checks only on concrete data
        bad = ~np.isfinite(np.asarray(leaf))
        if bad.any():
            first = np.argwhere(bad)[0].tolist()
            raise ValueError(f"{leaf_name} contains NaN or Inf (first at index {first})")


def _is_constant(tree: Any) -> bool:
    leaves = [np.asarray(a) for a in jax.tree.leaves(tree) if not isinstance(a, jax.core.Tracer)]
    return bool(leaves) and all(np.all(a == a[:1]) for a in leaves)


def _check_not_constant(x: Any, y: Any) -> None:
    if _is_constant(x):
        raise ValueError(
            "x is constant (every example equal): the data say nothing about f* away from "
            "that one input, so its transformed copies cannot be compared; pass varied inputs"
        )
    if _is_constant(y):
        raise ValueError(
            "y is constant (every example equal): there is no signal to estimate from; "
            "its data error is E_g ‖c − ρ_out(g) c‖² exactly (0 for invariant outputs)"
        )


def check_symmetry(symmetry: Any) -> Symmetry:
    """Raises `TypeError` unless `symmetry` is a `symreg.Symmetry`."""
    if not isinstance(symmetry, Symmetry):
        raise TypeError(
            f"symmetry must be a symreg.Symmetry(transforms, act_in, act_out), got {symmetry!r}"
        )
    return symmetry


def check_data(x: Any, y: Any, symmetry: Symmetry, *, min_n: int) -> int:
    """Validates a data set against the symmetry and returns its size N.

    Raises:
      TypeError: non-array or non-floating leaves.
      ValueError: mismatched N, N < `min_n`, NaN/Inf, constant x or y, shapes that do not fit
        the actions.
    """
    n_x = _validation.batch_size(x, "x")
    n_y = _validation.batch_size(y, "y")
    if n_x != n_y:
        raise ValueError(f"x and y must have the same number of examples N, got {n_x} and {n_y}")
    if n_x < min_n:
        raise ValueError(f"x has N = {n_x} examples; this method needs at least {min_n}")
    _validation.check_floating(_validation.example_struct(x), "x")
    _validation.check_floating(_validation.example_struct(y), "y")
    symmetry.check_input(_validation.example_struct(x), name="x (one example)")
    symmetry.check_output(_validation.example_struct(y), name="y (one example)")
    _check_finite(x, "x")
    _check_finite(y, "y")
    _check_not_constant(x, y)
    return n_x
