"""Argument checks shared by every layer (layer 0: imports nothing from symreg).

All checks run at trace time on static structure (shapes, dtypes, Python values) and raise
`ValueError` or `TypeError` naming the argument and what was expected.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def positive_int(value: Any, name: str) -> int:
    """Returns `value` as an int, or raises if it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{name} must be a positive int, got {value!r} of type {type(value).__name__}"
        )
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def optional_positive_int(value: Any, name: str) -> int | None:
    """Like `positive_int`, but `None` passes through."""
    return None if value is None else positive_int(value, name)


def positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Returns `value` as a float, or raises if it is not a finite number > 0 (>= 0 if allowed).

    A concrete scalar array (NumPy or JAX, shape ()) counts as a number; a traced one does not.
    """
    if _is_concrete_scalar(value):
        value = np.asarray(value).item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
    return value


def _is_concrete_scalar(value: Any) -> bool:
    """A 0-d, real, non-boolean NumPy or concrete JAX array."""
    if not isinstance(value, (np.ndarray, np.generic, jax.Array)) or isinstance(
        value, jax.core.Tracer
    ):
        return False
    dtype = (
        np.dtype(value.dtype)
        if not jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key)
        else None
    )
    return dtype is not None and np.shape(value) == () and dtype.kind in "iuf"


def shape_tuple(shape: Any, name: str = "shape") -> tuple[int, ...]:
    """Normalizes an int or a sequence of non-negative ints to a tuple."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, Sequence):
        raise TypeError(f"{name} must be an int or a tuple of ints, got {shape!r}")
    out = []
    for s in shape:
        try:
            s = operator.index(s)
        except TypeError:
            raise TypeError(f"{name} must contain ints, got {shape!r}") from None
        if s < 0:
            raise ValueError(f"{name} must contain non-negative ints, got {shape!r}")
        out.append(s)
    return tuple(out)


def float64_values(value: Any, name: str, what: str = "a number or an array of numbers"):
    """`value` as a float64 NumPy array, or None when it is traced (not inspectable).

    Raises:
      TypeError: `value` is not convertible to real numbers.
    """
    if isinstance(value, jax.core.Tracer):
        return None
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}") from None


def is_concrete(leaf: Any) -> bool:
    """True for a number or an array whose values can be read (not a tracer, not a placeholder)."""
    if isinstance(leaf, jax.core.Tracer):
        return False
    return isinstance(leaf, (int, float, np.ndarray, np.generic, jax.Array))


def check_concrete_number(
    value: Any,
    name: str,
    *,
    allow_inf: bool,
    lower: float | None,
    allow_lower: bool = True,
    note: str = "",
) -> None:
    """Raises if a concrete `value` is NaN, infinite (+inf if `allow_inf`) or below `lower`.

    Traced values pass unchecked (a debug mode catches them).

    Raises:
      TypeError: `value` is not a number or an array of numbers.
      ValueError: NaN, a disallowed infinity, or a value below (or equal to, if not
        `allow_lower`) `lower`; `note` is appended to the message.
    """
    a = float64_values(value, name, "a number or an array")
    if a is None:
        return
    if np.isnan(a).any() or (not allow_inf and np.isinf(a).any()) or (a == -np.inf).any():
        extra = " or +inf" if allow_inf else ""
        raise ValueError(f"{name} must be a finite number{extra}, got {value!r}{note}")
    if lower is not None and ((a < lower).any() or (not allow_lower and (a == lower).any())):
        bound = ">=" if allow_lower else ">"
        raise ValueError(f"{name} must be {bound} {lower:g}, got {value!r}{note}")


def check_callable(fn: Any, name: str) -> None:
    """Raises `TypeError` if `fn` is not callable."""
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {fn!r} of type {type(fn).__name__}")


def check_key(key: Any, name: str = "key") -> None:
    """Raises `TypeError` unless `key` is a JAX PRNG key (typed or raw uint32[2])."""
    if isinstance(key, jax.Array) or isinstance(key, jax.core.Tracer):
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            return
        if key.dtype == jnp.uint32 and key.shape == (2,):
            return
    raise TypeError(
        f"{name} must be a JAX PRNG key from jax.random.key(seed), got "
        f"{type(key).__name__} {getattr(key, 'dtype', '')}{list(getattr(key, 'shape', []))}"
    )


def leaves_with_paths(tree: Any, name: str) -> list[tuple[str, Any]]:
    """Flattens a pytree of arrays, naming each leaf `name[...]`; rejects empty trees."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    if not flat:
        raise ValueError(f"{name} must contain at least one array, got an empty pytree {tree!r}")
    return [(name + jax.tree_util.keystr(path), leaf) for path, leaf in flat]


def batch_size(tree: Any, name: str) -> int:
    """Returns the common leading (batch) size B of a pytree of arrays.

    Raises:
      TypeError: a leaf is not an array.
      ValueError: a leaf has rank 0, the leading sizes differ, or B == 0.
    """
    sizes = {}
    for leaf_name, leaf in leaves_with_paths(tree, name):
        if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
            raise TypeError(f"{leaf_name} must be an array, got {type(leaf).__name__}")
        if leaf.ndim == 0:
            raise ValueError(f"{leaf_name} must have a leading batch axis B, got a scalar")
        sizes[leaf_name] = leaf.shape[0]
    if len(set(sizes.values())) != 1:
        raise ValueError(f"{name} leaves must share the batch size B, got {sizes}")
    b = next(iter(sizes.values()))
    if b == 0:
        raise ValueError(f"{name} has an empty batch (B = 0); pass at least one example")
    return b


def example_struct(tree: Any) -> Any:
    """The shapes and dtypes of one example: each leaf without its leading axis."""
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype), tree)


def check_floating(struct: Any, name: str) -> None:
    """Raises `TypeError` if a leaf of `struct` has a non-floating dtype."""
    for leaf_name, leaf in leaves_with_paths(struct, name):
        if not jnp.issubdtype(leaf.dtype, jnp.inexact):
            raise TypeError(f"{leaf_name} must have a floating dtype, got {leaf.dtype}")


def float_dtype() -> jnp.dtype:
    """The default floating dtype now: float64 under `jax.enable_x64`, else float32."""
    return jnp.dtype(jax.dtypes.canonicalize_dtype(jnp.float64))
