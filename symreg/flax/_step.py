"""The train-step factory for linen (`SymmetryTrainState`) and NNX (`NNXTrainState`) models."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from symreg import _debug, _validation
from symreg.actions import Symmetry
from symreg.equivariance import Metric
from symreg.flax._linen import SymmetryTrainState, linen_step
from symreg.flax._nnx import NNXTrainState, nnx_step
from symreg.regularizers import SymmetryPenalty


def _check_streams(rng_streams: Any) -> tuple[str, ...]:
    if isinstance(rng_streams, str) or not all(isinstance(s, str) for s in rng_streams):
        raise TypeError(f"rng_streams must be a tuple of stream names, got {rng_streams!r}")
    return tuple(rng_streams)


def make_train_step(
    loss_fn: Callable[[Any, Any], jax.Array],
    *,
    symmetry: Symmetry,
    num_samples: int = 1,
    metric: str | Callable | Metric = "sq",
    penalty_batch_size: int | None = None,
    method: str = "sampled",
    chunk_size: int | None = None,
    apply_kwargs: Mapping[str, Any] | None = None,
    rng_streams: tuple[str, ...] = ("dropout",),
    penalty_every: int = 1,
    warmup_steps: int = 0,
    debug: bool = False,
) -> Callable[[Any, Any, Any], tuple[Any, dict[str, jax.Array]]]:
    """A jittable step (state, x, y) → (state, metrics) minimizing loss + β·penalty.

    Per step: one clean forward pass on x (its f(x) feeds the task loss and the penalty), the
    penalty of `symreg.regularizers.symmetry_penalty` on the transformed inputs, one gradient
    step of `state.tx` on ∇(loss + β·penalty) with β = `state.tuner_state.weight`, then the
    controller update `tuner.update(tuner_state, penalty)`. The state's key is split by
    `step_keys` into (next, forward, penalty, group).

    Model state in the extra forward passes (the choices, and why):
      * Batch statistics: the transformed passes run in the same mode as the clean pass
        (training mode normalizes by the statistics of their own S·B' batch, which for a
        λ-invariant input law estimate the same moments), and their updates are discarded.
        Only the clean pass updates `batch_stats`, so they equal those of a plain step.
        (Eval-mode statistics would compare two different functions early in training.)
      * Dropout and other randomness: the clean pass uses the `forward` key (linen: stream
        keys fold_in(forward, i) for `rng_streams`; NNX: the model's own RNG streams, as in
        a plain step); the transformed passes use independent randomness from the `penalty`
        key. So the clean pass is exactly a plain training step's forward; the penalty then
        also counts dropout noise (≈ 2× its variance), which vanishes in eval mode.

    Args:
      loss_fn: `loss_fn(predictions, y)` → scalar task loss.
      symmetry, num_samples, metric, penalty_batch_size, method, chunk_size: as in
        `symreg.regularizers.symmetry_penalty`.
      apply_kwargs: linen only, keyword arguments of every `apply`, e.g. {"train": True}.
      rng_streams: linen only, the RNG stream names the model draws from.
      penalty_every: k >= 1: compute the penalty only on every k-th step (step count
        divisible by k), with weight k·β there, while the other steps cost a plain step (the
        penalty's value and gradient run inside a `lax.cond`). The k·β keeps the penalty's
        average gradient over k steps only for plain SGD; an adaptive optimizer such as Adam
        normalizes each step's update, so the result is a different regularization, not the
        same one at lower cost: with Adam at β = 1 (benchmarks/RESULTS.md, cheap_training) the
        cheaper configurations' test error was 0.84–0.91× the full penalty's (k = 4: 0.89×;
        k = 2 or 4 with a penalty sub-batch of 64: 0.87×, 0.84×). For k > 1 the penalty evaluates its own f(x) on its
        (sub-)batch, with the randomness of the transformed passes, instead of sharing the task
        loss's forward. The controller updates on penalty steps only, and
        "equivariance_error" is NaN on the other steps.
      warmup_steps: w >= 0: the applied weight ramps up linearly, β·min(1, (c + 1)/w) at the
        controller's count c, so that the model first fits the data and is then pulled
        towards the symmetry (a continuation; large weights from the first step can stall an
        MLP far from the data). The controller still updates its own β (a constant weight
        keeps it; dual ascent moves it by the measured penalty), and the "weight" metric is
        the applied one. Needs penalty_every = 1.
      debug: if True, the step checks with `jax.experimental.checkify` that x, f(x), every
        (sample, example) error of the penalty, the task loss, the penalty, the loss, every
        gradient leaf, the updated parameters and the new weight are finite, and raises
        `checkify.JaxRuntimeError` (a ValueError) naming the first failure, the step count
        (linen: `state.step`; NNX: `tuner_state.count`) and, for a penalty pair, the example
        and the group element. The returned step then compiles itself: call it directly
        (or functionalize it yourself: `jax.jit(checkify.checkify(step))`; plain
        `jax.jit(step)` is refused by JAX). Off by default: no checks are traced.

    Returns:
      `step(state, x, y)` → `(state, metrics)`; metrics has scalars "loss", "task_loss",
      "equivariance_error" (the penalty estimate), "weight" and "target" (those used in
      this step). "task_loss" and "equivariance_error" are the names of the aux of
      `symreg.regularized_loss`. "target" is NaN under a constant weight (a number or
      `constant_weight` as the tuner): a constant weight has no target; the key stays so
      that every run's metrics have one structure. Wrap it in `jax.jit` (without `debug`).

    Raises:
      TypeError: a bad `loss_fn`, `symmetry`, `rng_streams` or `debug`; at call time a state
        that is neither a `SymmetryTrainState` nor an `NNXTrainState`.
      ValueError: the cases of `symmetry_penalty`; at call time, x that does not fit the
        symmetry's input action (before the model runs).

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> import flax.linen as nn
      >>> import symreg
      >>> from symreg.actions import Regular
      >>> from symreg.groups import Cyclic
      >>> from symreg.flax import SymmetryTrainState, make_train_step
      >>> model = nn.Dense(1)
      >>> x, y = jnp.ones((4, 8)), jnp.ones((4, 1))
      >>> state = SymmetryTrainState.create(apply_fn=model.apply,
      ...     params=model.init(jax.random.key(0), x)["params"], tx=optax.sgd(0.1),
      ...     tuner=1.0, key=jax.random.key(1))
      >>> mse = lambda p, t: jnp.mean((p - t) ** 2)
      >>> step = jax.jit(make_train_step(mse, symmetry=symreg.Symmetry(Cyclic(8), Regular())))
      >>> state, metrics = step(state, x, y)
      >>> sorted(metrics), int(state.step)
      (['equivariance_error', 'loss', 'target', 'task_loss', 'weight'], 1)
    """
    _validation.check_callable(loss_fn, "loss_fn")
    spec = SymmetryPenalty(
        symmetry, num_samples, metric, penalty_batch_size, method, chunk_size, debug
    )
    apply_kwargs = dict(apply_kwargs or {})
    rng_streams = _check_streams(rng_streams)
    every = _validation.positive_int(penalty_every, "penalty_every")
    warmup = 0 if warmup_steps == 0 else _validation.positive_int(warmup_steps, "warmup_steps")
    if warmup and every != 1:
        raise ValueError(
            f"warmup_steps={warmup} needs penalty_every=1 (got {every}): the ramp follows the "
            "controller's count, which penalty_every > 1 advances on penalty steps only"
        )

    def step(state, x, y):
        if isinstance(state, SymmetryTrainState):
            return linen_step(spec, loss_fn, apply_kwargs, rng_streams, every, state, x, y)
        if isinstance(state, NNXTrainState):
            return nnx_step(spec, loss_fn, every, state, x, y)
        raise TypeError(
            "state must be a symreg.flax.SymmetryTrainState (linen) or NNXTrainState, got "
            f"{type(state).__name__}"
        )

    if warmup:
        step = _warm(step, warmup)
    return _debug.checked(step) if spec.debug else step


def _warm(step, warmup: int):
    """`step` with the applied weight ramped over `warmup` steps (see `make_train_step`)."""

    def warmed(state, x, y):
        own = state.tuner_state
        ramp = jnp.minimum(1.0, (own.count + 1).astype(jnp.float32) / warmup)
        new, metrics = step(state.replace(tuner_state=own._replace(weight=own.weight * ramp)), x, y)
        error = jax.lax.stop_gradient(metrics["equivariance_error"])
        return new.replace(tuner_state=state.tuner.update(own, error)), metrics

    return warmed
