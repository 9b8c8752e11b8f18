"""A functional train state for flax.nnx models: (model, nnx.Optimizer) split into a pytree."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
from flax import nnx, struct

from symreg import _validation
from symreg.flax import _common
from symreg.tuning import DualAscentState, WeightController


class NNXTrainState(struct.PyTreeNode):
    """An NNX model and its `nnx.Optimizer`, split into a graph (static) and a state (arrays).

    A pytree, so `jax.jit(step)(state, x, y)` works with plain `jax.jit`; `merge()` gives the
    live model and optimizer back.

    Attributes:
      graphdef: the static graph of `(model, optimizer)`.
      state: the `nnx.State` of `(model, optimizer)`: parameters, batch statistics, RNG
        streams, optimizer state.
      tuner: the `WeightController` (static).
      tuner_state: its `DualAscentState` (arrays).
      key: the PRNG key, split at every step (`symreg.flax.step_keys`).

    Checkpointing: as for `SymmetryTrainState`, save the whole state with orbax's
    `StandardSave` and restore it into a template made by `create` with the same model
    architecture, `tx` and `tuner` (the step count is `tuner_state.count`).

    Examples:
      >>> import jax, optax
      >>> from flax import nnx
      >>> from symreg.flax import NNXTrainState
      >>> state = NNXTrainState.create(nnx.Linear(3, 2, rngs=nnx.Rngs(0)), optax.sgd(0.1),
      ...                              tuner=0.5, key=jax.random.key(1))
      >>> model, optimizer = state.merge()
      >>> model.kernel.shape
      (3, 2)
    """

    graphdef: Any = struct.field(pytree_node=False)
    state: Any
    tuner: WeightController = struct.field(pytree_node=False)
    tuner_state: DualAscentState
    key: jax.Array

    @classmethod
    def create(cls, model, tx, *, tuner=0.0, key, wrt=nnx.Param) -> NNXTrainState:
        """Wraps `model` and `nnx.Optimizer(model, tx, wrt=wrt)`.

        Args:
          model: an `nnx.Module` (its train/eval mode is used as set: call `model.train()`).
          tx: the optax optimizer.
          tuner: a `WeightController` or a number β (a constant weight); the default 0
            measures the penalty without applying it. Every number shares one constant-weight
            controller (β in `tuner_state.weight`): one compiled step serves every β.
          key: a PRNG key.
          wrt: the filter of the trained variables.

        Raises:
          TypeError: a bad `tuner`, `key` or `tx`, or `model` not an `nnx.Module`.
        """
        if not isinstance(model, nnx.Module):
            raise TypeError(
                f"model must be a flax.nnx.Module, got {model!r} of type {type(model).__name__}"
            )
        _validation.check_key(key)
        tuner, tuner_state = _common.as_controller(tuner)
        _common.check_optimizer(tx)
        graphdef, state = nnx.split((model, nnx.Optimizer(model, tx, wrt=wrt)))
        return cls(graphdef, state, tuner, tuner_state, key)

    def merge(self) -> tuple[Any, nnx.Optimizer]:
        """The live `(model, optimizer)`."""
        return nnx.merge(self.graphdef, self.state)


def _reseed(keys: nnx.State, key: jax.Array) -> nnx.State:
    """Replaces every RngKey value with fold_in(key, i) (raw keys stay raw)."""
    leaves, treedef = jax.tree.flatten(keys)
    new = []
    for i, leaf in enumerate(leaves):
        k = jax.random.fold_in(key, i)
        typed = jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)
        new.append(k if typed else jax.random.key_data(k))
    return jax.tree.unflatten(treedef, new)


@dataclasses.dataclass(frozen=True)
class NNX:
    """How the flat train step runs an NNX model on an `NNXTrainState`.

    The clean pass uses the model's own RNG streams, as a plain step; the transformed passes
    use streams reseeded from the step's `penalty` key. The step count of `penalty_every` is
    the optimizer's; debug messages name the tuner's count, `tuner_state.count`.
    """

    name: ClassVar[str] = "nnx"
    state_type: ClassVar[type] = NNXTrainState

    def bind(self, state: NNXTrainState, keys: _common.StepKeys) -> _common.Bound:
        """The model, counts and update of `state` for one step (see `_common.Bound`)."""
        model, optimizer = state.merge()
        wrt = optimizer.wrt
        graphdef, params, rng_keys, rest = nnx.split(model, wrt, nnx.RngKey, ...)
        penalty_keys = _reseed(rng_keys, keys.penalty)

        def clean(params, x):
            live = nnx.merge(graphdef, params, rng_keys, rest, copy=True)
            fx = live(x)
            return fx, nnx.split(live, wrt, nnx.RngKey, ...)[3]

        def transformed(params, x, kept=None):
            other = rest if kept is None else kept
            return nnx.merge(graphdef, params, penalty_keys, other, copy=True)(x)

        def update(grads, kept, key, tuner_state):
            nnx.update(model, kept)
            optimizer.update(model, grads)
            new = nnx.split((model, optimizer))[1]
            return state.replace(state=new, key=key, tuner_state=tuner_state)

        return _common.Bound(
            params=params,
            clean=clean,
            transformed=transformed,
            count=optimizer.step.get_value(),
            step=state.tuner_state.count,
            update=update,
            new_params=lambda new: nnx.state(model, wrt),  # `update` wrote into model
        )
