"""The symmetry penalty as an optax gradient transformation (weight in the state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from symreg import _checks, _validation
from symreg.regularizers._penalty import SymmetryPenalty, check_weight

_HINT = (
    "pass the batch and a fresh PRNG key as extra arguments: tx.update(grads, state, params, "
    "x=x, key=key) (optax.chain forwards them; with flax.nnx, optimizer.update(model, grads, "
    "x=x, key=key))"
)


class SymmetryPenaltyState(NamedTuple):
    """State of `add_symmetry_penalty`.

    Attributes:
      weight: β, a float32 scalar; replace it (`state._replace(weight=...)`) to change the
        weight without recompiling.
      penalty: the penalty P(θ) measured at the last update (0 before the first).

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.regularizers import SymmetryPenaltyState
      >>> state = SymmetryPenaltyState(jnp.float32(0.1), jnp.float32(0.0))
      >>> float(state._replace(weight=jnp.float32(2.0)).weight)
      2.0
    """

    weight: jax.Array
    penalty: jax.Array


def add_symmetry_penalty(
    apply_fn: Callable[[Any, Any], Any],
    *,
    penalty: SymmetryPenalty | None = None,
    weight: float | jax.Array,
    **removed: Any,
) -> optax.GradientTransformationExtraArgs:
    """An optax transformation that adds β·∇P(θ) to the updates (P = the `penalty` spec).

    Chain it before the optimizer, on the gradients of the task loss alone:
    `optax.chain(add_symmetry_penalty(...), optax.adam(lr))`; the result equals the optimizer
    applied to ∇(loss + β·P). The batch x and a fresh key arrive as extra arguments of
    `update`. The penalty runs its own forward pass on x (it cannot see the task loss's
    f(x)); `regularized_loss` shares that pass and is cheaper when you own the loss. β lives in
    the state, like `optax.inject_hyperparams`, so changing it never recompiles.

    Args:
      apply_fn: the model, `apply_fn(params, x)` on a batch; `params` are the parameters the
        optimizer sees.
      penalty: a `symreg.SymmetryPenalty` (required): the symmetry, samples, metric,
        sub-batch, method and chunking of the penalty.
      weight: the initial β >= 0.
      **removed: none; the former keywords (`symmetry=`, `num_samples=`, ...) raise a
        TypeError saying what to pass instead.

    Returns:
      A `GradientTransformationExtraArgs` whose `update(updates, state, params, *, x, key)`
      needs params, x (leading axis B) and key; its state is a `SymmetryPenaltyState`.

    Raises:
      TypeError: a bad `apply_fn` or `weight` type, `penalty` not a `SymmetryPenalty`, or a
        removed keyword.
      ValueError: a negative or non-finite `weight`; at update time, missing params, x or
        key (with a hint), or x that does not fit the symmetry.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> import symreg
      >>> from symreg.actions import Regular
      >>> from symreg.groups import Cyclic
      >>> penalty = symreg.SymmetryPenalty(symreg.Symmetry(Cyclic(2), Regular()))
      >>> apply = lambda w, x: x @ w
      >>> tx = symreg.add_symmetry_penalty(apply, penalty=penalty, weight=0.5)
      >>> w = jnp.array([2.0, 2.0])   # swap invariant: P(w) = 0 and ∇P(w) = 0
      >>> state = tx.init(w)
      >>> x = jnp.array([[1.0, 3.0]])
      >>> updates, state = tx.update(jnp.ones(2), state, w, x=x, key=jax.random.key(0))
      >>> updates.tolist(), float(state.penalty)
      ([1.0, 1.0], 0.0)
    """
    _validation.check_callable(apply_fn, "apply_fn")
    _checks.check_penalty(penalty, SymmetryPenalty, removed, "add_symmetry_penalty")
    check_weight(weight)

    def init(params):
        del params
        return SymmetryPenaltyState(jnp.asarray(weight, jnp.float32), jnp.zeros((), jnp.float32))

    def update(updates, state, params=None, *, x=None, key=None, **extra_args):
        del extra_args
        missing = [n for n, v in (("params", params), ("x", x)) if v is None]
        if key is None and penalty.method == "sampled":
            missing.append("key")
        if missing:
            raise ValueError(f"add_symmetry_penalty.update is missing {missing}; {_HINT}")
        value, grads = jax.value_and_grad(lambda p: penalty(apply_fn, p, x, key))(params)
        new = jax.tree.map(lambda u, g: u + (state.weight * g).astype(u.dtype), updates, grads)
        return new, SymmetryPenaltyState(state.weight, value.astype(jnp.float32))

    return optax.GradientTransformationExtraArgs(init, update)
