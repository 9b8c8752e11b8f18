"""Tests of symreg.regularizers: the penalty, the regularized loss and the optax transform."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import symreg
from symreg.actions import Regular, Vector
from symreg.groups import SO2, SO3, Cyclic
from symreg.regularizers import (
    SymmetryPenalty,
    add_symmetry_penalty,
    regularized_loss,
    symmetry_penalty,
)

#: Compile-bound: many small programs compiled once each (tests/conftest.py, fast_compile).
pytestmark = pytest.mark.usefixtures("fast_compile")

RTOL_F32 = 1e-5
ATOL_F32 = 1e-6
#: Statistical bound, in standard errors, for Monte Carlo (un)biasedness checks.
NUM_SE = 4.0

CYCLIC = symreg.Symmetry(Cyclic(8), Regular())
SO2_VEC = symreg.Symmetry(SO2(), Vector(), Vector())
SO3_INV = symreg.Symmetry(SO3(), Vector())


def mlp(params, x):
    """A small non-equivariant MLP; output (B, k)."""
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    return h @ params["w2"]


def init_mlp(key, d_in, d_out, width=16):
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "w1": jax.random.normal(k1, (d_in, width)) / np.sqrt(d_in),
        "b1": 0.1 * jax.random.normal(k2, (width,)),
        "w2": jax.random.normal(k3, (width, d_out)) / np.sqrt(width),
    }


def mse(pred, y):
    return jnp.mean(jnp.sum((pred - y) ** 2, -1))


# Cases: (symmetry, d_in, d_out, method, penalty_batch_size).
CASES = {
    "sampled": (CYCLIC, 8, 3, "sampled", None),
    "sampled-sub": (CYCLIC, 8, 3, "sampled", 5),
    "lie-so2": (SO2_VEC, 2, 2, "lie", None),
    "lie-so3-sub": (SO3_INV, 3, 2, "lie", 6),
}


def _case(name, batch=12):
    sym, d_in, d_out, method, sub = CASES[name]
    params = init_mlp(jax.random.key(0), d_in, d_out)
    x = jax.random.normal(jax.random.key(1), (batch, d_in))
    y = jax.random.normal(jax.random.key(2), (batch, d_out))
    kwargs = {"symmetry": sym, "num_samples": 3, "penalty_batch_size": sub, "method": method}
    return params, x, y, kwargs


# --- the penalty ---------------------------------------------------------------------------


@pytest.mark.parametrize("sub", [None, 5])
def test_sampled_penalty_is_mean_of_equivariance_error(sub):
    params, x, _, _ = _case("sampled")
    key = jax.random.key(3)
    got = symmetry_penalty(
        mlp, params, x, key, symmetry=CYCLIC, num_samples=3, penalty_batch_size=sub
    )
    xs = SymmetryPenalty(CYCLIC, penalty_batch_size=sub).sub_batch(x, key)
    ref = symreg.equivariance_error(mlp, params, xs, key, symmetry=CYCLIC, num_samples=3)
    np.testing.assert_allclose(float(got), float(ref.mean()), rtol=RTOL_F32)


@pytest.mark.parametrize("name", ["lie-so2", "lie-so3-sub"])
def test_lie_penalty_is_mean_of_lie_derivative_error(name):
    params, x, _, kwargs = _case(name)
    got = symmetry_penalty(mlp, params, x, None, **kwargs)
    sub = kwargs["penalty_batch_size"]
    xs = x if sub is None else x[:: x.shape[0] // sub][:sub]  # no key: offset 0 in each block
    ref = symreg.lie_derivative_error(mlp, params, xs, symmetry=kwargs["symmetry"])
    np.testing.assert_allclose(float(got), float(ref.mean()), rtol=RTOL_F32)


@pytest.mark.parametrize(("batch", "sub"), [(12, 4), (12, 5), (13, 4), (4, 9)])
def test_sub_batch_takes_one_example_per_block_at_the_keys_offset(batch, sub):
    x = {"a": jnp.arange(float(batch)), "b": jnp.arange(2.0 * batch).reshape(batch, 2)}
    spec = SymmetryPenalty(CYCLIC, penalty_batch_size=sub)
    m, stride = min(sub, batch), max(1, batch // sub)
    seen = set()
    for i in range(40):
        got = spec.sub_batch(x, jax.random.key(i))
        rows = np.asarray(got["a"]).astype(int)
        offset = rows[0]
        assert rows.tolist() == list(range(offset, offset + m * stride, stride))[:m]
        np.testing.assert_array_equal(np.asarray(got["b"]), np.asarray(x["b"])[rows])
        seen.add(int(offset))
    assert seen == set(range(stride))  # every offset is drawn
    first = spec.sub_batch(x)  # no key: offset 0
    assert np.asarray(first["a"]).astype(int).tolist() == list(range(0, m * stride, stride))


def test_sub_batch_penalty_and_gradient_are_unbiased_for_the_whole_batch():
    """In full-batch training the batch repeats each step: over the penalty's keys the sub-batch
    penalty and its gradient must average to the whole batch's. The deterministic "lie" penalty
    isolates the example choice. A fixed sub-batch (no key: offset 0 at every step, as before)
    fails."""
    params, x, _, kwargs = _case("lie-so3-sub")  # B = 12, B' = 6
    full = dict(kwargs, penalty_batch_size=None)
    whole = lambda p: symmetry_penalty(mlp, p, x, None, **full)
    sub = lambda p, k: symmetry_penalty(mlp, p, x, k, **kwargs)
    keys = jax.random.split(jax.random.key(11), 400)
    values, grads = jax.jit(jax.vmap(jax.value_and_grad(sub), (None, 0)))(params, keys)
    truth, truth_grad = jax.jit(jax.value_and_grad(whole))(params)

    def within(mean, samples, expected):
        se = samples.std(0) / np.sqrt(samples.shape[0])
        return bool(np.all(np.abs(mean - expected) <= NUM_SE * se + ATOL_F32))

    values = np.asarray(values)
    assert within(values.mean(), values, float(truth))
    assert all(jax.tree.leaves(jax.tree.map(
        lambda g, t: within(np.asarray(g).mean(0), np.asarray(g), np.asarray(t)),
        grads, truth_grad)))  # fmt: skip
    # The same B' examples at every step (no key: offset 0), judged by the same bound.
    assert not within(float(sub(params, None)), values, float(truth))


def test_penalty_is_zero_for_an_equivariant_model():
    conv = lambda w, x: jnp.stack([jnp.roll(x, k, -1) for k in range(8)], -1) @ w
    sym = symreg.Symmetry(Cyclic(8), Regular(), Regular())
    x = jax.random.normal(jax.random.key(0), (6, 8))
    pen = symmetry_penalty(conv, jnp.arange(8.0), x, jax.random.key(1), symmetry=sym, num_samples=4)
    assert float(pen) < 1e-10
    rot = lambda s, x: s * x  # scaling commutes with rotations
    assert float(symmetry_penalty(rot, 2.0, x[:, :2], None, symmetry=SO2_VEC, method="lie")) < 1e-10


def test_sampled_penalty_and_gradient_are_unbiased_for_ed2():
    """Averaged over keys, the sampled penalty and its gradient match the exact-group ED_2."""
    params, x, _, _ = _case("sampled", batch=6)
    exact = lambda p: symreg.exact_equivariance_error(mlp, p, x, symmetry=CYCLIC).mean()
    sampled = lambda p, k: symmetry_penalty(mlp, p, x, k, symmetry=CYCLIC, num_samples=1)
    keys = jax.random.split(jax.random.key(7), 2000)
    values, grads = jax.jit(jax.vmap(jax.value_and_grad(sampled), (None, 0)))(params, keys)
    truth, truth_grad = jax.jit(jax.value_and_grad(exact))(params)

    def check(samples, expected):
        mean, se = samples.mean(0), samples.std(0) / np.sqrt(samples.shape[0])
        assert np.all(np.abs(mean - expected) <= NUM_SE * se + ATOL_F32)

    check(np.asarray(values), float(truth))
    jax.tree.map(lambda g, t: check(np.asarray(g), np.asarray(t)), grads, truth_grad)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "exact"}, ValueError, "method"),
        ({"num_samples": 0}, ValueError, "num_samples"),
        ({"penalty_batch_size": 0}, ValueError, "penalty_batch_size"),
        ({"metric": "nope"}, ValueError, "metric"),
        ({"method": "lie"}, ValueError, "generators"),
        ({"symmetry": "C8"}, TypeError, "symmetry"),
    ],
)
def test_penalty_argument_errors(kwargs, error, match):
    full = {"symmetry": CYCLIC, **kwargs}
    with pytest.raises(error, match=match):
        SymmetryPenalty(**full)


def test_lie_penalty_rejects_other_metrics():
    with pytest.raises(ValueError, match="'sq' or 'l2'"):
        SymmetryPenalty(SO2_VEC, method="lie", metric="relative")


# --- the regularized loss --------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_regularized_gradient_matches_separate_terms(name):
    params, x, y, kwargs = _case(name)
    key, weight = jax.random.key(4), jnp.float32(0.7)
    objective = regularized_loss(mse, mlp, penalty=symreg.SymmetryPenalty(**kwargs))

    def separate(p):
        return mse(mlp(p, x), y) + weight * symmetry_penalty(mlp, p, x, key, **kwargs)

    grad_fn = jax.jit(jax.value_and_grad(objective, has_aux=True))
    (total, aux), grads = grad_fn(params, x, y, key, weight)
    ref_total, ref_grads = jax.jit(jax.value_and_grad(separate))(params)
    np.testing.assert_allclose(float(total), float(ref_total), rtol=RTOL_F32)
    np.testing.assert_allclose(float(aux["task_loss"]), float(mse(mlp(params, x), y)), RTOL_F32)
    chex.assert_trees_all_close(grads, ref_grads, rtol=1e-4, atol=ATOL_F32)


@pytest.mark.parametrize(("name", "clean_calls"), [("sampled", 1), ("lie-so2", 1)])
def test_regularized_loss_runs_one_clean_forward(name, clean_calls):
    params, x, y, kwargs = _case(name, batch=7)
    shapes = []

    def counting(p, xx):
        shapes.append(xx.shape[0])
        return mlp(p, xx)

    objective = regularized_loss(mse, counting, penalty=symreg.SymmetryPenalty(**kwargs))
    jax.make_jaxpr(jax.grad(lambda p: objective(p, x, y, jax.random.key(0), 1.0)[0]))(params)
    assert shapes.count(7) == clean_calls, shapes
    if kwargs["method"] == "sampled":
        assert shapes == [7, 3 * 7]  # the clean batch, then all S·B transformed inputs at once


def test_regularized_loss_does_not_retrace_for_new_weights():
    params, x, y, kwargs = _case("sampled")
    objective = regularized_loss(mse, mlp, penalty=symreg.SymmetryPenalty(**kwargs))

    @jax.jit
    @chex.assert_max_traces(n=1)
    def grad_step(p, key, weight):
        return jax.grad(lambda q: objective(q, x, y, key, weight)[0])(p)

    for i, weight in enumerate([0.0, 0.5, 3.0]):
        grad_step(params, jax.random.key(i), jnp.float32(weight))


def test_regularized_loss_argument_errors():
    with pytest.raises(TypeError, match="loss_fn"):
        regularized_loss(None, mlp, penalty=symreg.SymmetryPenalty(CYCLIC))
    with pytest.raises(TypeError, match="apply_fn"):
        regularized_loss(mse, 3, penalty=symreg.SymmetryPenalty(CYCLIC))
    objective = regularized_loss(lambda p, y: p - y, mlp, penalty=symreg.SymmetryPenalty(CYCLIC))
    params, x, y, _ = _case("sampled")
    with pytest.raises(ValueError, match="scalar"):
        objective(params, x, y, jax.random.key(0), 1.0)


# --- the optax transformation ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["sampled-sub", "lie-so2"])
def test_optax_transform_matches_loss_gradient(name):
    params, x, y, kwargs = _case(name)
    key, weight = jax.random.key(5), 0.4
    task_grads = jax.grad(lambda p: mse(mlp(p, x), y))(params)
    objective = regularized_loss(mse, mlp, penalty=symreg.SymmetryPenalty(**kwargs))
    ref = jax.jit(jax.grad(lambda p: objective(p, x, y, key, weight)[0]))(params)
    tx = optax.chain(
        add_symmetry_penalty(mlp, weight=weight, penalty=symreg.SymmetryPenalty(**kwargs)),
        optax.identity(),
    )
    update = jax.jit(lambda g, s, p, x, k: tx.update(g, s, p, x=x, key=k))
    updates, state = update(task_grads, tx.init(params), params, x, key)
    chex.assert_trees_all_close(updates, ref, rtol=1e-4, atol=ATOL_F32)
    penalty = symmetry_penalty(mlp, params, x, key, **kwargs)
    np.testing.assert_allclose(float(state[0].penalty), float(penalty), rtol=RTOL_F32)


def test_optax_transform_weight_in_state_does_not_retrace():
    params, x, _, kwargs = _case("sampled")
    tx = add_symmetry_penalty(mlp, weight=1.0, penalty=symreg.SymmetryPenalty(**kwargs))
    zeros = jax.tree.map(jnp.zeros_like, params)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def update(state, key):
        return tx.update(zeros, state, params, x=x, key=key)

    state = tx.init(params)
    outs = []
    for w in [1.0, 2.0, 0.0]:
        out, state = update(state._replace(weight=jnp.float32(w)), jax.random.key(0))
        outs.append(out["w2"])
    np.testing.assert_allclose(outs[1], 2.0 * outs[0], rtol=RTOL_F32)
    assert float(jnp.abs(outs[2]).max()) == 0.0


def test_optax_transform_errors():
    params, x, _, _ = _case("sampled")
    tx = add_symmetry_penalty(mlp, penalty=symreg.SymmetryPenalty(CYCLIC), weight=1.0)
    state = tx.init(params)
    with pytest.raises(ValueError, match=r"missing \['key'\]"):
        tx.update(params, state, params, x=x)
    with pytest.raises(ValueError, match=r"missing \['params', 'x'\]"):
        tx.update(params, state, key=jax.random.key(0))
    with pytest.raises(ValueError, match="-1.0"):
        add_symmetry_penalty(mlp, penalty=symreg.SymmetryPenalty(CYCLIC), weight=-1.0)
    with pytest.raises(ValueError, match="shape"):
        add_symmetry_penalty(mlp, penalty=symreg.SymmetryPenalty(CYCLIC), weight=jnp.ones(2))
    with pytest.raises(ValueError, match="method"):
        add_symmetry_penalty(
            mlp, penalty=symreg.SymmetryPenalty(CYCLIC, method="exact"), weight=1.0
        )


# --- the penalty spec argument ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: regularized_loss(mse, mlp, penalty=CYCLIC), "got a Symmetry: wrap it"),
        (lambda: add_symmetry_penalty(mlp, penalty=3, weight=1.0), "must be a .*got 3 of type int"),
        (lambda: regularized_loss(mse, mlp), r"needs the penalty spec: penalty=symreg\."),
        (
            lambda: regularized_loss(mse, mlp, symmetry=CYCLIC, num_samples=2),
            r"as one spec, penalty=symreg\.SymmetryPenalty\(.*got symmetry=, num_samples=\)",
        ),
        (
            lambda: add_symmetry_penalty(mlp, symmetry=CYCLIC, weight=1.0),
            r"^add_symmetry_penalty takes the penalty settings as one spec",
        ),
        (
            lambda: regularized_loss(mse, mlp, penalty=symreg.SymmetryPenalty(CYCLIC), debug=True),
            r"no debug argument: run the caller under symreg\.debug\.checked",
        ),
        (
            lambda: regularized_loss(mse, mlp, penalty=symreg.SymmetryPenalty(CYCLIC), weight=1.0),
            "regularized_loss got an unexpected keyword argument 'weight'",
        ),
    ],
)
def test_penalty_is_one_spec_and_old_keywords_say_what_to_pass(build, match):
    with pytest.raises(TypeError, match=match):
        build()
