"""Pieces shared by the linen and NNX train steps: keys, controllers, metrics."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from symreg.tuning import DualAscentState, WeightController, constant_weight


class StepKeys(NamedTuple):
    """The keys of one step, from `jax.random.split(state.key, 4)` in this order.

    Attributes:
      next: the state's key for the next step.
      forward: randomness of the clean forward pass (linen: the `rngs` of `apply`).
      penalty: randomness of the forward passes on transformed inputs (dropout masks).
      group: the group samples of the penalty.
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


def stream_keys(key: jax.Array, names: tuple[str, ...]) -> dict[str, jax.Array]:
    """One key per named RNG stream: {name_i: fold_in(key, i)}."""
    return {name: jax.random.fold_in(key, i) for i, name in enumerate(names)}


def as_controller(tuner: Any) -> WeightController:
    """A `WeightController`, or a number β >= 0 turned into `constant_weight(β)`."""
    if isinstance(tuner, WeightController):
        return tuner
    if isinstance(tuner, (int, float)) and not isinstance(tuner, bool):
        return constant_weight(float(tuner))
    raise TypeError(
        "tuner must be a symreg.tuning.WeightController (e.g. dual_ascent(...)) or a number "
        f"(a constant weight), got {tuner!r} of type {type(tuner).__name__}"
    )


def metrics(total, task, penalty, tuner_state: DualAscentState) -> dict[str, jax.Array]:
    """The metrics of a step: losses, the penalty estimate, and the weight and target used."""
    return {
        "loss": total,
        "task_loss": task,
        "equivariance_error": penalty,
        "weight": tuner_state.weight,
        "target": tuner_state.target,
    }


def combine(task: jax.Array, penalty: jax.Array, weight: jax.Array) -> jax.Array:
    """task + β·penalty, checking that the task loss is a scalar."""
    task = jnp.asarray(task)
    if task.shape != ():
        raise ValueError(f"loss_fn must return a scalar, got shape {task.shape}")
    return task + weight.astype(task.dtype) * penalty
