"""A functional train state for flax.nnx models: (model, nnx.Optimizer) split into a pytree."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx, struct

from symreg import _checks, _debug, _validation
from symreg.flax import _common
from symreg.regularizers import SymmetryPenalty
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
            measures the penalty without applying it.
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
        tuner = _common.as_controller(tuner)
        _common.check_optimizer(tx)
        graphdef, state = nnx.split((model, nnx.Optimizer(model, tx, wrt=wrt)))
        return cls(graphdef, state, tuner, tuner.init(), key)

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


def nnx_step(spec: SymmetryPenalty, loss_fn, every, state: NNXTrainState, x, y):
    """One regularized step on an `NNXTrainState` (see `make_train_step`).

    With `spec.debug`, messages name the step as the tuner's count, `tuner_state.count`.
    """
    _checks.check_input(x, spec.symmetry)
    step = state.tuner_state.count if spec.debug else None
    if spec.debug:
        _debug.check_finite_examples(x, "x", step=step)
    keys = _common.step_keys(state.key)
    model, optimizer = state.merge()
    wrt = optimizer.wrt
    graphdef, params, rng_keys, rest = nnx.split(model, wrt, nnx.RngKey, ...)
    penalty_keys = _reseed(rng_keys, keys.penalty)
    weight = state.tuner_state.weight

    def objective(params, with_penalty):
        clean = nnx.merge(graphdef, params, rng_keys, rest, copy=True)
        fx = clean(x)
        after = nnx.split(clean, wrt, nnx.RngKey, ...)[3]
        task = loss_fn(fx, y)
        if not with_penalty:
            return _common.combine(task, jnp.zeros_like(task), weight), (task, after)
        transformed = lambda p, xt: nnx.merge(graphdef, p, penalty_keys, after, copy=True)(xt)
        penalty = spec.from_outputs(transformed, params, x, fx, keys.group, step=step)
        total = _common.combine(task, penalty, weight)
        if spec.debug:
            _common.check_losses(step, task, penalty, total)
        return total, (task, penalty, after)

    grad_fn = jax.value_and_grad(objective, has_aux=True)
    transformed = lambda p, xt: nnx.merge(graphdef, p, penalty_keys, rest, copy=True)(xt)
    sub = spec.sub_batch(x)
    own = lambda p: spec.with_outputs(transformed, p, sub, keys.group, step=step)[1]
    count = optimizer.step.get_value()
    total, task, penalty, on, after, grads = _common.regularized_grads(
        grad_fn, params, every=every, count=count, penalty_fn=own, weight=weight
    )
    nnx.update(model, after)
    optimizer.update(model, grads)
    new_state = state.replace(
        state=nnx.split((model, optimizer))[1],
        key=keys.next,
        tuner_state=_common.update_tuner(state.tuner, state.tuner_state, penalty, on),
    )
    if spec.debug:
        new_params = nnx.state(model, wrt)
        _common.check_update(step, grads, new_params, new_state.tuner_state)
    return new_state, _common.metrics(total, task, penalty, state.tuner_state, on)
