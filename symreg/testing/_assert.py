"""`assert_equivariant`: a library feature for users' own test suites (layer 3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from symreg import _validation
from symreg.equivariance import Metric, equivariance_error, exact_equivariance_error, relative
from symreg.groups import MAX_ENUMERATION, AbstractFiniteGroup

#: Default relative tolerance per dtype of the outputs: generous enough for deep float32
#: networks (rounding accumulates to ~1e-6 relative), far below any real symmetry break.
RTOL = {
    jnp.dtype(jnp.float16): 3e-2,
    jnp.dtype(jnp.bfloat16): 5e-2,
    jnp.dtype(jnp.float32): 1e-4,
    jnp.dtype(jnp.float64): 1e-9,
}


def _default_rtol(fn, x) -> float:
    out = jax.eval_shape(fn, x)
    dtypes = [jnp.dtype(a.dtype) for a in jax.tree.leaves(out)]
    floats = [d for d in dtypes if jnp.issubdtype(d, jnp.inexact)]
    return max((RTOL.get(d, 1e-4) for d in floats), default=1e-4)


def assert_equivariant(
    fn: Callable[[Any], Any],
    x: Any,
    key: jax.Array,
    *,
    symmetry: Any,
    num_samples: int = 64,
    rtol: float | None = None,
    exact: bool | None = None,
) -> None:
    """Asserts f(ρ_in(g) x) ≈ ρ_out(g) f(x) for many elements g and every example in x.

    The check uses the scale-adjusted relative metric (not fooled by outputs near 0) and
    fails when any (element, example) pair exceeds `rtol` or any output is NaN or infinite.
    For finite groups of moderate order it enumerates every element; otherwise it draws
    `num_samples` elements per example.

    Args:
      fn: the function under test, `fn(x)` on a batch (leading axis B).
      x: a batch of inputs (array or pytree).
      key: PRNG key for the sampled elements.
      symmetry: the `Symmetry` to test.
      num_samples: elements per example when sampling (default 64).
      rtol: tolerance on the relative error; default by output dtype (float32: 1e-4,
        float64: 1e-9), see `RTOL`.
      exact: enumerate a finite group (default: when its order is at most 4096).

    Raises:
      AssertionError: with the mean and max relative error, the worst example and element.
      TypeError, ValueError: bad arguments, as in `equivariance_error`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.groups import Symmetric
      >>> sym = symreg.Symmetry(Symmetric(4), Permutation())
      >>> x = jax.random.normal(jax.random.key(0), (8, 4))
      >>> symreg.testing.assert_equivariant(lambda x: x.sum(-1), x, jax.random.key(1), symmetry=sym)
      >>> symreg.testing.assert_equivariant(lambda x: x[:, 0], x, jax.random.key(1), symmetry=sym)
      Traceback (most recent call last):
      ...
      AssertionError: not equivariant under Symmetric(n=4): ...
    """
    _validation.check_callable(fn, "fn")
    num_samples = _validation.positive_int(num_samples, "num_samples")
    rtol = _default_rtol(fn, x) if rtol is None else _validation.positive_float(rtol, "rtol")
    apply_fn = _Wrapped(fn)
    t = symmetry.transforms if hasattr(symmetry, "transforms") else None
    if exact is None:
        exact = isinstance(t, AbstractFiniteGroup) and t.order <= 4096
    if exact and isinstance(t, AbstractFiniteGroup) and t.order <= MAX_ENUMERATION:
        err = exact_equivariance_error(apply_fn, None, x, symmetry=symmetry, metric=_METRIC)
        elements = jax.jit(t.elements)  # made only to report a failure
    else:
        _validation.check_key(key)
        err = equivariance_error(
            apply_fn,
            None,
            x,
            key,
            symmetry=symmetry,
            num_samples=num_samples,
            metric=_METRIC,
            share_elements=True,
        )
        elements = jax.jit(lambda: symmetry.transforms.sample(key, (num_samples,)))
    err = np.asarray(err)
    if not np.all(err <= rtol):  # also catches NaN
        _fail(err, elements(), symmetry, rtol)


def _relative_or_nan(a: Any, b: Any) -> jax.Array:
    """The `relative` metric, but NaN when an output is NaN or infinite (so it always fails)."""
    leaves = jax.tree.leaves((a, b))
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in leaves]))
    return jnp.where(finite, relative(a, b), jnp.nan)


_METRIC = Metric("relative", _relative_or_nan)


def _fail(err, elements, symmetry, rtol):
    bad, nonfinite = ~(err <= rtol), ~np.isfinite(err)
    s, b = np.unravel_index(np.argmax(np.where(nonfinite, np.inf, err)), err.shape)
    worst = jax.tree.map(lambda a: _readable(np.asarray(a[s])), elements)
    finite = err[~nonfinite]
    mean, top = (finite.mean(), finite.max()) if finite.size else (np.nan, np.nan)
    note = f" ({int(nonfinite.sum())} non-finite: NaN or inf outputs)" if nonfinite.any() else ""
    raise AssertionError(
        f"not equivariant under {symmetry.transforms!r}: relative error mean {mean:.3g}, "
        f"max {top:.3g} > rtol {rtol:.1g} on {int(bad.sum())} of {err.size} (element, example) "
        f"pairs{note}; worst: example {b}, element {worst}"
    )


def _readable(a: np.ndarray) -> Any:
    """An element as a short nested list: floats rounded to 4 decimals, integers as they are."""
    return (a.astype(np.float64).round(4) if np.issubdtype(a.dtype, np.floating) else a).tolist()


class _Wrapped:
    """Adapts fn(x) to the kernels' apply_fn(params, x); hashable by the wrapped function."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, params, x):
        return self.fn(x)

    def __hash__(self):
        return hash(self.fn)

    def __eq__(self, other):
        return isinstance(other, _Wrapped) and other.fn is self.fn
