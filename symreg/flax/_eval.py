"""An eval metric for training loops: the model's ED ± s.e. on a held-out batch (layer 7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from symreg import _validation
from symreg.actions import Symmetry
from symreg.equivariance import (
    Metric,
    equivariance_error,
    exact_equivariance_error,
    get_metric,
)
from symreg.estimators import Estimate
from symreg.groups import AbstractFiniteGroup


def _check_config(symmetry: Any, num_samples: Any) -> int | None:
    if not isinstance(symmetry, Symmetry):
        raise TypeError(
            f"symmetry must be a symreg.Symmetry(transforms, act_in, act_out), got {symmetry!r:.80}"
        )
    if num_samples is None and not isinstance(symmetry.transforms, AbstractFiniteGroup):
        raise ValueError(
            f"num_samples is None, which enumerates a finite group, but symmetry.transforms is "
            f"{symmetry.transforms!r}; pass num_samples to sample its elements"
        )
    return _validation.optional_positive_int(num_samples, "num_samples")


def per_example_errors(apply_fn, params, x, key, *, symmetry, num_samples, metric) -> jax.Array:
    """The mean error over group elements for each example, shape (B,): exact in g for a
    finite group (`num_samples` None), else over `num_samples` elements drawn from `key`."""
    if num_samples is None:
        errors = exact_equivariance_error(apply_fn, params, x, symmetry=symmetry, metric=metric)
    else:
        errors = equivariance_error(
            apply_fn, params, x, key, symmetry=symmetry, num_samples=num_samples, metric=metric
        )
    return jnp.mean(errors, axis=0)


def make_eval_metric(
    apply_fn: Callable[[Any, Any], Any],
    *,
    symmetry: Symmetry,
    num_samples: int | None = None,
    metric: str | Callable | Metric = "sq",
) -> Callable[[Any, Any, jax.Array | None], Estimate]:
    """A jitted `evaluate(params, x, key)` → the model's ED ± s.e. on a held-out batch.

    The value is the mean over the B examples of x and over group elements g of
    m(f(ρ_in(g) x_b), ρ_out(g) f(x_b)) (m = ‖·‖² by default: ED₂); the standard error is the
    spread of the B per-example means over √B (the examples are i.i.d.; for a sampled group
    it includes the Monte Carlo error of the S elements). For a finite group with
    `num_samples=None` every element is used and `key` is ignored (pass None).

    The structure (apply_fn, symmetry, num_samples, metric) is fixed here, and params, x and
    key are arrays, so calling `evaluate` every k steps of a training loop compiles once per
    shape of x: new parameters and new keys never recompile.

    Args:
      apply_fn: the model, `apply_fn(params, x)`: a linen `model.apply` with its variables as
        params, or the `NNXApply` of `symreg.flax.nnx_functional` with the module's state.
        It must be hashable with a stable hash (both are).
      symmetry: the `symreg.Symmetry`.
      num_samples: S elements per example, or None to enumerate a finite group.
      metric: as in `symreg.equivariance_error` (default "sq").

    Returns:
      `evaluate(params, x, key)` → `Estimate(value, stderr, method="model", n=B,
      metric=...)`, x a batch of B >= 2 examples.

    Raises:
      TypeError: `apply_fn` not callable, `symmetry` not a Symmetry.
      ValueError: `num_samples` None for a set that is not a finite group, or < 1; when
        called, a batch with fewer than 2 examples (no standard error) or, with
        `num_samples`, no key.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.flax import make_eval_metric, nnx_functional
      >>> from symreg.groups import Symmetric
      >>> model = nnx.Linear(3, 1, rngs=nnx.Rngs(0))
      >>> apply_fn, state = nnx_functional(model)
      >>> evaluate = make_eval_metric(apply_fn, symmetry=symreg.Symmetry(Symmetric(3), Permutation()))
      >>> x_val = jax.random.normal(jax.random.key(0), (32, 3))
      >>> est = evaluate(state, x_val, None)
      >>> est.method, est.n, bool(est.value > 0), bool(est.stderr > 0)
      ('model', 32, True, True)
    """
    _validation.check_callable(apply_fn, "apply_fn")
    num_samples = _check_config(symmetry, num_samples)
    metric = get_metric(metric)

    def estimate(params, x, key):
        per_example = per_example_errors(
            apply_fn, params, x, key, symmetry=symmetry, num_samples=num_samples, metric=metric
        )
        b = per_example.shape[0]
        stderr = jnp.std(per_example, ddof=1) / jnp.sqrt(b)
        return Estimate(jnp.mean(per_example), stderr, method="model", n=b, metric=metric.name)

    jitted = jax.jit(estimate)

    def evaluate(params: Any, x: Any, key: jax.Array | None = None) -> Estimate:
        b = _validation.batch_size(x, "x")
        if b < 2:
            raise ValueError(f"x must hold at least 2 examples for a standard error, got B = {b}")
        if num_samples is not None:
            if key is None:
                raise ValueError("key is required with num_samples: it draws the group elements")
            _validation.check_key(key)
        return jitted(params, x, None if num_samples is None else key)

    evaluate.jitted = jitted  # exposes `_cache_size()`, to check that nothing recompiles
    return evaluate
