"""Training many regularized models at once: vmapped over runs (weights or targets) and seeds.

A *run* is one training of the same model from the same initialization on the same data, with
its own penalty weight β or its own target ε for dual ascent. The weight and the target live in
a `symreg.tuning.DualAscentState` (arrays), so a whole grid of weights, the auto-tuned weight and
the dual-ascent runs share one compiled training loop (`jax.vmap` over the states) and changing
them never recompiles. Data sets (seeds) form a second vmapped axis.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

import symreg
from symreg.regularizers import regularized_loss
from symreg.tuning import DualAscentState, WeightController, dual_ascent

#: The largest penalty weight any run may use (also the dual-ascent cap by default).
DEFAULT_MAX_WEIGHT = 1e3


def squared_error(pred: jax.Array, y: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """The mean over the batch of ‖pred − y‖² (summed over output axes), a scalar.

    With `mask` (B,) of 0/1 example weights, the mean over the examples with weight 1.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.experiments.training import squared_error
      >>> float(squared_error(jnp.zeros((2, 2)), jnp.ones((2, 2)))), float(
      ...     squared_error(jnp.zeros(2), jnp.array([1.0, 3.0]), jnp.array([0.0, 1.0])))
      (2.0, 9.0)
    """
    err = jnp.square(pred - y)
    per_example = jnp.sum(err.reshape(err.shape[0], -1), axis=-1)
    if mask is None:
        return jnp.mean(per_example)
    return jnp.sum(mask * per_example) / jnp.maximum(jnp.sum(mask), 1.0)


def mixed_controller(*, step_size: float, max_weight: float) -> WeightController:
    """A weight controller for runs that mix constant weights and dual ascent.

    A run whose state has target NaN keeps its weight (like `symreg.tuning.constant_weight`);
    a run with a finite target follows the log-space dual ascent of
    `symreg.tuning.dual_ascent`: β ← clip(β·exp(η_β·clip(log(ÊD_2 / ε), ±1)), ·, β_max).
    One static controller, so grid runs and dual runs share one compiled training loop.

    Args:
      step_size: η_β of the log-space dual ascent (~0.01–0.1).
      max_weight: β_max, the cap on β.

    Returns:
      A `symreg.tuning.WeightController`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.experiments.training import mixed_controller, run_states
      >>> ctrl = mixed_controller(step_size=0.1, max_weight=10.0)
      >>> states = run_states(jnp.array([1.0, 1.0]), jnp.array([jnp.nan, 0.5]))
      >>> next_state = jax.vmap(ctrl.update)(states, jnp.array([2.0, 2.0]))
      >>> [round(w, 4) for w in next_state.weight.tolist()]   # kept; raised by e^{0.1}
      [1.0, 1.1052]
    """
    dual = dual_ascent(
        0.0, step_size=step_size, max_weight=max_weight, init_weight=max_weight, log_space=True
    )

    def update(state: DualAscentState, model_error: Any) -> DualAscentState:
        moved = dual.update(state, model_error)
        keep = jnp.isnan(state.target)
        return moved._replace(weight=jnp.where(keep, state.weight, moved.weight))

    return WeightController(dual.init, update)


def run_states(weights: Any, targets: Any | None = None) -> DualAscentState:
    """Controller states for a batch of runs: initial weights β (R,) and targets ε (R,) or NaN.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.experiments.training import run_states
      >>> run_states(jnp.array([0.0, 1.0])).target.tolist()
      [nan, nan]
    """
    weights = jnp.asarray(weights, jnp.float32)
    targets = (
        jnp.full_like(weights, jnp.nan) if targets is None else jnp.asarray(targets, jnp.float32)
    )
    return DualAscentState(
        weights, jnp.broadcast_to(targets, weights.shape), jnp.zeros(weights.shape, jnp.int32)
    )


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Static settings of the training loop (hashable: one compilation per configuration).

    Attributes:
      steps: full-batch Adam steps.
      learning_rate: the peak learning rate (cosine decay to 5% of it).
      num_samples: S, group samples per example in the penalty.
      dual_step: η_β of the log-space dual ascent.
      max_weight: the cap on β.
      warmup: the fraction of steps over which the applied weight ramps up linearly from 0 to
        β (a continuation: the model first fits the data, then is pulled towards symmetry).
    """

    steps: int = 1000
    learning_rate: float = 3e-3
    num_samples: int = 2
    dual_step: float = 0.05
    max_weight: float = DEFAULT_MAX_WEIGHT
    warmup: float = 0.3


def _train_one(apply_fn, symmetry, config, params, x, y, key, state, mask):
    """One run: `config.steps` full-batch Adam steps on loss + β·penalty; returns (params, state, tail)."""
    loss = lambda pred, target: squared_error(pred, target, mask)
    objective = regularized_loss(loss, apply_fn, symmetry=symmetry, num_samples=config.num_samples)
    schedule = optax.cosine_decay_schedule(config.learning_rate, config.steps, alpha=0.05)
    tx = optax.adam(schedule)
    controller = mixed_controller(step_size=config.dual_step, max_weight=config.max_weight)
    grad_fn = jax.grad(objective, has_aux=True)
    tail = max(config.steps // 10, 1)
    warm = max(config.warmup * config.steps, 1.0)

    def step(carry, t):
        p, opt_state, st = carry
        ramp = jnp.minimum(1.0, (t + 1) / warm)
        grads, aux = grad_fn(p, x, y, jax.random.fold_in(key, t), ramp * st.weight)
        updates, opt_state = tx.update(grads, opt_state, p)
        st = controller.update(st, jax.lax.stop_gradient(aux["penalty"]))
        late = (t >= config.steps - tail).astype(jnp.float32)
        return (optax.apply_updates(p, updates), opt_state, st), (
            aux["penalty"] * late,
            st.weight * late,
        )

    (params, _, state), (pen, wts) = jax.lax.scan(
        step, (params, tx.init(params), state), jnp.arange(config.steps)
    )
    return params, state, {"penalty": pen.sum() / tail, "weight": wts.sum() / tail}


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _train_all(apply_fn, symmetry, config, params, x, y, key, states, masks):
    runs = jax.vmap(_train_one, in_axes=(None, None, None, None, None, None, None, 0, 0))
    seeds = jax.vmap(runs, in_axes=(None, None, None, 0, 0, 0, 0, 0, 0))
    return seeds(apply_fn, symmetry, config, params, x, y, key, states, masks)


def train_runs(
    apply_fn: Callable[[Any, Any], Any],
    params: Any,
    x: Any,
    y: Any,
    key: jax.Array,
    states: DualAscentState,
    masks: jax.Array | None = None,
    *,
    symmetry: symreg.Symmetry,
    config: TrainConfig,
) -> tuple[Any, DualAscentState, dict[str, jax.Array]]:
    """Trains R runs on each of D data sets, all in one compiled, vmapped loop.

    Every run minimizes (1/N) Σ ‖y_i − f(x_i)‖² + β·P(f) with P the sampled symmetry penalty
    (`symreg.regularizers.regularized_loss`, an unbiased estimate of ED_2 on the training
    inputs), by full-batch Adam; β follows `mixed_controller` (constant, or dual ascent on a
    target). Runs of one data set share the initialization and the penalty's group samples
    (common random numbers), so their differences come from β alone.

    Args:
      apply_fn: the model, hashable (e.g. `MLP(...).apply`).
      params: initial parameters, leading axis D (one initialization per data set).
      x: training inputs, leading axes (D, N).
      y: training targets, leading axes (D, N).
      key: PRNG keys, shape (D,) (the penalty's group samples).
      states: controller states with leading axes (D, R) (`run_states`).
      masks: 0/1 example weights of the task loss, shape (D, R, N) (a run may train on part of
        its data set, e.g. one half); None for all examples. The penalty uses every x.
      symmetry: the `symreg.Symmetry` of the penalty.
      config: a `TrainConfig`.

    Returns:
      (params with leading axes (D, R), final states (D, R), tail) where tail holds the means
      over the last 10% of steps of the penalty ("penalty") and of β ("weight"), shape (D, R).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Vector
      >>> from symreg.groups import SO2
      >>> from symreg.experiments.models import MLP
      >>> from symreg.experiments.training import TrainConfig, run_states, train_runs
      >>> mlp = MLP(hidden=(8,))
      >>> x = jax.random.normal(jax.random.key(0), (1, 32, 2))
      >>> p0 = jax.vmap(mlp.init, in_axes=(0, None))(jax.random.split(jax.random.key(1), 1), x[0])
      >>> states = jax.tree.map(lambda a: a[None], run_states(jnp.array([0.0, 10.0])))
      >>> params, _, tail = train_runs(mlp.apply, p0, x, x[..., 0], jax.random.split(jax.random.key(2), 1),
      ...                              states, symmetry=symreg.Symmetry(SO2(), Vector()),
      ...                              config=TrainConfig(steps=50))
      >>> tail["penalty"].shape
      (1, 2)
    """
    if masks is None:
        n = jax.tree.leaves(x)[0].shape[1]
        masks = jnp.ones(states.weight.shape + (n,), jnp.float32)
    return _train_all(apply_fn, symmetry, config, params, x, y, key, states, masks)
