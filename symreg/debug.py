"""Debug mode for any function of symreg's kernels, penalty or train step: `checked(fn)`.

`checked(fn)` traces `fn` with symreg's debug checks enabled, functionalizes them with
`jax.experimental.checkify`, jits the result and raises `checkify.JaxRuntimeError` (a
`ValueError`) for the first failed check. The checks name what went non-finite: an example
of x or of f(x), a (sample, example), (element, example) or (generator, example) pair with its
group element, a loss, a penalty, a gradient leaf, and in a train step the step count.
Without `checked` no check is traced, so the plain hot path is unchanged.

How it works: while `checked` traces `fn`, the flag `symreg._debug.enabled()` is True, and
the code that `fn` calls emits `checkify.check`s at trace time (docs/architecture.md, "Debug
checks"). The limit that follows: JAX caches the trace of a function called through
`jax.jit` per Python function. If it was traced outside `checked`, `checked` reuses that
trace, without checks. If it was first traced inside `checked`, it keeps its checks, and a
later plain jitted call of the same function raises ("Cannot abstractly evaluate a
checkify.check which was not functionalized"). Pass `checked` the plain function and let
`checked` do the jitting.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
from jax.experimental import checkify

from symreg import _debug, _validation

__all__ = ["checked"]


def _is_traced(args: Any) -> bool:
    return any(isinstance(a, jax.core.Tracer) for a in jax.tree.leaves(args))


def checked(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with symreg's debug checks: compiled once, raises for the first failed check.

    Called on concrete arrays, the returned function traces `fn` with the checks enabled,
    under `checkify.checkify` and `jax.jit`, runs it and throws the first failed check.
    Called inside a caller's trace (the caller's own `jax.jit`), it traces `fn` with the
    checks enabled into that trace, which the caller then functionalizes:
    `err, out = jax.jit(checkify.checkify(caller))(...); err.throw()`.

    Args:
      fn: a function of arrays (pytrees), e.g. a closure over `symreg.equivariance_error`
        with its model and static arguments, or a train step.

    Returns:
      A function with the signature of `fn` and the same results.

    Raises:
      TypeError: `fn` is not callable. When called: `checkify.JaxRuntimeError` (a
        ValueError) naming the first non-finite value.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Regular
      >>> from symreg.debug import checked
      >>> sym = symreg.Symmetry(symreg.groups.Cyclic(2), Regular())
      >>> f = lambda p, x: jnp.log(x[:, 0])          # NaN for a negative first entry
      >>> measure = checked(lambda x: symreg.exact_equivariance_error(f, None, x, symmetry=sym))
      >>> measure(jnp.array([[1.0, 1.0]])).tolist()
      [[0.0], [0.0]]
      >>> measure(jnp.array([[1.0, -1.0]]))
      Traceback (most recent call last):
      ...
      jax._src.checkify.JaxRuntimeError: the equivariance error is not finite for the pair (element 1, example 0), group element 1 ...
    """
    _validation.check_callable(fn, "fn")

    def traced(*args, **kwargs):
        with _debug.enabling():
            return fn(*args, **kwargs)

    # checkify transforms the jaxpr of an inner jit: fn itself is traced by jit alone, which
    # flax.nnx needs (it refuses to mutate variables under checkify's own trace).
    compiled = jax.jit(checkify.checkify(jax.jit(traced)))

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if _is_traced((args, kwargs)):
            return traced(*args, **kwargs)
        err, out = compiled(*args, **kwargs)
        err.throw()
        return out

    return call
