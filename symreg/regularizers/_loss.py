"""A task loss plus β times the symmetry penalty, sharing the forward pass on the clean batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from symreg import _checks, _debug, _validation
from symreg.regularizers._penalty import SymmetryPenalty, check_weight


def regularized_loss(
    loss_fn: Callable[[Any, Any], jax.Array],
    apply_fn: Callable[[Any, Any], Any],
    *,
    penalty: SymmetryPenalty | None = None,
    **removed: Any,
) -> Callable[..., tuple[jax.Array, dict[str, jax.Array]]]:
    """Builds L(θ) = loss(f_θ(x), y) + β·P(θ), with P the symmetry penalty.

    P is the `penalty` spec (an unbiased estimate of ED_2(f_θ) with the default metric),
    computed from the same f(x) as the task loss: one forward pass on the clean batch per
    call, plus one batched pass on the S·B' transformed inputs (method "sampled"), or one
    jvp whose primal is that clean forward (method "lie" without a sub-batch). β is an
    array argument, so changing it never recompiles a jitted step. Under
    `symreg.debug.checked`, the objective also checks that the task loss and the total are
    finite (the penalty checks its own values).

    Args:
      loss_fn: `loss_fn(predictions, y)` → scalar task loss.
      apply_fn: the model, `apply_fn(params, x)` on a batch.
      penalty: a `symreg.SymmetryPenalty` (required): the symmetry, samples, metric,
        sub-batch, method and chunking of the penalty.
      **removed: none; the former keywords (`symmetry=`, `num_samples=`, ..., `debug=`)
        raise a TypeError saying what to pass instead.

    Returns:
      A function `objective(params, x, y, key, weight)` → `(total, aux)`: x has leading axis
      B, key is a PRNG key for the group samples, weight is β (a scalar array), total is a
      scalar, aux = {"task_loss": scalar, "equivariance_error": scalar} (the penalty P),
      named as in the metrics of `symreg.flax.make_train_step` (whose "loss" is the total).
      Use it with `jax.value_and_grad(objective, has_aux=True)`.

    Raises:
      TypeError: `loss_fn` or `apply_fn` is not callable, `penalty` is not a
        `SymmetryPenalty`, or a removed keyword is given.
      ValueError: when called, a `weight` that is not a scalar, or a negative or non-finite
        number; x or the outputs that do not fit the symmetry.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Regular
      >>> from symreg.groups import Cyclic
      >>> penalty = symreg.SymmetryPenalty(symreg.Symmetry(Cyclic(4), Regular()))
      >>> apply = lambda w, x: x @ w          # invariant iff all entries of w are equal
      >>> mse = lambda p, y: jnp.mean((p - y) ** 2)
      >>> objective = symreg.regularized_loss(mse, apply, penalty=penalty)
      >>> x, y = jnp.ones((8, 4)), jnp.full((8,), 4.0)
      >>> total, aux = objective(jnp.ones(4), x, y, jax.random.key(0), 1.0)
      >>> float(total), float(aux["equivariance_error"])
      (0.0, 0.0)
    """
    _validation.check_callable(loss_fn, "loss_fn")
    _validation.check_callable(apply_fn, "apply_fn")
    _checks.check_penalty(penalty, SymmetryPenalty, removed, "regularized_loss")

    def objective(params, x, y, key, weight):
        check_weight(weight)
        fx, value = penalty.with_outputs(apply_fn, params, x, key)
        task = jnp.asarray(loss_fn(fx, y))
        if task.shape != ():
            raise ValueError(f"loss_fn must return a scalar, got shape {task.shape}")
        total = task + jnp.asarray(weight, task.dtype) * value
        if _debug.enabled():
            _debug.check_finite(task, "the task loss loss_fn(f(x), y)")
            _debug.check_finite(total, "the loss (task loss + weight * penalty)")
        return total, {"task_loss": task, "equivariance_error": value}

    return objective
