"""symreg.flax.make_eval_metric: ED₂ ± s.e. on a held-out batch, compiled once."""

from __future__ import annotations

import flax.linen as linen
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import symreg
from symreg.actions import Permutation, Regular, Vector
from symreg.flax import make_eval_metric, nnx_functional
from symreg.groups import SO2, Cyclic, Symmetric

#: Compile-bound: many small programs compiled once each (tests/conftest.py, fast_compile).
pytestmark = pytest.mark.usefixtures("fast_compile")

SETS = symreg.Symmetry(Symmetric(4), Permutation())
PLANE = symreg.Symmetry(SO2(), Vector(), Vector())


class Counting:
    """Wraps an apply_fn and counts its calls (which happen only while tracing under jit)."""

    def __init__(self, apply_fn):
        self.apply_fn, self.calls = apply_fn, 0

    def __call__(self, params, x):
        self.calls += 1
        return self.apply_fn(params, x)


def test_exact_value_and_stderr_match_the_kernel():
    model = nnx.Linear(4, 1, rngs=nnx.Rngs(0))
    apply_fn, state = nnx_functional(model)
    x = jax.random.normal(jax.random.key(1), (16, 4))
    est = make_eval_metric(apply_fn, symmetry=SETS)(state, x)
    per_example = np.asarray(symreg.exact_equivariance_error(apply_fn, state, x, symmetry=SETS))
    per_example = per_example.mean(axis=0)
    np.testing.assert_allclose(est.value, per_example.mean(), rtol=1e-5)
    np.testing.assert_allclose(est.stderr, per_example.std(ddof=1) / 4.0, rtol=1e-4)
    assert (est.method, est.n, est.metric) == ("model", 16, "sq")
    assert float(est.value) > 1e-3  # a linear map of a set is not invariant


def test_an_invariant_model_scores_zero():
    apply_fn = lambda params, x: params * x.sum(-1, keepdims=True)
    x = jax.random.normal(jax.random.key(1), (16, 4))
    est = make_eval_metric(apply_fn, symmetry=SETS)(jnp.float32(2.0), x)
    assert float(est.value) < 1e-10


def test_sampled_value_agrees_with_a_long_run_within_its_stderr():
    model = nnx.Linear(2, 2, rngs=nnx.Rngs(0))
    apply_fn, state = nnx_functional(model)
    x = jax.random.normal(jax.random.key(1), (64, 2))
    est = make_eval_metric(apply_fn, symmetry=PLANE, num_samples=2)(state, x, jax.random.key(2))
    long = make_eval_metric(apply_fn, symmetry=PLANE, num_samples=256)
    reference = long(state, x, jax.random.key(3))
    assert abs(float(est.value) - float(reference.value)) < 4 * float(est.stderr)
    assert float(reference.stderr) < float(est.stderr)


def test_training_loop_calls_never_recompile():
    model = nnx.Linear(4, 4, rngs=nnx.Rngs(0))
    apply_fn, _ = nnx_functional(model)
    counting = Counting(apply_fn)
    sym = symreg.Symmetry(Cyclic(4), Regular(), Regular())
    evaluate = make_eval_metric(counting, symmetry=sym, num_samples=3)
    optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    x_train = jax.random.normal(jax.random.key(1), (8, 4))
    x_val = jax.random.normal(jax.random.key(2), (8, 4))
    keys = jax.random.split(jax.random.key(3), 4)
    values, calls = [], []
    for step in range(4):  # evaluate every step, between parameter updates
        values.append(float(evaluate(nnx.state(model), x_val, keys[step]).value))
        calls.append(counting.calls)
        grads = nnx.grad(lambda m: jnp.mean(jnp.square(m(x_train) - x_train[:, ::-1])))(model)
        optimizer.update(model, grads)
    assert calls[0] > 0 and calls[-1] == calls[0]  # traced in the first call only
    assert evaluate.jitted._cache_size() == 1
    assert len(set(values)) == len(values)  # the parameters and keys did change


def test_linen_model_apply():
    model = linen.Dense(1)
    x = jax.random.normal(jax.random.key(1), (16, 4))
    variables = model.init(jax.random.key(0), x)
    evaluate = make_eval_metric(model.apply, symmetry=SETS)
    est = evaluate(variables, x)
    expected = symreg.exact_equivariance_error(model.apply, variables, x, symmetry=SETS).mean()
    np.testing.assert_allclose(est.value, expected, rtol=1e-5)
    evaluate(jax.tree.map(lambda a: 2 * a, variables), x)
    assert evaluate.jitted._cache_size() == 1


def test_bad_arguments_are_named():
    apply_fn = lambda p, x: x
    with pytest.raises(TypeError, match="^apply_fn must be callable"):
        make_eval_metric(None, symmetry=SETS)
    with pytest.raises(TypeError, match="^symmetry must be a symreg.Symmetry"):
        make_eval_metric(apply_fn, symmetry=Symmetric(4))
    with pytest.raises(ValueError, match="^num_samples is None"):
        make_eval_metric(apply_fn, symmetry=PLANE)
    with pytest.raises(ValueError, match="^num_samples must be >= 1"):
        make_eval_metric(apply_fn, symmetry=PLANE, num_samples=0)
    evaluate = make_eval_metric(apply_fn, symmetry=PLANE, num_samples=2)
    with pytest.raises(ValueError, match="^key is required"):
        evaluate(None, jnp.ones((4, 2)))
    with pytest.raises(ValueError, match="^x must hold at least 2 examples"):
        evaluate(None, jnp.ones((1, 2)), jax.random.key(0))
