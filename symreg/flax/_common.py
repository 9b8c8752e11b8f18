"""Pieces shared by the linen and NNX train steps: keys, controllers, metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from symreg import _debug
from symreg.tuning import DualAscentState, WeightController, constant_weight


class StepKeys(NamedTuple):
    """The keys of one step, from `jax.random.split(state.key, 4)` in this order.

    Attributes:
      next: the state's key for the next step.
      forward: randomness of the clean forward pass (linen: the `rngs` of `apply`).
      penalty: randomness of the forward passes on transformed inputs (dropout masks).
      group: the group samples of the penalty.

    Examples:
      >>> import jax
      >>> from symreg.flax import step_keys
      >>> keys = step_keys(jax.random.key(0))
      >>> keys._fields
      ('next', 'forward', 'penalty', 'group')
    """

    next: jax.Array
    forward: jax.Array
    penalty: jax.Array
    group: jax.Array


def step_keys(key: jax.Array) -> StepKeys:
    """Splits a state's key into the keys of one step (see `StepKeys`).

    Examples:
      >>> import jax
      >>> from symreg.flax import step_keys
      >>> keys = step_keys(jax.random.key(0))
      >>> keys._fields
      ('next', 'forward', 'penalty', 'group')
    """
    return StepKeys(*jax.random.split(key, 4))


class Bound(NamedTuple):
    """One framework's model and state, bound for one step of the flat train step.

    The flat step (`symreg.flax.make_train_step`; docs/architecture.md, One train step) owns
    the objective; a framework supplies only these (linen: `_linen.Linen`, NNX: `_nnx.NNX`).

    Attributes:
      params: the differentiated leaves.
      clean: `clean(params, x)` → (f(x), kept): the clean forward pass, a plain training
        forward, and the model-state updates it keeps (batch statistics).
      transformed: `transformed(params, x, kept)` → outputs on transformed inputs, with the
        penalty's randomness; `kept` is the clean pass's, or None when the penalty runs alone.
      count: the count that `penalty_every` divides.
      step: the step named in debug messages.
      update: `update(grads, kept, key, tuner_state)` → the new state.
      new_params: `new_params(new_state)` → the updated parameters (debug checks).
    """

    params: Any
    clean: Callable[[Any, Any], tuple[Any, Any]]
    transformed: Callable[[Any, Any, Any], Any]
    count: jax.Array
    step: jax.Array
    update: Callable[[Any, Any, jax.Array, DualAscentState], Any]
    new_params: Callable[[Any], Any]


def stream_keys(key: jax.Array, names: tuple[str, ...]) -> dict[str, jax.Array]:
    """One key per named RNG stream: {name_i: fold_in(key, i)}."""
    return {name: jax.random.fold_in(key, i) for i, name in enumerate(names)}


#: The controller of every number given as a tuner: it only counts steps, and the number is
#: the weight in its state. One shared object, so that states with different constant weights
#: share one compiled step (the controller is a static field of a train state).
FIXED = constant_weight(0.0)


def as_controller(tuner: Any) -> tuple[WeightController, DualAscentState]:
    """(controller, its initial state) for a `WeightController` or a constant weight β >= 0.

    A number (or a concrete scalar array, e.g. a rule's β̂) or a `constant_weight(β)` gives the
    shared `FIXED` controller with β in its state: a state made with another β runs the same
    compiled step.
    """
    if isinstance(tuner, WeightController):
        if tuner.update is FIXED.update:  # a constant_weight(β): β lives in the state
            return FIXED, tuner.init()
        return tuner, tuner.init()
    number = isinstance(tuner, (int, float)) and not isinstance(tuner, bool)
    if number or (isinstance(tuner, (jax.Array, np.ndarray)) and np.shape(tuner) == ()):
        init = constant_weight(tuner).init()  # validates β >= 0 and finite
        return FIXED, init
    raise TypeError(
        "tuner must be a symreg.tuning.WeightController (e.g. dual_ascent(...)) or a number "
        f"(a constant weight), got {tuner!r} of type {type(tuner).__name__}"
    )


def check_optimizer(tx: Any) -> None:
    """Raises `TypeError` unless `tx` looks like an optax `GradientTransformation`."""
    if not (callable(getattr(tx, "init", None)) and callable(getattr(tx, "update", None))):
        raise TypeError(
            "tx must be an optax GradientTransformation (e.g. optax.adam(1e-3)), got "
            f"{tx!r} of type {type(tx).__name__}"
        )


def metrics(total, task, penalty, tuner_state: DualAscentState, on=True) -> dict[str, jax.Array]:
    """The metrics of a step: losses, the penalty estimate (NaN on steps without the penalty),
    and the weight and target used.

    The names are shared with the aux of `symreg.regularized_loss` ("task_loss",
    "equivariance_error"). "target" is always present, so that vmapped runs mixing constant
    weights and dual-ascent targets have one structure: it is NaN when the controller has no
    target (`constant_weight`, or a number given as the tuner).
    """
    return {
        "loss": total,
        "task_loss": task,
        "equivariance_error": jnp.where(on, penalty, jnp.nan),
        "weight": tuner_state.weight,
        "target": tuner_state.target,
    }


def combine(task: jax.Array, penalty: jax.Array, weight: jax.Array) -> jax.Array:
    """task + β·penalty, checking that the task loss is a scalar."""
    task = jnp.asarray(task)
    if task.shape != ():
        raise ValueError(f"loss_fn must return a scalar, got shape {task.shape}")
    return task + weight.astype(task.dtype) * penalty


def check_losses(step: jax.Array, task: jax.Array, penalty: jax.Array, total: jax.Array) -> None:
    """Debug mode: the task loss, the penalty and their weighted sum must be finite."""
    _debug.check_finite(task, "the task loss loss_fn(f(x), y)", step=step)
    _debug.check_finite(penalty, "the symmetry penalty", step=step)
    _debug.check_finite(total, "the loss (task loss + weight * penalty)", step=step)


def check_update(step: jax.Array, grads: Any, params: Any, tuner_state: DualAscentState) -> None:
    """Debug mode: the gradients, the updated parameters and the new weight must be finite."""
    _debug.check_finite(grads, "the gradient of params", step=step)
    _debug.check_finite(params, "the updated params (after the optimizer)", step=step)
    _debug.check_finite(tuner_state.weight, "the penalty weight after the tuner update", step=step)


def regularized_grads(grad_fn, params, *, every, count, penalty_fn, weight):
    """(total, task, penalty, on, aux, grads) of one step, with the penalty on every k-th step.

    `grad_fn(params, with_penalty)` is `jax.value_and_grad` of the step's objective, whose aux is
    (task, penalty, aux) with the penalty and (task, aux) without. With every = 1 the penalty
    shares the task loss's clean forward. Otherwise the penalty's whole value and gradient,
    `jax.value_and_grad(penalty_fn)`, run inside one `lax.cond` on `count % every == 0` with
    weight every·β: only that branch runs, and only parameter-shaped gradients cross the branch
    boundary (differentiating through a cond would make the skipped branch write zeroed
    activations of the taken one), so a skipped step costs a plain step.
    """
    if every == 1:  # one clean forward shared by the task loss and the penalty
        (total, (task, penalty, aux)), grads = grad_fn(params, True)
        return total, task, penalty, jnp.bool_(True), aux, grads
    (_, (task, aux)), grads = grad_fn(params, False)
    on = jnp.mod(count, every) == 0
    compute = lambda: jax.value_and_grad(penalty_fn)(params)
    shapes = jax.eval_shape(compute)
    zeros = lambda: jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), shapes)
    penalty, more = jax.lax.cond(on, compute, zeros)
    scale = weight * every
    grads = jax.tree.map(lambda a, b: a + scale.astype(a.dtype) * b, grads, more)
    return combine(task, penalty, scale), task, penalty, on, aux, grads


def update_tuner(tuner: Any, tuner_state: Any, penalty: jax.Array, on: jax.Array) -> Any:
    """The controller update with the measured penalty, on penalty steps only."""
    new = tuner.update(tuner_state, jax.lax.stop_gradient(penalty))
    return jax.tree.map(lambda a, b: jnp.where(on, a, b), new, tuner_state)
