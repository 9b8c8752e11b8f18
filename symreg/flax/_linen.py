"""The linen `TrainState` with a weight controller, a PRNG key and batch statistics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from flax.training import train_state

from symreg import _checks, _debug, _validation
from symreg.flax import _common
from symreg.regularizers import SymmetryPenalty
from symreg.tuning import DualAscentState, WeightController


class SymmetryTrainState(train_state.TrainState):
    """A linen `TrainState` that also carries the weight controller, its state and a key.

    Attributes:
      tuner: the `WeightController` (static, like `tx`).
      tuner_state: its `DualAscentState` (weight β, target, count): arrays, so changing β or
        the target never recompiles a jitted step.
      key: the PRNG key, split at every step (`symreg.flax.step_keys`).
      batch_stats: the model's "batch_stats" collection, or None if it has none.

    Checkpointing: the state's arrays are the whole run (parameters, optimizer state, tuner
    state, key, step), so orbax-checkpoint (`pip install orbax-checkpoint`; symreg does not
    import it) saves and resumes it exactly, the resumed run bitwise equal to an uninterrupted
    one on the same device. Restore into a template built like the original (same `tx` and
    `tuner`, any seed); `CheckpointManager` commits each step by an atomic rename, so a save
    killed halfway leaves the previous step the latest (tests/test_checkpoint.py)::

        import orbax.checkpoint as ocp
        manager = ocp.CheckpointManager("/path/to/checkpoints")
        manager.save(int(state.step), args=ocp.args.StandardSave(state))
        ...
        state = manager.restore(manager.latest_step(),
                                args=ocp.args.StandardRestore(template_state))

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> import flax.linen as nn
      >>> from symreg.flax import SymmetryTrainState
      >>> model = nn.Dense(2)
      >>> params = model.init(jax.random.key(0), jnp.ones((1, 3)))["params"]
      >>> state = SymmetryTrainState.create(apply_fn=model.apply, params=params,
      ...     tx=optax.sgd(0.1), tuner=0.5, key=jax.random.key(1))
      >>> float(state.tuner_state.weight)
      0.5
    """

    tuner: WeightController = struct.field(pytree_node=False)
    tuner_state: DualAscentState
    key: jax.Array
    batch_stats: Any = None

    @classmethod
    def create(cls, *, apply_fn, params, tx, tuner=0.0, key, batch_stats=None, **kwargs):
        """Creates a state at step 0.

        Args:
          apply_fn: the linen `model.apply`.
          params: the "params" collection.
          tx: the optax optimizer.
          tuner: a `WeightController` (e.g. `symreg.tuning.dual_ascent(...)`) or a number β
            (a constant weight); the default 0 measures the penalty without applying it.
          key: a PRNG key.
          batch_stats: the "batch_stats" collection, if the model has BatchNorm.
          **kwargs: further fields of a subclass.

        Raises:
          TypeError: a bad `tuner`, `key` or `tx`; `apply_fn` not callable; `params` with a
            leaf that is not a floating array.
          ValueError: `params` empty, or the whole variables dict (`{"params": ...}`) instead
            of its "params" collection.
        """
        _validation.check_callable(apply_fn, "apply_fn")
        _check_params(params)
        _validation.check_key(key)
        tuner = _common.as_controller(tuner)
        _common.check_optimizer(tx)
        return super().create(
            apply_fn=apply_fn,
            params=params,
            tx=tx,
            tuner=tuner,
            tuner_state=tuner.init(),
            key=key,
            batch_stats=batch_stats,
            **kwargs,
        )


def _check_params(params: Any) -> None:
    """Refuses empty params, non-floating leaves, and the whole variables dict."""
    if isinstance(params, Mapping) and "params" in params:
        raise ValueError(
            "params must be the 'params' collection, variables['params'], not the whole "
            f"variables dict (top-level keys {sorted(params)}); pass batch_stats= separately"
        )
    for name, leaf in _validation.leaves_with_paths(params, "params"):
        dtype = getattr(leaf, "dtype", None)
        if dtype is None or not jnp.issubdtype(dtype, jnp.inexact):
            raise TypeError(
                f"{name} must be a floating array (a trainable parameter), got "
                f"{type(leaf).__name__} {dtype if dtype is not None else ''}"
            )


def _model_fns(state: SymmetryTrainState, keys, apply_kwargs, rng_streams):
    """The clean forward (keeps batch-stat updates) and the transformed forward (drops them)."""
    has_stats = state.batch_stats is not None
    mutable = ["batch_stats"] if has_stats else False

    def variables(params):
        return (
            {"params": params, "batch_stats": state.batch_stats}
            if has_stats
            else {"params": params}
        )

    def run(params, x, key):
        rngs = _common.stream_keys(key, rng_streams)
        out = state.apply_fn(variables(params), x, rngs=rngs, mutable=mutable, **apply_kwargs)
        return out if has_stats else (out, {})

    clean = lambda params, x: run(params, x, keys.forward)
    transformed = lambda params, x: run(params, x, keys.penalty)[0]
    return clean, transformed


def linen_step(spec: SymmetryPenalty, loss_fn, apply_kwargs, rng_streams, every, state, x, y):
    """One regularized step on a `SymmetryTrainState` (see `make_train_step`).

    With `spec.debug`, `checkify` checks name the step (`state.step`) and what went
    non-finite first: x, f(x), a penalty pair, the task loss, the penalty, the loss, a
    gradient leaf, the updated parameters or the new weight.
    """
    _checks.check_input(x, spec.symmetry)
    step = state.step if spec.debug else None
    if spec.debug:
        _debug.check_finite_examples(x, "x", step=step)
    keys = _common.step_keys(state.key)
    clean, transformed = _model_fns(state, keys, apply_kwargs, rng_streams)
    weight = state.tuner_state.weight

    def objective(params, with_penalty):
        fx, updates = clean(params, x)
        task = loss_fn(fx, y)
        if not with_penalty:
            return _common.combine(task, jnp.zeros_like(task), weight), (task, updates)
        penalty = spec.from_outputs(transformed, params, x, fx, keys.group, step=step)
        total = _common.combine(task, penalty, weight)
        if spec.debug:
            _common.check_losses(step, task, penalty, total)
        return total, (task, penalty, updates)

    grad_fn = jax.value_and_grad(objective, has_aux=True)
    sub = spec.sub_batch(x)
    own = lambda p: spec.with_outputs(transformed, p, sub, keys.group, step=step)[1]
    total, task, penalty, on, updates, grads = _common.regularized_grads(
        grad_fn, state.params, every=every, count=state.step, penalty_fn=own, weight=weight
    )
    new_state = state.apply_gradients(
        grads=grads,
        key=keys.next,
        tuner_state=_common.update_tuner(state.tuner, state.tuner_state, penalty, on),
        batch_stats=updates.get("batch_stats", state.batch_stats),
    )
    if spec.debug:
        _common.check_update(step, grads, new_state.params, new_state.tuner_state)
    return new_state, _common.metrics(total, task, penalty, state.tuner_state, on)
