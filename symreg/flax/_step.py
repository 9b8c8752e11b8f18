"""The train step: one flat objective for linen and NNX, the framework chosen when it is built."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from symreg import _checks, _debug, _validation
from symreg.flax import _common
from symreg.flax._linen import Linen
from symreg.flax._nnx import NNX
from symreg.regularizers import SymmetryPenalty
from symreg.tuning import DualAscentState

#: The frameworks a step can be built for (`make_train_step(framework=...)`).
FRAMEWORKS = ("linen", "nnx")


@dataclasses.dataclass(frozen=True)
class _Config:
    """The static settings of one train step (docs/architecture.md, One train step).

    Attributes:
      loss_fn: `loss_fn(predictions, y)` → scalar task loss.
      penalty: the `SymmetryPenalty` spec.
      framework: `Linen(...)` or `NNX()`: how to apply the model and update the state.
      every: `penalty_every`.
      warmup: `warmup_steps` (0: no ramp).
    """

    loss_fn: Callable[[Any, Any], jax.Array]
    penalty: SymmetryPenalty
    framework: Linen | NNX
    every: int = 1
    warmup: int = 0


def _check_streams(rng_streams: Any) -> tuple[str, ...]:
    if isinstance(rng_streams, str) or not all(isinstance(s, str) for s in rng_streams):
        raise TypeError(f"rng_streams must be a tuple of stream names, got {rng_streams!r}")
    return tuple(rng_streams)


def _framework(framework: Any, apply_kwargs: Any, rng_streams: Any) -> Linen | NNX:
    """The framework adapter named by `framework`, with the linen-only options checked."""
    if not isinstance(framework, str) or framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {FRAMEWORKS}, got {framework!r}")
    if framework == "nnx":
        for name, value in (("apply_kwargs", apply_kwargs), ("rng_streams", rng_streams)):
            if value is not None:
                raise ValueError(
                    f"{name} is linen only (an NNX model is called as model(x) with its own "
                    f"RNG streams), got {name}={value!r} with framework='nnx'"
                )
        return NNX()
    streams = ("dropout",) if rng_streams is None else _check_streams(rng_streams)
    return Linen(tuple(dict(apply_kwargs or {}).items()), streams)


def _counts(penalty_every: Any, warmup_steps: Any) -> tuple[int, int]:
    """(every, warmup) checked: the warmup ramp follows the controller's count."""
    every = _validation.positive_int(penalty_every, "penalty_every")
    warmup = 0 if warmup_steps == 0 else _validation.positive_int(warmup_steps, "warmup_steps")
    if warmup and every != 1:
        raise ValueError(
            f"warmup_steps={warmup} needs penalty_every=1 (got {every}): the ramp follows the "
            "controller's count, which penalty_every > 1 advances on penalty steps only"
        )
    return every, warmup


def make_train_step(
    loss_fn: Callable[[Any, Any], jax.Array],
    *,
    penalty: SymmetryPenalty | None = None,
    framework: str = "linen",
    apply_kwargs: Mapping[str, Any] | None = None,
    rng_streams: tuple[str, ...] | None = None,
    penalty_every: int = 1,
    warmup_steps: int = 0,
    **removed: Any,
) -> Callable[[Any, Any, Any], tuple[Any, dict[str, jax.Array]]]:
    """A jittable step (state, x, y) → (state, metrics) minimizing loss + β·penalty.

    Per step: one clean forward pass on x (its f(x) feeds the task loss and the penalty), the
    `penalty` on the transformed inputs (`SymmetryPenalty.from_outputs`), one gradient
    step of `state.tx` on ∇(loss + β·penalty) with β = `state.tuner_state.weight`, then the
    controller update `tuner.update(tuner_state, penalty)`. The state's key is split by
    `step_keys` into (next, forward, penalty, group). The objective is one function for both
    frameworks; `framework` picks, when the step is built, how the model is applied and the
    state updated (docs/architecture.md, One train step).

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
      penalty: a `symreg.SymmetryPenalty` (required): the symmetry, samples, metric,
        sub-batch, method and chunking of the penalty.
      framework: "linen" (the default: `step` takes a `SymmetryTrainState`) or "nnx" (an
        `NNXTrainState`).
      apply_kwargs: linen only, keyword arguments of every `apply`, e.g. {"train": True};
        None for none.
      rng_streams: linen only, the RNG stream names the model draws from; None for
        ("dropout",).
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
      **removed: none; the former keywords (`symmetry=`, `num_samples=`, ..., `debug=`)
        raise a TypeError saying what to pass instead. Debug checks: run the step under
        `symreg.debug.checked`; they then name the step count (linen: `state.step`; NNX:
        `tuner_state.count`) and what went non-finite first: x, f(x), a penalty pair, the
        task loss, the penalty, the loss, a gradient leaf, the updated parameters or the new
        weight.

    Returns:
      `step(state, x, y)` → `(state, metrics)`; metrics has scalars "loss", "task_loss",
      "equivariance_error" (the penalty estimate), "weight" and "target" (those used in
      this step). "task_loss" and "equivariance_error" are the names of the aux of
      `symreg.regularized_loss`. "target" is NaN under a constant weight (a number or
      `constant_weight` as the tuner): a constant weight has no target; the key stays so
      that every run's metrics have one structure. Wrap it in `jax.jit`.

    Raises:
      TypeError: a bad `loss_fn` or `rng_streams`, `penalty` not a `SymmetryPenalty`, a
        removed keyword; at call time a state of another framework than `framework`.
      ValueError: an unknown `framework`, `apply_kwargs` or `rng_streams` with "nnx", a bad
        `penalty_every` or `warmup_steps`, or both > 1; at call time, x that does not fit the
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
      >>> penalty = symreg.SymmetryPenalty(symreg.Symmetry(Cyclic(8), Regular()))
      >>> step = jax.jit(make_train_step(mse, penalty=penalty))
      >>> state, metrics = step(state, x, y)
      >>> sorted(metrics), int(state.step)
      (['equivariance_error', 'loss', 'target', 'task_loss', 'weight'], 1)
      >>> from flax import nnx
      >>> from symreg.flax import NNXTrainState
      >>> nnx_state = NNXTrainState.create(nnx.Linear(8, 1, rngs=nnx.Rngs(0)), optax.sgd(0.1),
      ...                                  tuner=1.0, key=jax.random.key(1))
      >>> nnx_step = jax.jit(make_train_step(mse, penalty=penalty, framework="nnx"))
      >>> int(nnx_step(nnx_state, x, y)[0].tuner_state.count)
      1
    """
    _validation.check_callable(loss_fn, "loss_fn")
    _checks.check_penalty(penalty, SymmetryPenalty, removed, "make_train_step")
    adapter = _framework(framework, apply_kwargs, rng_streams)
    every, warmup = _counts(penalty_every, warmup_steps)
    config = _Config(loss_fn, penalty, adapter, every, warmup)

    def step(state, x, y):
        return _step(config, state, x, y)

    return step


def _check_state(framework: Linen | NNX, state: Any) -> None:
    """Trace time: `state` must be of the framework the step was built for."""
    if isinstance(state, framework.state_type):
        return
    for other in (Linen, NNX):
        if isinstance(state, other.state_type):
            raise TypeError(
                f"state is a {type(state).__name__}, but the step was built for "
                f"framework={framework.name!r}: build it with "
                f"make_train_step(..., framework={other.name!r})"
            )
    raise TypeError(
        f"state must be a symreg.flax.{framework.state_type.__name__} (the step was built "
        f"for framework={framework.name!r}), got {type(state).__name__}"
    )


def _ramped(own: DualAscentState, warmup: int) -> DualAscentState:
    """The applied controller state: the weight times min(1, (count + 1)/warmup)."""
    if not warmup:
        return own
    ramp = jnp.minimum(1.0, (own.count + 1).astype(jnp.float32) / warmup)
    return own._replace(weight=own.weight * ramp)


def _step(config: _Config, state: Any, x: Any, y: Any) -> tuple[Any, dict[str, jax.Array]]:
    """One regularized step (see `make_train_step`), the same objective for every framework.

    The framework binds the state (`_common.Bound`): how to run the clean and the transformed
    passes, the counts, and how to apply the update; everything else is here.
    """
    _check_state(config.framework, state)
    penalty = config.penalty
    _checks.check_input(x, penalty.symmetry)
    keys = _common.step_keys(state.key)
    bound = config.framework.bind(state, keys)
    debug = _debug.enabled()
    step = bound.step if debug else None
    if debug:
        _debug.check_finite_examples(x, "x", step=step)
    applied = _ramped(state.tuner_state, config.warmup)
    weight = applied.weight

    def objective(params, with_penalty):
        fx, kept = bound.clean(params, x)
        task = config.loss_fn(fx, y)
        if not with_penalty:
            return _common.combine(task, jnp.zeros_like(task), weight), (task, kept)
        transformed = lambda p, xt: bound.transformed(p, xt, kept)
        value = penalty.from_outputs(transformed, params, x, fx, keys.group, step=step)
        total = _common.combine(task, value, weight)
        if debug:
            _common.check_losses(step, task, value, total)
        return total, (task, value, kept)

    alone = lambda p, xt: bound.transformed(p, xt, None)
    sub = penalty.sub_batch(x, keys.group)
    own = lambda p: penalty.with_outputs(alone, p, sub, keys.group, step=step)[1]
    grad_fn = jax.value_and_grad(objective, has_aux=True)
    total, task, value, on, kept, grads = _common.regularized_grads(
        grad_fn, bound.params, every=config.every, count=bound.count, penalty_fn=own, weight=weight
    )
    tuner_state = _common.update_tuner(state.tuner, state.tuner_state, value, on)
    new_state = bound.update(grads, kept, keys.next, tuner_state)
    if debug:
        _common.check_update(step, grads, bound.new_params(new_state), tuner_state)
    return new_state, _common.metrics(total, task, value, applied, on)
