"""Debug mode: opt-in runtime checks for non-finite values, built on `jax.experimental.checkify`.

With `debug=True` (a static argument) the kernels, the penalty and the train step add
`checkify.check`s that name what went non-finite: the first (sample, example) pair, or
(element, example) or (generator, example), with its group element, the example of a
non-finite input or output, a loss, a penalty, or a gradient leaf, and in the train step the
step count. With `debug=False` (the default) none of this code is traced: the hot path is
unchanged.

Checks are emitted into the computation being traced. A public entry point called on concrete
arrays functionalizes its own checks (`run_checked`: a jitted `checkify.checkify` of the
computation, then `Error.throw()`), so the first failed check raises
`checkify.JaxRuntimeError`, a `ValueError`. Called inside a caller's own `jax.jit`, the checks
join the caller's trace, which must then be functionalized by the caller:
`err, out = jax.jit(checkify.checkify(fn))(...); err.throw()`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import checkify


def check_flag(debug: Any) -> bool:
    """Returns `debug` if it is a Python bool, else raises `TypeError` (it is static)."""
    if not isinstance(debug, bool):
        raise TypeError(
            f"debug must be a Python bool (a static argument), got {debug!r} of type "
            f"{type(debug).__name__}"
        )
    return debug


def _escape(text: str) -> str:
    """`text` with braces doubled, so that checkify's `str.format` keeps them."""
    return text.replace("{", "{{").replace("}", "}}")


def _prefix(step: Any) -> tuple[str, dict[str, Any]]:
    return ("", {}) if step is None else ("step {step}: ", {"step": step})


def _leaf_items(tree: Any, name: str) -> list[tuple[str, jax.Array]]:
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(name + jax.tree_util.keystr(path), jnp.asarray(leaf)) for path, leaf in flat]


def _bad(leaf: jax.Array) -> jax.Array:
    """Non-finite entries (False for non-floating leaves, which cannot be NaN)."""
    if not jnp.issubdtype(leaf.dtype, jnp.inexact):
        return jnp.zeros(leaf.shape, bool)
    return ~jnp.isfinite(leaf)


def check_finite(tree: Any, what: str, *, step: Any = None) -> None:
    """Checks that every leaf of `tree` is finite; the message names the first bad leaf.

    Args:
      tree: a pytree of arrays (a loss, a penalty, gradients).
      what: how the tree is called in the message, e.g. "the gradient of params".
      step: the training step (an int array) named in the message, or None.
    """
    head, kwargs = _prefix(step)
    for leaf_name, leaf in _leaf_items(tree, what):
        bad = _bad(leaf)
        checkify.check(~jnp.any(bad), head + f"{_escape(leaf_name)} is not finite", **kwargs)


def check_finite_examples(tree: Any, what: str, *, step: Any = None) -> None:
    """Checks a batch (leading axis B) leaf by leaf; the message names the first bad example.

    Args:
      tree: a pytree of arrays with leading axis B.
      what: how the batch is called in the message.
      step: the training step named in the message, or None.
    """
    head, kwargs = _prefix(step)
    for leaf_name, leaf in _leaf_items(tree, what):
        bad = _bad(leaf).reshape(leaf.shape[0], -1).any(axis=1)
        checkify.check(
            ~jnp.any(bad),
            head + f"{_escape(leaf_name)} is not finite at example {{b}}",
            b=jnp.argmax(bad),
            **kwargs,
        )


def check_pairs(
    errors: jax.Array,
    elements: Any,
    *,
    shared: bool,
    what: str,
    label: str = "sample",
    step: Any = None,
) -> None:
    """Checks per-pair errors (R, B); the message names the first bad pair and its element.

    Pairs are searched row-major (row r, then example b). The element of pair (r, b) is
    `elements[r]` if `shared`, else `elements[r, b]`; with `elements=None` only the indices
    are named (Lie derivatives: a row is a generator).

    Args:
      errors: per-pair errors, shape (R, B).
      elements: group elements with leading axes (R,) if `shared` else (R, B), or None.
      shared: whether one element per row serves the whole batch.
      what: how the errors are called in the message.
      label: what a row is ("sample", "element", "generator").
      step: the training step named in the message, or None.
    """
    head, kwargs = _prefix(step)
    bad = _bad(errors)
    flat = jnp.argmax(bad.reshape(-1))
    r, b = flat // errors.shape[1], flat % errors.shape[1]
    msg = head + f"{_escape(what)} is not finite for the pair ({label} {{r}}, example {{b}})"
    if elements is not None:
        picked = jax.tree.leaves(jax.tree.map(lambda a: a[r] if shared else a[r, b], elements))
        kwargs |= {f"g{i}": leaf for i, leaf in enumerate(picked)}
        shown = ", ".join(f"{{g{i}}}" for i in range(len(picked)))
        msg += f", group element {shown if len(picked) == 1 else '(' + shown + ')'}"
    checkify.check(~jnp.any(bad), msg, r=r, b=b, **kwargs)


def _is_traced(args: Any) -> bool:
    return any(isinstance(a, jax.core.Tracer) for a in jax.tree.leaves(args))


@dataclasses.dataclass(frozen=True)
class Bound:
    """`fn(static_first, *args, **static)`: a hashable closure over static arguments.

    Equal bindings compare and hash equal, so `run_checked` compiles each once.
    """

    fn: Callable
    first: Any
    static: tuple[tuple[str, Any], ...]

    def __call__(self, *args):
        return self.fn(self.first, *args, **dict(self.static))


@functools.lru_cache(maxsize=64)
def _checked_jit(fn: Callable) -> Callable:
    return jax.jit(checkify.checkify(fn))


def checked(fn: Callable) -> Callable:
    """`fn` that functionalizes its own checks when called on concrete arrays.

    Like `run_checked` for a function made once (a train step): it is jitted under
    `checkify.checkify` when the wrapper is built, and under a caller's trace `fn` runs as is.

    Args:
      fn: a function of arrays (pytrees) that may call `checkify.check`.

    Returns:
      A function with the signature of `fn` that raises `checkify.JaxRuntimeError` (a
      ValueError) for the first failed check.
    """
    # checkify transforms the jaxpr of an inner jit: fn itself is traced by jit alone, which
    # flax.nnx needs (it refuses to mutate variables under checkify's own trace).
    jitted = jax.jit(checkify.checkify(jax.jit(fn)))

    @functools.wraps(fn)
    def call(*args):
        if _is_traced(args):
            return fn(*args)
        err, out = jitted(*args)
        err.throw()
        return out

    return call


def run_checked(fn: Callable, *args: Any) -> Any:
    """`fn(*args)` with its checks: raises `checkify.JaxRuntimeError` (a ValueError) on failure.

    On concrete arrays the computation is jitted under `checkify.checkify` (compiled once per
    hashable `fn`) and the first failed check is thrown. Under a caller's trace, `fn` runs
    directly and its checks join that trace (the caller functionalizes them).

    Args:
      fn: a function of arrays (pytrees); bind static arguments with `Bound`.
      *args: its array arguments.

    Returns:
      `fn(*args)`.
    """
    if _is_traced(args):
        return fn(*args)
    try:
        checked = _checked_jit(fn)
    except TypeError:  # an unhashable fn: compile for this call only
        checked = jax.jit(checkify.checkify(fn))
    err, out = checked(*args)
    err.throw()
    return out
