"""The bad-input battery of `symreg.flax`: the train states and the train step.

Each case raises a readable ValueError or TypeError that names the argument and what was
expected (tests/bad_input_helpers.py: the tables).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
import pytest
from bad_input_helpers import C4, KEY, X4, T, V, assert_readable_error, mse

import symreg
from symreg.flax import NNXTrainState, SymmetryTrainState, make_train_step


def linen_state(**kw):
    model = nn.Dense(1)
    params = model.init(jax.random.key(0), X4)["params"]
    args = {"apply_fn": model.apply, "params": params, "tx": optax.sgd(0.1), "key": KEY}
    return SymmetryTrainState.create(**(args | kw))


def train_step(x=X4, loss_fn=mse, **kw):
    return make_train_step(loss_fn, penalty=symreg.SymmetryPenalty(C4), **kw)(
        linen_state(), x, jnp.ones((4, 1))
    )


#: id -> (call, exception type, regex that the message must match)
CASES = {
    "train-state-tx-not-optax": (
        lambda: linen_state(tx="adam"),
        T,
        r"tx must be an optax GradientTransformation \(e.g. optax.adam\(1e-3\)\), got 'adam'",
    ),
    "train-state-tuner-string": (
        lambda: linen_state(tuner="dual"),
        T,
        r"tuner must be a symreg.tuning.WeightController .*got 'dual'",
    ),
    "train-state-integer-key": (lambda: linen_state(key=1), T, r"key must be a JAX PRNG key"),
    "nnx-state-not-a-module": (
        lambda: NNXTrainState.create(lambda x: x, optax.sgd(0.1), key=KEY),
        T,
        r"model must be a flax.nnx.Module, got .*function",
    ),
    "train-step-x-does-not-fit": (
        lambda: train_step(jnp.ones((4, 3))),
        V,
        r"x \(one example\): Regular\(axis=-1\) cannot act .*expected axis -1 of size \|G\| = 4",
    ),
    "train-step-loss-not-scalar": (
        lambda: train_step(loss_fn=lambda p, y: p - y),
        V,
        r"loss_fn must return a scalar, got shape \(4, 1\)",
    ),
    "train-step-wrong-state": (
        lambda: make_train_step(mse, penalty=symreg.SymmetryPenalty(C4))({"params": 1}, X4, X4),
        T,
        r"state must be a symreg.flax.SymmetryTrainState \(the step was built for "
        r"framework='linen'\), got dict",
    ),
    "train-step-debug-removed": (
        lambda: make_train_step(mse, penalty=symreg.SymmetryPenalty(C4), debug=1),
        T,
        r"make_train_step takes no debug argument: run the caller under symreg\.debug\.checked",
    ),
    "train-step-unknown-method": (
        lambda: make_train_step(mse, penalty=symreg.SymmetryPenalty(C4, method="exact")),
        V,
        r"method must be one of \('sampled', 'lie'\), got 'exact'",
    ),
    "train-state-whole-variables-dict": (
        lambda: linen_state(params={"params": {"w": jnp.ones(2)}}),
        V,
        r"params must be the 'params' collection, variables\['params'\]",
    ),
    "train-state-integer-params": (
        lambda: linen_state(params={"w": jnp.arange(3)}),
        T,
        r"params\['w'\] must be a floating array",
    ),
    "train-state-apply-fn-not-callable": (
        lambda: linen_state(apply_fn="model"),
        T,
        r"apply_fn must be callable, got 'model'",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_a_readable_error(case):
    assert_readable_error(*CASES[case])
