"""Many runs of the library's train step at once: `symreg.flax.make_train_step`, vmapped.

A *run* is one training of the same model from the same initialization on the same data, with
its own penalty weight β, or its own target ε for dual ascent. The weight and the target live
in the state's `symreg.tuning.DualAscentState` (arrays), and one `dual_ascent` controller
serves every run: a run whose target is NaN keeps its weight. So a whole grid of weights, the
calibrated weight and the dual-ascent run share one compiled program (`jax.vmap` of the
library's step over the runs' states, `lax.scan` over the steps), and changing them never
recompiles. The job has no step or tuning rule of its own.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from symreg import tuning
from symreg.flax import SymmetryTrainState
from symreg.tuning import DualAscentState

#: The dual-ascent cap: far above any weight the runs need (the log-space floor is 1e-8 of it).
DUAL_MAX_WEIGHT = 1e4


def squared_error(pred: jax.Array, y: jax.Array) -> jax.Array:
    """The mean over the batch of ‖pred − y‖² (summed over output axes), a scalar.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.experiments.training import squared_error
      >>> float(squared_error(jnp.zeros((2, 2)), jnp.ones((2, 2))))
      2.0
    """
    err = jnp.square(pred - y)
    return jnp.mean(jnp.sum(err.reshape(err.shape[0], -1), axis=-1))


@dataclasses.dataclass(frozen=True)
class VariablesApply:
    """A job model (`symreg.experiments.tasks.Model`) as a linen-style `apply_fn({"params": p}, x)`
    (hashable).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from symreg.estimators import MLP
      >>> from symreg.experiments.training import VariablesApply
      >>> mlp = MLP(hidden=(4,))
      >>> p = mlp.init(jax.random.key(0), jnp.ones((1, 3)))
      >>> VariablesApply(mlp)({"params": p}, jnp.ones((2, 3))).shape
      (2,)
    """

    model: Any

    def __call__(self, variables: Any, x: Any, **kwargs: Any) -> jax.Array:
        del kwargs  # rngs and mutable=False of a linen call: the MLP has neither
        return self.model(variables["params"], x)


@functools.cache
def optimizer(learning_rate: float, steps: int) -> optax.GradientTransformation:
    """Full-batch Adam with a cosine decay to 5% of `learning_rate` over `steps`.

    One object per setting (cached): states built with it share compiled programs (the
    optimizer is static in a train state and in `calibrate`'s fold program).
    """
    return optax.adam(optax.cosine_decay_schedule(learning_rate, steps, alpha=0.05))


@functools.cache
def controller(step_size: float) -> tuning.WeightController:
    """Log-space dual ascent (η_β = `step_size`); NaN-target runs keep a constant weight.

    One object per step size (cached), for the same reason as `optimizer`.
    """
    return tuning.dual_ascent(
        1.0, step_size=step_size, max_weight=DUAL_MAX_WEIGHT, init_weight=1.0, log_space=True
    )


def base_state(model: Any, params: Any, config: Any, key: jax.Array) -> SymmetryTrainState:
    """The job's fresh state for `model` (an `apply(params, x)`) from `params`: the optimizer
    and the dual-ascent controller of `config` (a `TradeoffConfig`: learning rate, steps, dual
    step). What `calibrate` and every run of the job start from.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from symreg.experiments import QUICK
      >>> from symreg.estimators import MLP
      >>> from symreg.experiments.training import base_state
      >>> mlp = MLP(hidden=(4,))
      >>> state = base_state(mlp, mlp.init(jax.random.key(0), jnp.ones((1, 2))), QUICK,
      ...                    jax.random.key(1))
      >>> float(state.tuner_state.weight), state.tuner is base_state(
      ...     mlp, state.params, QUICK, jax.random.key(2)).tuner   # one static controller
      (1.0, True)
    """
    return SymmetryTrainState.create(
        apply_fn=VariablesApply(model), params=params,
        tx=optimizer(config.learning_rate, config.steps), tuner=controller(config.dual_step),
        key=key,
    )  # fmt: skip


def run_states(base: SymmetryTrainState, weights: Any, targets: Any) -> SymmetryTrainState:
    """R copies of `base` (same parameters, optimizer state and key: common random numbers)
    with initial weights β (R,) and targets ε (R,) (NaN: a constant weight).

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from symreg.estimators import MLP
      >>> from symreg.experiments.training import VariablesApply, controller, run_states
      >>> from symreg.flax import SymmetryTrainState
      >>> mlp = MLP(hidden=(4,))
      >>> base = SymmetryTrainState.create(apply_fn=VariablesApply(mlp),
      ...     params=mlp.init(jax.random.key(0), jnp.ones((1, 2))), tx=optax.sgd(0.1),
      ...     tuner=controller(0.05), key=jax.random.key(1))
      >>> states = run_states(base, [0.0, 1.0], [jnp.nan, 0.5])
      >>> states.tuner_state.weight.tolist(), states.step.shape
      ([0.0, 1.0], (2,))
    """
    weights = jnp.asarray(weights, jnp.float32)
    r = weights.shape[0]
    states = jax.tree.map(lambda a: jnp.broadcast_to(a, (r,) + jnp.shape(a)), base)
    tuner = DualAscentState(weights, jnp.asarray(targets, jnp.float32), jnp.zeros((r,), jnp.int32))
    return states.replace(tuner_state=tuner)


@functools.partial(jax.jit, static_argnums=(0, 1))
def train(
    step: Callable, steps: int, states: SymmetryTrainState, x: Any, y: Any
) -> tuple[SymmetryTrainState, dict[str, jax.Array]]:
    """`steps` full-batch steps of every run (the library's `step`, vmapped over the states).

    Args:
      step: a step from `symreg.flax.make_train_step` (hashable: the same object reuses the
        compiled program).
      steps: the number of steps.
      states: the runs' states, leading axis R (`run_states`).
      x: training inputs, leading axis N (shared by the runs).
      y: training targets, leading axis N.

    Returns:
      (final states, tail) with tail["penalty"] and tail["weight"] the means over the last 10%
      of steps of the penalty and of β, shape (R,).
    """

    def body(st, _):
        st, metrics = jax.vmap(step, in_axes=(0, None, None))(st, x, y)
        return st, (metrics["equivariance_error"], metrics["weight"])

    states, (penalty, weight) = jax.lax.scan(body, states, None, length=steps)
    tail = max(steps // 10, 1)
    return states, {"penalty": penalty[-tail:].mean(0), "weight": weight[-tail:].mean(0)}
