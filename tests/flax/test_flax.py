"""Tests of symreg.flax: linen and NNX train steps, batch statistics and dropout handling."""

from __future__ import annotations

import functools

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import symreg
from symreg.actions import Regular, Vector
from symreg.flax import NNXTrainState, SymmetryTrainState, make_train_step, step_keys
from symreg.groups import SO2, Cyclic
from symreg.regularizers import add_symmetry_penalty, regularized_loss, symmetry_penalty
from symreg.tuning import dual_ascent

#: Compile-bound: many small programs compiled once each (tests/conftest.py, fast_compile).
pytestmark = pytest.mark.usefixtures("fast_compile")

RTOL_F32 = 1e-5
#: "Learns": the task loss must fall below this fraction of its first value.
LEARNED_FRACTION = 0.3
STEPS = 150

CYCLIC = symreg.Symmetry(Cyclic(8), Regular())


def mse(pred, y):
    return jnp.mean((pred - y) ** 2)


def cyclic_task(n=64):
    """y = Σ x_i² + Σ x_i x_{i+1}: invariant under circular shifts."""
    x = jax.random.normal(jax.random.key(10), (n, 8))
    y = jnp.sum(x**2 + x * jnp.roll(x, 1, -1), -1, keepdims=True)
    return x, y


class LinenNet(nn.Module):
    rate: float = 0.1

    @nn.compact
    def __call__(self, x, train: bool):
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9)(nn.Dense(32)(x))
        h = nn.Dropout(self.rate, deterministic=not train)(nn.relu(h))
        return nn.Dense(1)(h)


class InvariantLinen(nn.Module):
    """Exactly invariant features (‖x‖²), then dropout."""

    @nn.compact
    def __call__(self, x, train: bool):
        h = nn.relu(nn.Dense(16)(jnp.sum(x**2, -1, keepdims=True)))
        return nn.Dense(1)(nn.Dropout(0.5, deterministic=not train)(h))


class NNXNet(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(8, 32, rngs=rngs)
        self.bn = nnx.BatchNorm(32, momentum=0.9, rngs=rngs)
        self.drop = nnx.Dropout(0.1, rngs=rngs)
        self.l2 = nnx.Linear(32, 1, rngs=rngs)

    def __call__(self, x):
        return self.l2(self.drop(nnx.relu(self.bn(self.l1(x)))))


#: Shared across tests (static parts of the states and steps), so each step compiles once.
TX = optax.adam(1e-2)
TUNER = dual_ascent(0.05, step_size=1.0, max_weight=10.0)
LINEN_STEP = jax.jit(
    chex.assert_max_traces(
        make_train_step(
            mse, penalty=symreg.SymmetryPenalty(CYCLIC, num_samples=2), apply_kwargs={"train": True}
        ),
        n=1,
    )
)
NNX_STEP = jax.jit(
    make_train_step(mse, penalty=symreg.SymmetryPenalty(CYCLIC, num_samples=2), framework="nnx")
)
LINEN_NET = LinenNet()  # one instance: its bound `apply` is part of the state's structure


@functools.cache
def jitted_init(module):
    return jax.jit(lambda key, x: module.init(key, x, train=False))


def linen_state(module, x, tuner=TUNER, tx=TX):
    variables = jitted_init(module)(jax.random.key(0), x)
    return SymmetryTrainState.create(
        apply_fn=module.apply,
        params=variables["params"],
        batch_stats=variables.get("batch_stats"),
        tx=tx,
        tuner=tuner,
        key=jax.random.key(1),
    )


def run(step, state, x, y, steps=STEPS):
    first = None
    for i in range(steps):
        if i == steps // 2:  # move the target mid-run: no recompilation (LINEN_STEP checks)
            state = state.replace(tuner_state=state.tuner_state._replace(target=jnp.float32(0.1)))
        state, metrics = step(state, x, y)
        first = float(metrics["task_loss"]) if first is None else first
    return state, first, metrics


# --- linen -------------------------------------------------------------------------------


def test_linen_step_learns_with_batchnorm_and_dropout():
    """Also: β changes every step and the target mid-run, with one trace of the step."""
    x, y = cyclic_task()
    state, first, metrics = run(LINEN_STEP, linen_state(LINEN_NET, x), x, y)
    assert float(metrics["task_loss"]) < LEARNED_FRACTION * first
    assert int(state.step) == STEPS and int(state.tuner_state.count) == STEPS
    assert float(metrics["weight"]) > 0.0  # the controller reacted
    np.testing.assert_allclose(float(metrics["target"]), 0.1, RTOL_F32)


def test_linen_clean_pass_is_a_plain_forward():
    """BatchNorm: only the clean pass updates batch_stats. Dropout: it uses the forward key."""
    x, y = cyclic_task()
    state = linen_state(LINEN_NET, x)
    new, metrics = LINEN_STEP(state, x, y)
    keys = step_keys(state.key)
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    rngs = {"dropout": jax.random.fold_in(keys.forward, 0)}
    pred, updates = state.apply_fn(variables, x, train=True, rngs=rngs, mutable=["batch_stats"])
    np.testing.assert_allclose(float(metrics["task_loss"]), float(mse(pred, y)), rtol=RTOL_F32)
    chex.assert_trees_all_close(new.batch_stats, updates["batch_stats"], rtol=RTOL_F32)
    chex.assert_trees_all_equal(jax.random.key_data(new.key), jax.random.key_data(keys.next))


def test_linen_penalty_counts_dropout_noise_only_in_training_mode():
    """The transformed passes draw their own dropout masks (documented choice)."""
    x, y = cyclic_task()
    state = linen_state(InvariantLinen(), x, tuner=1.0)
    errors = {}
    for train in (True, False):
        step = make_train_step(
            mse,
            penalty=symreg.SymmetryPenalty(CYCLIC, num_samples=2),
            apply_kwargs={"train": train},
        )
        errors[train] = float(jax.jit(step)(state, x, y)[1]["equivariance_error"])
    assert errors[True] > 1e-3  # independent masks on an invariant network
    assert errors[False] < 1e-6 * errors[True]


def test_linen_lie_step_metric_is_the_penalty():
    module = nn.Sequential([nn.Dense(16), nn.tanh, nn.Dense(2)])
    x = jax.random.normal(jax.random.key(2), (32, 2))
    y = x
    sym = symreg.Symmetry(SO2(), Vector(), Vector())
    params = module.init(jax.random.key(0), x)["params"]
    state = SymmetryTrainState.create(
        apply_fn=module.apply, params=params, tx=optax.sgd(0.1), tuner=0.3, key=jax.random.key(1)
    )
    step = jax.jit(
        make_train_step(mse, penalty=symreg.SymmetryPenalty(sym, method="lie"), rng_streams=())
    )
    _, metrics = step(state, x, y)
    apply = lambda p, xx: module.apply({"params": p}, xx)
    expected = symmetry_penalty(apply, params, x, None, symmetry=sym, method="lie")
    np.testing.assert_allclose(float(metrics["equivariance_error"]), float(expected), RTOL_F32)
    np.testing.assert_allclose(
        float(metrics["loss"]), float(mse(apply(params, x), y) + 0.3 * expected), RTOL_F32
    )


KEY0 = jax.random.key(0)


def test_constant_weights_share_one_compiled_step():
    x, y = cyclic_task(16)
    counted = chex.assert_max_traces(
        make_train_step(mse, penalty=symreg.SymmetryPenalty(CYCLIC), apply_kwargs={"train": True}),
        n=1,
    )
    step = jax.jit(counted)
    linen = [linen_state(LINEN_NET, x, tuner=b) for b in (0.5, 2.0, jnp.float32(0.25))]
    assert len({id(st.tuner) for st in linen}) == 1  # one static controller
    out = [step(st, x, y)[1] for st in linen]  # a second trace would raise
    assert [float(m["weight"]) for m in out] == [0.5, 2.0, 0.25]
    totals = [float(m["task_loss"] + m["weight"] * m["equivariance_error"]) for m in out]
    assert [float(m["loss"]) for m in out] == pytest.approx(totals, rel=1e-6)
    nnx_states = [
        NNXTrainState.create(nnx.Linear(8, 1, rngs=nnx.Rngs(0)), TX, tuner=b, key=jax.random.key(1))
        for b in (0.5, 2.0)
    ]  # fmt: skip
    assert nnx_states[0].tuner is nnx_states[1].tuner
    assert [float(st.tuner_state.weight) for st in nnx_states] == [0.5, 2.0]
    # a constant_weight(β) controller is the same constant: the same static controller
    const = [linen_state(LINEN_NET, x, tuner=symreg.tuning.constant_weight(b)) for b in (3.0, 4.0)]
    assert {id(st.tuner) for st in const} == {id(linen[0].tuner)}
    assert [float(step(st, x, y)[1]["weight"]) for st in const] == [3.0, 4.0]  # no new trace
    dual = linen_state(
        LINEN_NET, x, tuner=symreg.tuning.dual_ascent(0.1, step_size=0.1, max_weight=10.0)
    )
    assert dual.tuner is not linen[0].tuner  # a controller with dynamics stays itself
    with pytest.raises(ValueError, match="weight"):
        linen_state(LINEN_NET, x, tuner=-1.0)


def test_step_rejects_other_states():
    step = make_train_step(mse, penalty=symreg.SymmetryPenalty(CYCLIC))
    with pytest.raises(TypeError, match="SymmetryTrainState"):
        step({"params": 1}, jnp.ones((2, 8)), jnp.ones((2, 1)))
    with pytest.raises(TypeError, match="rng_streams"):
        make_train_step(mse, penalty=symreg.SymmetryPenalty(CYCLIC), rng_streams="dropout")
    with pytest.raises(TypeError, match="tuner"):
        SymmetryTrainState.create(
            apply_fn=mse, params={"w": jnp.ones(2)}, tx=optax.sgd(1.0), tuner="x", key=KEY0
        )


def test_the_framework_is_chosen_when_the_step_is_built():
    penalty = symreg.SymmetryPenalty(CYCLIC)
    x, y = jnp.ones((4, 8)), jnp.ones((4, 1))
    linen = make_train_step(mse, penalty=penalty)
    with pytest.raises(TypeError, match=r"built for framework='linen'.*framework='nnx'\)"):
        linen(nnx_state(), x, y)
    nnx_step = make_train_step(mse, penalty=penalty, framework="nnx")
    with pytest.raises(TypeError, match=r"built for framework='nnx'.*framework='linen'\)"):
        nnx_step(linen_state(InvariantLinen(), x), x, y)
    with pytest.raises(ValueError, match=r"framework must be one of \('linen', 'nnx'\)"):
        make_train_step(mse, penalty=penalty, framework=NNXTrainState)
    for name, value in (("apply_kwargs", {"train": True}), ("rng_streams", ())):
        with pytest.raises(ValueError, match=f"{name} is linen only"):
            make_train_step(mse, penalty=penalty, framework="nnx", **{name: value})


def test_step_takes_the_penalty_spec_only():
    with pytest.raises(TypeError, match=r"as one spec, penalty=symreg\.SymmetryPenalty"):
        make_train_step(mse, symmetry=CYCLIC, num_samples=2)
    with pytest.raises(TypeError, match="got a Symmetry: wrap it"):
        make_train_step(mse, penalty=CYCLIC)


# --- NNX ---------------------------------------------------------------------------------


def nnx_state():
    model = NNXNet(nnx.Rngs(0, dropout=1))
    return NNXTrainState.create(model, TX, tuner=TUNER, key=jax.random.key(1))


def test_nnx_step_learns_with_batchnorm_and_dropout():
    x, y = cyclic_task()
    state, first, metrics = run(NNX_STEP, nnx_state(), x, y)
    assert float(metrics["task_loss"]) < LEARNED_FRACTION * first
    model, optimizer = state.merge()
    assert int(optimizer.step[...]) == STEPS and int(state.tuner_state.count) == STEPS


def test_nnx_clean_pass_is_a_plain_forward():
    """Batch stats and the dropout stream advance exactly as in a plain forward pass."""
    x, y = cyclic_task()
    state = nnx_state()
    new, metrics = NNX_STEP(state, x, y)
    plain, _ = state.merge()  # a fresh copy of the model before the step
    pred = plain(x)
    np.testing.assert_allclose(float(metrics["task_loss"]), float(mse(pred, y)), rtol=RTOL_F32)
    stepped, _ = new.merge()
    chex.assert_trees_all_close(
        nnx.state(stepped, nnx.BatchStat), nnx.state(plain, nnx.BatchStat), rtol=RTOL_F32
    )
    chex.assert_trees_all_equal(nnx.state(stepped, nnx.RngCount), nnx.state(plain, nnx.RngCount))


def test_nnx_optimizer_passes_batch_and_key_to_the_optax_transform():
    """nnx.Optimizer.update(model, grads, x=..., key=...) feeds add_symmetry_penalty."""
    x, y = cyclic_task(16)
    model = nnx.Sequential(
        nnx.Linear(8, 16, rngs=nnx.Rngs(0)), nnx.tanh, nnx.Linear(16, 1, rngs=nnx.Rngs(1))
    )
    graphdef, params = nnx.split(model, nnx.Param)
    apply = lambda p, xx: nnx.merge(graphdef, p)(xx)
    key, weight, lr = jax.random.key(3), 0.5, 0.1
    objective = regularized_loss(mse, apply, penalty=symreg.SymmetryPenalty(CYCLIC))
    full = jax.jit(jax.grad(lambda p: objective(p, x, y, key, weight)[0]))(params)
    expected = jax.tree.map(lambda p, g: p - lr * g, params, full)  # before the in-place update
    tx = optax.chain(
        add_symmetry_penalty(apply, penalty=symreg.SymmetryPenalty(CYCLIC), weight=weight),
        optax.sgd(lr),
    )
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer, x, y, key):
        grads = nnx.grad(lambda m: mse(m(x), y))(model)
        optimizer.update(model, grads, x=x, key=key)

    train_step(model, optimizer, x, y, key)
    chex.assert_trees_all_close(nnx.state(model, nnx.Param), expected, rtol=1e-4, atol=1e-6)
