"""`assert_equivariant`: a library feature for users' own test suites (layer 3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from symreg import _validation
from symreg.equivariance import Metric, equivariance_error, exact_equivariance_error, l2
from symreg.groups import MAX_ENUMERATION, AbstractFiniteGroup

#: Default relative tolerance per dtype of the outputs: generous enough for deep float32
#: networks (rounding accumulates to ~1e-6 relative), far below any real symmetry break.
RTOL = {
    jnp.dtype(jnp.float16): 3e-2,
    jnp.dtype(jnp.bfloat16): 5e-2,
    jnp.dtype(jnp.float32): 1e-4,
    jnp.dtype(jnp.float64): 1e-9,
}


def _default_rtol(apply_fn, params, x) -> float:
    out = jax.eval_shape(apply_fn, params, x)
    dtypes = [jnp.dtype(a.dtype) for a in jax.tree.leaves(out)]
    floats = [d for d in dtypes if jnp.issubdtype(d, jnp.inexact)]
    return max((RTOL.get(d, 1e-4) for d in floats), default=1e-4)


#: Stands for an argument not given, to tell the two calling forms apart.
_MISSING: Any = object()
_FORMS = (
    "assert_equivariant takes the kernels' order (apply_fn, params, x, key, *, symmetry, ...) "
    "or the older (fn, x, key, *, symmetry, ...)"
)


def _kernel_form(apply_fn, params, x, key) -> tuple[Any, Any, Any, Any]:
    """(apply_fn, params, x, key) of either calling form; raises for neither."""
    if x is not _MISSING and key is not _MISSING:  # (apply_fn, params, x, key)
        _validation.check_callable(apply_fn, "apply_fn")
        return apply_fn, params, x, key
    if x is _MISSING and key is _MISSING:
        raise TypeError(f"{_FORMS}; got only two arguments, with no key")
    fn, x, key = apply_fn, params, (x if key is _MISSING else key)  # (fn, x, key)
    _validation.check_callable(fn, "fn")
    try:
        _validation.check_key(key)
    except TypeError as err:
        raise TypeError(
            f"{_FORMS}; with three arguments the third is the key of the older form, but {err}"
            ". For a model apply_fn(params, x), pass the key too"
        ) from None
    return _Wrapped(fn), None, x, key


def _compiled(fn):
    """`fn` compiled for one check. `assert_equivariant` reads concrete values (it is a host-side
    check, never traced), so it compiles its own kernel call: one XLA program instead of
    op-by-op dispatch of every transformed forward pass."""
    return jax.jit(fn)


def assert_equivariant(
    apply_fn: Callable[..., Any],
    params: Any,
    x: Any = _MISSING,
    key: jax.Array = _MISSING,
    *,
    symmetry: Any,
    num_samples: int = 64,
    rtol: float | None = None,
    atol: float = 0.0,
    exact: bool | None = None,
) -> None:
    """Asserts f(ρ_in(g) x) ≈ ρ_out(g) f(x) for many elements g and every example in x.

    A pair (g, x_b) passes when ‖f(ρ_in(g)x_b) − ρ_out(g)f(x_b)‖ ≤ rtol · max(s_b, s) + atol,
    with s_b = ½(‖f(ρ_in(g)x_b)‖ + ‖ρ_out(g)f(x_b)‖) the pair's own output scale and s the
    batch's RMS output norm: an output near 0 that is a sum of large cancelling terms is judged
    on the batch's scale, and a model whose outputs are all tiny is still judged on its own
    (pass `atol` for a model whose outputs are exactly 0 up to rounding). Any NaN or infinite
    output fails. For finite groups of moderate order it enumerates every element; otherwise
    it draws `num_samples` elements, each shared by the batch.

    The arguments come in the kernels' order, `(apply_fn, params, x, key, *, symmetry)` with
    f(x) = apply_fn(params, x), as in `symreg.equivariance_error`. The older form
    `(fn, x, key, *, symmetry)` with f = fn still works: three arguments (or two and
    `key=`) are read that way.

    Args:
      apply_fn: the model under test, `apply_fn(params, x)` on a batch (leading axis B).
      params: its parameters (any pytree, or None).
      x: a batch of inputs (array or pytree).
      key: PRNG key for the sampled elements.
      symmetry: the `Symmetry` to test.
      num_samples: elements per example when sampling (default 64).
      rtol: tolerance relative to the output scale; default by output dtype (float32: 1e-4,
        float64: 1e-9), see `RTOL`.
      atol: absolute tolerance (default 0).
      exact: enumerate a finite group (default: when its order is at most 4096).

    Raises:
      AssertionError: with the mean and max relative error, the worst example and element.
      TypeError: neither calling form (e.g. no key), or a bad argument as below.
      TypeError, ValueError: bad arguments, as in `equivariance_error`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.groups import Symmetric
      >>> sym = symreg.Symmetry(Symmetric(4), Permutation())
      >>> x = jax.random.normal(jax.random.key(0), (8, 4))
      >>> w = jnp.float32(2.0)
      >>> deepsets = lambda w, x: w * x.sum(-1)
      >>> symreg.testing.assert_equivariant(deepsets, w, x, jax.random.key(1), symmetry=sym)
      >>> first = lambda w, x: w * x[:, 0]
      >>> symreg.testing.assert_equivariant(first, w, x, jax.random.key(1), symmetry=sym)
      Traceback (most recent call last):
      ...
      AssertionError: not equivariant under Symmetric(n=4): ...

      The older form, a function of x alone:

      >>> symreg.testing.assert_equivariant(lambda x: x.sum(-1), x, jax.random.key(1), symmetry=sym)
    """
    apply_fn, params, x, key = _kernel_form(apply_fn, params, x, key)
    _validation.check_key(key)
    num_samples = _validation.positive_int(num_samples, "num_samples")
    if rtol is None:
        rtol = _default_rtol(apply_fn, params, x)
    else:
        rtol = _validation.positive_float(rtol, "rtol")
    atol = _validation.positive_float(atol, "atol", allow_zero=True)
    t = symmetry.transforms if hasattr(symmetry, "transforms") else None
    if exact is None:
        exact = isinstance(t, AbstractFiniteGroup) and t.order <= 4096
    if exact and isinstance(t, AbstractFiniteGroup) and t.order <= MAX_ENUMERATION:
        errors = lambda metric: _compiled(
            lambda p, xx: exact_equivariance_error(
                apply_fn, p, xx, symmetry=symmetry, metric=metric
            )
        )(params, x)
        elements = jax.jit(t.elements)  # made only to report a failure
    else:
        errors = lambda metric: _compiled(
            lambda p, xx, k: equivariance_error(
                apply_fn, p, xx, k, symmetry=symmetry, num_samples=num_samples, metric=metric,
                share_elements=True,
            )
        )(params, x, key)  # fmt: skip
        elements = jax.jit(lambda: symmetry.transforms.sample(key, (num_samples,)))
    err = np.asarray(errors(_METRIC))
    if np.all(err <= rtol):  # the fast path; NaN fails it
        return
    absolute = np.asarray(errors("l2"))
    on_batch_scale = np.maximum(absolute - atol, 0.0) / _batch_scale(apply_fn, params, x)
    if not np.all((err <= rtol) | (on_batch_scale <= rtol)):
        _fail(np.minimum(err, on_batch_scale), elements(), symmetry, rtol)


def _batch_scale(apply_fn, params, x) -> float:
    """The RMS over the batch of ‖f(x_b)‖ (all output leaves), or 1 if it is 0."""
    out = jax.jit(apply_fn)(params, x)
    sq = sum(
        np.sum(np.square(np.asarray(a, np.float64)).reshape(a.shape[0], -1), 1)
        for a in jax.tree.leaves(out)
    )
    scale = float(np.sqrt(np.mean(sq)))
    return scale if scale > 0 else 1.0


def _relative_or_nan(a: Any, b: Any) -> jax.Array:
    """‖a − b‖ / (½(‖a‖ + ‖b‖)) with no floor (0 when a = b = 0, inf when only the scale is 0);
    NaN when an output is NaN or infinite, so that it always fails."""
    leaves = jax.tree.leaves((a, b))
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in leaves]))
    diff = l2(a, b)
    scale = 0.5 * (l2(a, jax.tree.map(jnp.zeros_like, a)) + l2(b, jax.tree.map(jnp.zeros_like, b)))
    ratio = jnp.where(
        scale > 0, diff / jnp.where(scale > 0, scale, 1.0), jnp.where(diff > 0, jnp.inf, 0.0)
    )
    return jnp.where(finite, ratio, jnp.nan)


_METRIC = Metric("relative_to_own_scale", _relative_or_nan)


def _fail(err, elements, symmetry, rtol):
    bad, nonfinite = ~(err <= rtol), ~np.isfinite(err)
    s, b = np.unravel_index(np.argmax(np.where(nonfinite, np.inf, err)), err.shape)
    worst = jax.tree.map(lambda a: _readable(np.asarray(a[s])), elements)
    finite = err[~nonfinite]
    mean, top = (finite.mean(), finite.max()) if finite.size else (np.nan, np.nan)
    note = f" ({int(nonfinite.sum())} non-finite: NaN or inf outputs)" if nonfinite.any() else ""
    raise AssertionError(
        f"not equivariant under {symmetry.transforms!r}: error / output scale mean {mean:.3g}, "
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
