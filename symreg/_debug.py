"""Debug checks: opt-in runtime checks for non-finite values, built on `jax.experimental.checkify`.

`symreg.debug.checked(fn)` traces `fn` inside `enabling()`. While that trace runs,
`enabled()` is True, and the kernels' fronts, the penalty and the train step emit
`checkify.check`s that name what went non-finite: the first (sample, example) pair, or
(element, example) or (generator, example), with its group element, the example of a
non-finite input or output, a loss, a penalty, or a gradient leaf, and in the train step the
step count. Outside it `enabled()` is False and none of this code is traced: the hot path is
unchanged (docs/architecture.md, "Debug checks").

The contract for code that emits checks: `if _debug.enabled(): _debug.check_finite(...)`, at
trace time, with the helpers below.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import checkify

_STATE = threading.local()  # tracing is synchronous: the flag belongs to the tracing thread


def enabled() -> bool:
    """Whether the code being traced runs under `symreg.debug.checked` (emit checks then)."""
    return getattr(_STATE, "depth", 0) > 0


@contextlib.contextmanager
def enabling() -> Iterator[None]:
    """Makes `enabled()` True for the code traced inside the block (nests)."""
    _STATE.depth = getattr(_STATE, "depth", 0) + 1
    try:
        yield
    finally:
        _STATE.depth -= 1


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
