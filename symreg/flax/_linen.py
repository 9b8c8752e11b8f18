"""The linen `TrainState` with a weight controller, a PRNG key and batch statistics."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from flax import struct
from flax.training import train_state

from symreg import _validation
from symreg.flax import _common
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
    killed halfway leaves the previous step the latest (tests/flax/test_checkpoint.py)::

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
            (a constant weight); the default 0 measures the penalty without applying it. Every
            number shares one constant-weight controller, with β in `tuner_state.weight`, so
            states made with different numbers run the same compiled step.
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
        tuner, tuner_state = _common.as_controller(tuner)
        _common.check_optimizer(tx)
        return super().create(
            apply_fn=apply_fn,
            params=params,
            tx=tx,
            tuner=tuner,
            tuner_state=tuner_state,
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
    transformed = lambda params, x, kept=None: run(params, x, keys.penalty)[0]
    return clean, transformed


@dataclasses.dataclass(frozen=True)
class Linen:
    """How the flat train step runs a linen model on a `SymmetryTrainState`.

    Attributes:
      apply_kwargs: keyword arguments of every `apply`, as (name, value) pairs.
      rng_streams: the RNG stream names the model draws from.
    """

    apply_kwargs: tuple[tuple[str, Any], ...] = ()
    rng_streams: tuple[str, ...] = ("dropout",)
    name: ClassVar[str] = "linen"
    state_type: ClassVar[type] = SymmetryTrainState

    def bind(self, state: SymmetryTrainState, keys: _common.StepKeys) -> _common.Bound:
        """The model, counts and update of `state` for one step (see `_common.Bound`)."""
        kwargs = dict(self.apply_kwargs)
        clean, transformed = _model_fns(state, keys, kwargs, self.rng_streams)

        def update(grads, kept, key, tuner_state):
            stats = kept.get("batch_stats", state.batch_stats)
            return state.apply_gradients(
                grads=grads, key=key, tuner_state=tuner_state, batch_stats=stats
            )

        return _common.Bound(
            params=state.params,
            clean=clean,
            transformed=transformed,
            count=state.step,
            step=state.step,
            update=update,
            new_params=lambda new: new.params,
        )
