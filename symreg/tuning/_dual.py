"""Weight controllers: dual ascent on β for a target model error, and a constant weight.

A controller is a pair of pure functions `(init, update)` over a `DualAscentState` of arrays,
like an optax `GradientTransformation`: the state (β, the target, a counter) changes during
training and never recompiles a jitted step; the controller itself is static.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from symreg import _validation

#: In log space, β never falls below this fraction of `max_weight` (so it can climb back).
LOG_SPACE_FLOOR = 1e-8
#: In log space, log(ÊD_2 / ε_target) is clipped to ±this per step.
LOG_SPACE_CLIP = 1.0


class DualAscentState(NamedTuple):
    """The state of a weight controller (all arrays).

    Attributes:
      weight: β, the current penalty weight (float32 scalar).
      target: ε_target, the model error aimed at (float32; NaN for `constant_weight`).
        Replace it (`state._replace(target=...)`) to move the target without recompiling.
      count: the number of updates so far (int32).

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.tuning import dual_ascent
      >>> state = dual_ascent(0.1, step_size=1.0, max_weight=5.0).init()
      >>> float(state._replace(target=jnp.float32(0.2)).target)
      0.2
    """

    weight: jax.Array
    target: jax.Array
    count: jax.Array


class WeightController(NamedTuple):
    """A pair of pure functions: `init()` → state, `update(state, model_error)` → state.

    Like an optax `GradientTransformation`, it holds no data: the state is returned by `init`
    and threaded through `update` by the caller (a train state carries it).

    Examples:
      >>> from symreg.tuning import WeightController, constant_weight
      >>> isinstance(constant_weight(0.5), WeightController)
      True
    """

    init: Callable[[], DualAscentState]
    update: Callable[[DualAscentState, ArrayLike], DualAscentState]


def _state(weight: float, target: float) -> DualAscentState:
    return DualAscentState(
        jnp.asarray(weight, jnp.float32), jnp.asarray(target, jnp.float32), jnp.zeros((), jnp.int32)
    )


def _additive(weight, error, target, step_size, max_weight):
    return jnp.clip(weight + step_size * (error - target), 0.0, max_weight)


def _multiplicative(weight, error, target, step_size, max_weight):
    tiny = jnp.finfo(jnp.float32).tiny
    log_ratio = jnp.log((error + tiny) / (target + tiny))
    step = step_size * jnp.clip(log_ratio, -LOG_SPACE_CLIP, LOG_SPACE_CLIP)
    return jnp.clip(weight * jnp.exp(step), LOG_SPACE_FLOOR * max_weight, max_weight)


def _check_factory(target, step_size, max_weight, init_weight, log_space):
    _validation.positive_float(target, "target", allow_zero=True)
    _validation.positive_float(step_size, "step_size")
    _validation.positive_float(max_weight, "max_weight")
    _validation.positive_float(init_weight, "init_weight", allow_zero=not log_space)
    if init_weight > max_weight:
        raise ValueError(f"init_weight must be <= max_weight = {max_weight}, got {init_weight}")


def _check_concrete_error(model_error: Any) -> None:
    """A concrete (untraced) NaN or negative error would poison β: refuse it."""
    if isinstance(model_error, jax.core.Tracer):
        return
    value = float(jnp.asarray(model_error))
    if math.isnan(value) or value < 0:
        raise ValueError(
            f"model_error must be a number >= 0 (an ED_2 estimate), got {value}; a NaN error "
            "usually means a non-finite model output: rerun the step as symreg.debug.checked(step)"
        )


def dual_ascent(
    target: float,
    *,
    step_size: float,
    max_weight: float,
    init_weight: float = 0.0,
    log_space: bool = False,
) -> WeightController:
    """Dual ascent on the penalty weight β for the constraint ED_2(f_θ) ≤ ε_target.

    The Lagrangian of min_θ risk(θ) s.t. ED_2(f_θ) ≤ ε is risk + β·(ED_2 − ε); dual ascent
    raises β while the constraint is violated and lowers it otherwise:
    β ← clip(β + η_β·(ÊD_2 − ε), 0, β_max), with ÊD_2 the penalty measured at the step (a noisy,
    unbiased estimate: β averages the noise over steps). The step is in ED_2 units, so choose
    η_β ~ (a few β) / ε.

    With `log_space=True` the step is multiplicative and scale free:
    β ← clip(β·exp(η_β·clip(log(ÊD_2 / ε), ±1)), 1e-8·β_max, β_max). It adapts β by a
    relative amount per step whatever the scale of ED_2 and β (η_β ~ 0.01–0.1), which is more
    robust when the right β spans orders of magnitude; it needs `init_weight` > 0.

    Args:
      target: ε_target >= 0, e.g. from `target_from_estimate`.
      step_size: η_β > 0.
      max_weight: β_max > 0, the cap on β.
      init_weight: β at the start, in [0, β_max] (> 0 with `log_space`).
      log_space: use the multiplicative step.

    Returns:
      A `WeightController`: `init()` → `DualAscentState(weight, target, count)`,
      `update(state, model_error)` → the next state (model_error: a scalar ÊD_2). `update`
      raises ValueError for a concrete NaN or negative model_error; a traced NaN (inside
      `jax.jit`) cannot raise, so it leaves β unchanged rather than poisoning the state
      (`symreg.debug.checked(step)` reports it with the step). A state whose target is NaN
      keeps its weight (a constant weight, as `constant_weight`'s state): one controller
      then serves vmapped runs that mix constant weights and targets.

    Raises:
      TypeError: a non-numeric argument.
      ValueError: a negative or non-finite number, init_weight > max_weight, or
        init_weight = 0 with `log_space`.

    Examples:
      >>> from symreg.tuning import dual_ascent
      >>> ctrl = dual_ascent(0.5, step_size=2.0, max_weight=10.0)
      >>> state = ctrl.update(ctrl.init(), 1.5)   # error above target: β rises by 2·1.0
      >>> float(state.weight), int(state.count)
      (2.0, 1)
    """
    _check_factory(target, step_size, max_weight, init_weight, log_space)
    rule = _multiplicative if log_space else _additive

    def init() -> DualAscentState:
        return _state(init_weight, target)

    def update(state: DualAscentState, model_error: ArrayLike) -> DualAscentState:
        error = jnp.asarray(model_error, jnp.float32)
        if error.shape != ():
            raise ValueError(f"model_error must be a scalar, got shape {error.shape}")
        _check_concrete_error(model_error)
        weight = rule(state.weight, error, state.target, step_size, max_weight)
        hold = jnp.isnan(error) | jnp.isnan(state.target)  # traced NaN error; no target
        weight = jnp.where(hold, state.weight, weight)
        return DualAscentState(weight, state.target, state.count + 1)

    return WeightController(init, update)


def constant_weight(weight: float) -> WeightController:
    """A controller that keeps β fixed (its state has target NaN: there is no target).

    Args:
      weight: β >= 0.

    Returns:
      A `WeightController` whose `update` only counts steps; β can still be changed by
      replacing `state.weight`, without recompiling.

    Raises:
      ValueError: a negative or non-finite `weight`.

    Examples:
      >>> from symreg.tuning import constant_weight
      >>> ctrl = constant_weight(0.1)
      >>> round(float(ctrl.update(ctrl.init(), 5.0).weight), 6)
      0.1
    """
    _validation.positive_float(weight, "weight", allow_zero=True)

    def init() -> DualAscentState:
        return _state(weight, math.nan)

    return WeightController(init, count_steps)


def count_steps(state: DualAscentState, model_error: Any) -> DualAscentState:
    """The `update` of every `constant_weight` controller (one function, whatever β): it only
    counts steps. A train state given any constant controller keeps one shared static
    controller with β in its state (`symreg.flax`), so a new β does not recompile the step."""
    del model_error
    return state._replace(count=state.count + 1)
