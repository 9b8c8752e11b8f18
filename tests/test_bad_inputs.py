"""The bad-input battery: every layer of the public API refuses bad input early and readably.

Each case in `CASES` (an id, a call, the exception type, a regex) must raise ValueError or
TypeError whose message names the argument and says what was expected: never a raw XLA or
shape error from deep inside, never a silent NaN. (Bad shapes for every action are in
tests/test_foundation_bad_input.py; this battery spans all layers: kernels, actions, user
representations, groups, the penalty, the loss, optax, tuning, theory, Flax, estimators.)
Degenerate but legal inputs (the infinite-variance regime of the closed forms, a diverging
fit) must give finite tuning outputs or a flagged `Estimate` instead.
"""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import symreg
from symreg import theory
from symreg.actions import Irreps, Permutation, Regular, Vector
from symreg.equivariance import lie_derivatives, pairwise_errors, reynolds_average, squared_l2
from symreg.estimators import Estimate, LinearRegressor, estimate_data_error
from symreg.flax import NNXTrainState, SymmetryTrainState, make_train_step
from symreg.groups import SO2, SO3, Cyclic, Dihedral, DirectProduct, Symmetric
from symreg.regularizers import add_symmetry_penalty, regularized_loss, symmetry_penalty
from symreg.tuning import (
    constant_weight,
    dual_ascent,
    relax_to_target,
    target_from_estimate,
    weight_from_estimate,
)

KEY = jax.random.key(0)
ROT = symreg.Symmetry(SO2(), Vector())
ROT_EQ = symreg.Symmetry(SO2(), Vector(), Vector())
C4 = symreg.Symmetry(Cyclic(4), Regular())
X2 = jax.random.normal(jax.random.key(1), (4, 2))
X4 = jax.random.normal(jax.random.key(2), (4, 4))
C4_MATRICES = np.stack(
    [[[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]] for t in np.pi / 2 * np.arange(4)]
)


def norm(p, x):
    return jnp.sum(x**2, -1)


def three_outputs(p, x):
    return jnp.concatenate([x, x[:, :1]], -1)  # (B, 3): does not fit Vector on R²


def mse(pred, y):
    return jnp.mean((pred - y) ** 2)


def sampled(x=X2, fn=norm, symmetry=ROT, **kw):
    kw = {"num_samples": 2} | kw
    return symreg.equivariance_error(fn, None, x, kw.pop("key", KEY), symmetry=symmetry, **kw)


def penalty(x=X2, fn=norm, symmetry=ROT, key=KEY, **kw):
    return symmetry_penalty(fn, None, x, key, symmetry=symmetry, **kw)


def objective(loss_fn=mse, weight=0.5, y=None):
    obj = regularized_loss(loss_fn, norm, penalty=symreg.SymmetryPenalty(ROT))
    return obj(None, X2, jnp.ones(4) if y is None else y, KEY, weight)


def estimate(value=0.5, stderr=0.05, n=100, **kw):
    return Estimate(jnp.float32(value), jnp.float32(stderr), method="oracle", n=n, **kw)


def duck_estimate(value):
    """An estimate-like object that skips `Estimate`'s own checks (tuning must check too)."""
    return SimpleNamespace(value=value, stderr=0.05, n=100, metric="sq", reason=None)


def linen_state(**kw):
    model = nn.Dense(1)
    params = model.init(jax.random.key(0), X4)["params"]
    args = {"apply_fn": model.apply, "params": params, "tx": optax.sgd(0.1), "key": KEY}
    return SymmetryTrainState.create(**(args | kw))


def train_step(x=X4, loss_fn=mse, **kw):
    return make_train_step(loss_fn, penalty=symreg.SymmetryPenalty(C4), **kw)(
        linen_state(), x, jnp.ones((4, 1))
    )


def data(n=64, *, bad_x=None, bad_y=None):
    x = jax.random.normal(jax.random.key(3), (n, 3))
    y = x.sum(1) + 0.5 * x[:, 0]
    return (x if bad_x is None else bad_x), (y if bad_y is None else bad_y)


PERM = symreg.Symmetry(Symmetric(3), Permutation())


@dataclasses.dataclass(frozen=True)
class BadRegressor:
    """A user regressor whose fit returns no function, or predictions of the wrong shape."""

    returns: str

    def fit(self, x, y, key):
        if self.returns == "coefficients":
            return "coefficients"
        return lambda xb: jnp.zeros((xb.shape[0], 1))


LINEAR = LinearRegressor()


def est(x=None, y=None, n=64, symmetry=PERM, **kw):
    xd, yd = data(n)
    kw = {"regressor": LINEAR} | kw if kw.get("method", "crossfit") == "crossfit" else kw
    return estimate_data_error(
        xd if x is None else x, yd if y is None else y, symmetry=symmetry, key=KEY, **kw
    )


V, T = ValueError, TypeError

#: id -> (call, exception type, regex that the message must match)
CASES = {
    # --- kernels (layer 3) ---------------------------------------------------------------
    "kernel-integer-x": (
        lambda: sampled(jnp.ones((4, 2), jnp.int32)),
        V,
        r"x \(one example\).*expected a floating dtype, got int32",
    ),
    "kernel-x-missing-feature-axis": (
        lambda: sampled(jnp.ones(4)),
        V,
        r"x \(one example\).*expected a last axis of size 2, got shape \(\)",
    ),
    "kernel-empty-batch": (lambda: sampled(jnp.ones((0, 2))), V, r"x has an empty batch \(B = 0\)"),
    "kernel-zero-samples": (lambda: sampled(num_samples=0), V, r"num_samples must be >= 1, got 0"),
    "kernel-negative-samples": (
        lambda: sampled(num_samples=-3),
        V,
        r"num_samples must be >= 1, got -3",
    ),
    "kernel-act-out-does-not-fit-output": (
        lambda: sampled(fn=three_outputs, symmetry=ROT_EQ),
        V,
        r"apply_fn output \(one example\).*expected a last axis of size 2, got shape \(3,\)",
    ),
    "kernel-output-without-batch-axis": (
        lambda: sampled(fn=lambda p, x: jnp.sum(x)),
        V,
        r"apply_fn\(params, x\) must have a leading batch axis B, got a scalar",
    ),
    "exact-kernel-on-continuous-group": (
        lambda: symreg.exact_equivariance_error(norm, None, X2, symmetry=ROT),
        T,
        r"exact_equivariance_error enumerates a finite group, but symmetry.transforms is SO2\(\)",
    ),
    "lie-kernel-on-finite-group": (
        lambda: symreg.lie_derivative_error(norm, None, X4, symmetry=C4),
        T,
        r"lie_derivative_error needs a continuous \(Lie\) group",
    ),
    "kernel-unknown-metric": (
        lambda: sampled(metric="cosine"),
        V,
        r"metric must be one of \[.*\] or a callable, got 'cosine'",
    ),
    "kernel-unknown-sampling": (
        lambda: sampled(sampling="sobol"),
        V,
        r"sampling must be one of \('iid', 'stratified'\), got 'sobol'",
    ),
    "kernel-metric-not-scalar": (
        lambda: sampled(fn=lambda p, x: x, symmetry=ROT_EQ, metric=lambda a, b: a - b),
        V,
        r"metric must return a scalar for one pair of outputs \(one example each\), got shape \(2,\)",
    ),
    "penalty-metric-not-scalar": (
        lambda: penalty(fn=lambda p, x: x, symmetry=ROT_EQ, metric=lambda a, b: a - b),
        V,
        r"metric must return a scalar for one pair of outputs",
    ),
    "debug-checked-not-callable": (
        lambda: symreg.debug.checked("yes"),
        T,
        r"fn must be callable, got 'yes' of type str",
    ),
    "kernel-integer-key": (lambda: sampled(key=0), T, r"key must be a JAX PRNG key"),
    "symmetrize-output-does-not-fit": (
        lambda: symreg.symmetrize(three_outputs, symmetry=ROT_EQ, num_samples=2, key=KEY)(None, X2),
        V,
        r"apply_fn output \(one example\).*expected a last axis of size 2",
    ),
    "relax-vector-alpha": (
        lambda: symreg.relax(norm, jnp.ones(3), symmetry=C4),
        V,
        r"alpha must be a scalar, got shape \(3,\)",
    ),
    "relax-nan-alpha": (
        lambda: symreg.relax(norm, math.nan, symmetry=C4),
        V,
        r"alpha must be finite and >= 0, got nan",
    ),
    # --- actions and groups (layers 1-2) ---------------------------------------------------
    "regular-action-on-continuous-group": (
        lambda: symreg.Symmetry(SO2(), Regular()),
        V,
        r"act_in=Regular\(axis=-1\) cannot act with elements of SO2\(\).*needs a finite group",
    ),
    "irreps-action-on-cyclic-group": (
        lambda: symreg.Symmetry(Cyclic(4), Irreps("1o")),
        V,
        r"act_in=Irreps\(\"1x1o\"\) cannot act with elements of Cyclic\(n=4\).*SO3 or O3",
    ),
    "cyclic-order-zero": (lambda: Cyclic(0), V, r"n must be >= 1, got 0"),
    "dihedral-negative-order": (lambda: Dihedral(-2), V, r"n must be >= 1, got -2"),
    "sample-negative-shape": (
        lambda: SO2().sample(KEY, (-1,)),
        V,
        r"shape must contain non-negative ints, got \(-1,\)",
    ),
    # --- user representations: Vector(matrices=...) ----------------------------------------
    "vector-matrices-not-orthogonal": (
        lambda: Vector(matrices=2 * C4_MATRICES),
        V,
        r"matrices must be orthogonal .*matrices\[0\] @ matrices\[0\].T differs from the identity",
    ),
    "vector-matrices-not-square": (
        lambda: Vector(matrices=np.ones((4, 2, 3))),
        V,
        r"matrices must have shape \(G, d, d\).*got shape \(4, 2, 3\)",
    ),
    "vector-matrices-rank-2": (
        lambda: Vector(matrices=np.eye(2)),
        V,
        r"matrices must have shape \(G, d, d\).*got shape \(2, 2\)",
    ),
    "vector-matrices-nan": (
        lambda: Vector(matrices=C4_MATRICES * np.nan),
        V,
        r"matrices contains NaN or Inf \(first at \[0, 0, 0\]\)",
    ),
    "vector-matrices-not-numbers": (
        lambda: Vector(matrices="rotations"),
        T,
        r"matrices must be a \(G, d, d\) array of real numbers, got str",
    ),
    "vector-matrices-wrong-order": (
        lambda: symreg.Symmetry(Cyclic(3), Vector(matrices=C4_MATRICES)),
        V,
        r"matrices must hold one matrix per element: G = 3 for this group, got 4",
    ),
    "vector-matrices-not-a-homomorphism": (
        lambda: symreg.Symmetry(Cyclic(4), Vector(matrices=C4_MATRICES[[0, 1, 1, 3]])),
        V,
        r"matrices must be a representation, matrices\[index\(g·h\)\] = matrices\[index\(g\)\]",
    ),
    "vector-matrices-continuous-group": (
        lambda: symreg.Symmetry(SO2(), Vector(matrices=C4_MATRICES)),
        V,
        r"matrices \(a user representation\) needs a finite group",
    ),
    "vector-matrices-x-dimension": (
        lambda: sampled(
            jnp.ones((4, 3)), symmetry=symreg.Symmetry(Cyclic(4), Vector(matrices=C4_MATRICES))
        ),
        V,
        r"x \(one example\).*expected a last axis of size 2, got shape \(3,\)",
    ),
    # --- the penalty, the loss, optax (layer 5) --------------------------------------------
    "penalty-unknown-method": (
        lambda: penalty(method="exact"),
        V,
        r"method must be one of \('sampled', 'lie'\), got 'exact'",
    ),
    "penalty-lie-on-finite-group": (
        lambda: penalty(X4, symmetry=C4, method="lie"),
        V,
        r"method='lie' needs a continuous \(Lie\) group",
    ),
    "penalty-lie-with-kl-metric": (
        lambda: penalty(method="lie", metric="kl"),
        V,
        r"metric for method='lie' must be 'sq' or 'l2'",
    ),
    "penalty-zero-batch-size": (
        lambda: penalty(penalty_batch_size=0),
        V,
        r"penalty_batch_size must be >= 1, got 0",
    ),
    "penalty-float-samples": (
        lambda: penalty(num_samples=2.5),
        T,
        r"num_samples must be a positive int, got 2.5 of type float",
    ),
    "penalty-missing-key": (lambda: penalty(key=None), T, r"key must be a JAX PRNG key"),
    "penalty-act-out-does-not-fit-output": (
        lambda: penalty(fn=three_outputs, symmetry=ROT_EQ),
        V,
        r"apply_fn output \(one example\).*expected a last axis of size 2",
    ),
    "penalty-integer-x": (
        lambda: penalty(jnp.ones((4, 2), jnp.int32)),
        V,
        r"x \(one example\).*expected a floating dtype, got int32",
    ),
    "loss-fn-not-scalar": (
        lambda: objective(loss_fn=lambda p, y: (p - y) ** 2),
        V,
        r"loss_fn must return a scalar, got shape \(4,\)",
    ),
    "loss-vector-weight": (
        lambda: objective(weight=jnp.ones(3)),
        V,
        r"weight must be a scalar \(β\), got shape \(3,\)",
    ),
    "loss-negative-weight": (
        lambda: objective(weight=-1.0),
        V,
        r"weight must be finite and >= 0, got -1.0",
    ),
    "loss-fn-not-callable": (
        lambda: regularized_loss("mse", norm, penalty=symreg.SymmetryPenalty(ROT)),
        T,
        r"loss_fn must be callable, got 'mse' of type str",
    ),
    "optax-nan-weight": (
        lambda: add_symmetry_penalty(norm, penalty=symreg.SymmetryPenalty(ROT), weight=math.nan),
        V,
        r"weight must be finite and >= 0, got nan",
    ),
    "optax-update-without-batch": (
        lambda: add_symmetry_penalty(norm, penalty=symreg.SymmetryPenalty(ROT), weight=1.0).update(
            jnp.ones(2),
            add_symmetry_penalty(norm, penalty=symreg.SymmetryPenalty(ROT), weight=1.0).init(None),
            None,
        ),
        V,
        r"add_symmetry_penalty.update is missing \['params', 'x', 'key'\]",
    ),
    # --- tuning (layer 6) and theory (layer 0) ---------------------------------------------
    "dual-ascent-negative-target": (
        lambda: dual_ascent(-0.1, step_size=1.0, max_weight=1.0),
        V,
        r"target must be finite and >= 0, got -0.1",
    ),
    "dual-ascent-zero-step": (
        lambda: dual_ascent(0.1, step_size=0, max_weight=1.0),
        V,
        r"step_size must be finite and > 0, got 0.0",
    ),
    "dual-ascent-init-above-max": (
        lambda: dual_ascent(0.1, step_size=1.0, max_weight=1.0, init_weight=2.0),
        V,
        r"init_weight must be <= max_weight = 1.0, got 2.0",
    ),
    "dual-ascent-log-space-zero-init": (
        lambda: dual_ascent(0.1, step_size=1.0, max_weight=1.0, log_space=True),
        V,
        r"init_weight must be finite and > 0, got 0.0",
    ),
    "dual-ascent-vector-error": (
        lambda: dual_ascent(0.1, step_size=1.0, max_weight=1.0).update(
            dual_ascent(0.1, step_size=1.0, max_weight=1.0).init(), jnp.ones(3)
        ),
        V,
        r"model_error must be a scalar, got shape \(3,\)",
    ),
    "dual-ascent-nan-error": (
        lambda: dual_ascent(0.1, step_size=1.0, max_weight=1.0).update(
            dual_ascent(0.1, step_size=1.0, max_weight=1.0).init(), math.nan
        ),
        V,
        r"model_error must be a number >= 0 \(an ED_2 estimate\), got nan",
    ),
    "constant-weight-infinite": (
        lambda: constant_weight(math.inf),
        V,
        r"weight must be finite and >= 0, got inf",
    ),
    "target-from-nan-estimate": (
        lambda: target_from_estimate(duck_estimate(math.nan), variance=0.1),
        V,
        r"estimate.value must be a finite number, got .*nan",
    ),
    "target-from-infinite-estimate": (
        lambda: target_from_estimate(duck_estimate(math.inf), variance=0.1),
        V,
        r"estimate.value must be a finite number, got .*inf",
    ),
    "target-from-flagged-nan-estimate": (
        lambda: target_from_estimate(
            Estimate.flagged(math.nan, method="mmd", n=8, reason="fit diverged"), variance=0.1
        ),
        V,
        r"estimate.value must be a finite number, got .*nan.* \(the estimate is flagged: fit diverged\)",
    ),
    "target-nan-variance": (
        lambda: target_from_estimate(estimate(), variance=jnp.float32(math.nan)),
        V,
        r"variance must be a finite number or \+inf, got .*nan",
    ),
    "target-negative-variance": (
        lambda: target_from_estimate(estimate(), variance=-1.0),
        V,
        r"variance must be finite and >= 0, got -1.0",
    ),
    "target-from-a-number": (
        lambda: target_from_estimate(0.3, variance=0.1),
        T,
        r"estimate must have .value and .stderr \(a symreg.estimators.Estimate\), got float",
    ),
    "target-from-l2-estimate": (
        lambda: target_from_estimate(estimate(metric="l2"), variance=0.1),
        V,
        r"the tuning rules need an estimate of η₂ = ED_2 \(metric 'sq'\), got metric 'l2'",
    ),
    "weight-with-zero-n": (
        lambda: weight_from_estimate(estimate(), noise_var=1.0, k_break=2, n=0),
        V,
        r"n must be finite and > 0, got 0.0",
    ),
    "weight-negative-noise-array": (
        lambda: weight_from_estimate(estimate(), noise_var=jnp.float32(-1.0), k_break=2),
        V,
        r"noise_var must be >= 0, got .*-1",
    ),
    "weight-estimate-without-n": (
        lambda: weight_from_estimate(
            SimpleNamespace(value=0.5, stderr=0.1), noise_var=1.0, k_break=2
        ),
        T,
        r"estimate has no .n; pass n",
    ),
    "relax-to-nan-error": (
        lambda: relax_to_target(math.nan, 0.1),
        V,
        r"model_error must be a finite number or \+inf, got nan",
    ),
    "relax-to-negative-error": (
        lambda: relax_to_target(-1.0, 0.1),
        V,
        r"model_error must be >= 0, got -1.0",
    ),
    "theory-zero-samples": (
        lambda: theory.elesedy_zaidi_gap(0, 3, 1.0, 1.0),
        V,
        r"n must be >= 1, got 0",
    ),
    "theory-fixed-space-above-d": (
        lambda: theory.elesedy_zaidi_gap(10, 3, 4.0, 1.0),
        V,
        r"dim_fixed must be finite, >= 0 and <= 3",
    ),
    # --- Flax (layer 7) ------------------------------------------------------------------
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
    # --- group elements, Symmetry.act_*, low-level kernels, theory, Estimate, train state --
    "group-compose-out-of-range": (
        lambda: Cyclic(4).compose(7, 1),
        V,
        r"g = 7 is not an element of Cyclic\(n=4\): expected an integer in \[0, 4\)",
    ),
    "group-float-element-of-finite-group": (
        lambda: Cyclic(4).inverse(1.5),
        T,
        r"g must be an element of Cyclic\(n=4\): expected an integer dtype",
    ),
    "group-batched-element": (
        lambda: Symmetric(3).compose(jnp.zeros((2, 3), jnp.int32), jnp.arange(3)),
        V,
        r"g must be one element of Symmetric\(n=3\): expected shape \(3,\) \(no batch axis",
    ),
    "group-not-a-permutation": (
        lambda: Symmetric(3).inverse(jnp.array([0, 0, 1])),
        V,
        r"g = \[0 0 1\] is not an element of Symmetric\(n=3\): expected a permutation",
    ),
    "group-matrix-not-orthogonal": (
        lambda: SO3().compose(2 * jnp.eye(3), jnp.eye(3)),
        V,
        r"is not an element of SO3\(\): expected an orthogonal matrix, but max \|gᵀg − I\| = 3",
    ),
    "group-reflection-in-so3": (
        lambda: SO3().inverse(jnp.diag(jnp.array([1.0, 1.0, -1.0]))),
        V,
        r"expected a rotation \(determinant \+1\), got a reflection",
    ),
    "group-index-out-of-range": (
        lambda: Dihedral(3).element_from_index(6),
        V,
        r"i = 6 is not an index of Dihedral\(n=3\): expected 0 <= i < 6",
    ),
    "group-product-element-not-a-tuple": (
        lambda: DirectProduct(SO2(), Cyclic(3)).inverse(jnp.eye(2)),
        T,
        r"g must be one element of DirectProduct\(SO2\(\), Cyclic\(n=3\)\), shaped like",
    ),
    "group-traced-element-wrong-shape": (
        lambda: jax.jit(lambda g: Cyclic(4).compose(g, 1))(jnp.zeros(3, jnp.int32)),
        V,
        r"g must be one element of Cyclic\(n=4\): expected shape \(\)",
    ),
    "symmetry-act-input-wrong-size": (
        lambda: C4.act_input(1, jnp.ones(5)),
        V,
        r"x: Regular\(axis=-1\) cannot act on one example .*expected axis -1 of size \|G\| = 4",
    ),
    "symmetry-act-output-wrong-element": (
        lambda: ROT_EQ.act_output(jnp.eye(3), jnp.ones(2)),
        V,
        r"g must be one element of SO2\(\): expected shape \(2, 2\)",
    ),
    "pairwise-elements-wrong-batch": (
        lambda: pairwise_errors(
            norm, None, X2, None, SO2().sample(KEY, (3, 5)), symmetry=ROT, metric=squared_l2
        ),
        V,
        r"elements must be elements of SO2\(\) with leading axes \(3, 4\)",
    ),
    "pairwise-x-does-not-fit": (
        lambda: pairwise_errors(
            norm, None, X4, None, SO2().sample(KEY, (3, 4)), symmetry=ROT, metric=squared_l2
        ),
        V,
        r"x \(one example\): Vector\(\) cannot act",
    ),
    "reynolds-no-elements": (
        lambda: reynolds_average(norm, None, X2, SO2().sample(KEY, (0,)), symmetry=ROT),
        V,
        r"elements must be elements of SO2\(\) with leading axes \(0,\) \(S >= 1",
    ),
    "lie-derivatives-on-finite-group": (
        lambda: lie_derivatives(norm, None, X4, C4),
        T,
        r"lie_derivatives needs a continuous \(Lie\) group",
    ),
    "lie-derivatives-integer-x": (
        lambda: lie_derivatives(norm, None, jnp.ones((4, 2), jnp.int32), ROT),
        V,
        r"x \(one example\).*expected a floating dtype, got int32",
    ),
    "theory-negative-eta": (
        lambda: theory.approximation_error(-1.0, 0.0),
        V,
        r"eta must be >= 0, got -1.0",
    ),
    "theory-nan-variance": (
        lambda: theory.optimal_shrinkage(1.0, math.nan),
        V,
        r"variance must be a finite number or \+inf, got nan",
    ),
    "theory-negative-noise-variance": (
        lambda: theory.estimation_variance(-1.0, 4, 40, 10),
        V,
        r"sigma2 must be >= 0, got -1.0",
    ),
    "theory-infinite-eta": (
        lambda: theory.optimal_weight(1.0, 5, 40, math.inf),
        V,
        r"eta must be a finite number, got inf",
    ),
    "estimate-negative-stderr": (
        lambda: estimate(stderr=-0.1),
        V,
        r"stderr must be >= 0 \(or \+inf when flagged\)",
    ),
    "estimate-nan-value-not-flagged": (
        lambda: estimate(value=math.nan),
        V,
        r"value must be finite, got .*nan.*Estimate.flagged",
    ),
    "estimate-zero-n": (lambda: estimate(n=0), V, r"n must be >= 1 \(the number of examples\)"),
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
    # --- estimators (layer 4) ------------------------------------------------------------
    "estimate-nan-in-x": (
        lambda: est(x=data()[0].at[3, 1].set(jnp.nan)),
        V,
        r"x contains NaN or Inf \(first at index \[3, 1\]\)",
    ),
    "estimate-inf-in-y": (
        lambda: est(y=data()[1].at[5].set(jnp.inf)),
        V,
        r"y contains NaN or Inf \(first at index \[5\]\)",
    ),
    "estimate-different-n": (
        lambda: est(y=data()[1][:63]),
        V,
        r"x and y must have the same number of examples N, got 64 and 63",
    ),
    "estimate-n-too-small-for-crossfit": (
        lambda: est(*data(5)),
        V,
        r"x has N = 5 examples; this method needs at least 6",
    ),
    "estimate-n-too-small-for-the-folds": (
        lambda: est(*data(10)),
        V,
        r"x has N = 10 examples; folds=8 needs at least 16",
    ),
    "estimate-constant-y": (
        lambda: est(y=jnp.ones(64)),
        V,
        r"y is constant \(every example equal\)",
    ),
    "estimate-duplicated-x": (
        lambda: est(x=jnp.tile(jnp.array([[1.0, 0.0, 0.0]]), (64, 1))),
        V,
        r"x is constant \(every example equal\)",
    ),
    "estimate-unknown-method": (
        lambda: est(method="bogus"),
        V,
        r"method must be one of \['crossfit', 'mmd', 'oracle', 'pairing', 'riskgap'\], got 'bogus'",
    ),
    "estimate-unknown-option": (
        lambda: est(bandwidth=1.0),
        T,
        r"unknown options \['bandwidth'\] for method='crossfit'",
    ),
    "estimate-integer-y": (
        lambda: est(y=jnp.arange(64)),
        T,
        r"y must have a floating dtype, got int32",
    ),
    "estimate-y-does-not-fit-act-out": (
        lambda: est(symmetry=symreg.Symmetry(Symmetric(3), Permutation(), Permutation())),
        V,
        r"y \(one example\).*expected axis 0 of size 3",
    ),
    "estimate-pairing-on-continuous-group": (
        lambda: est(x=X2.repeat(4, 0), y=jnp.arange(16.0), symmetry=ROT, method="pairing"),
        T,
        r"method='pairing' needs a finite group",
    ),
    "estimate-oracle-without-target": (
        lambda: est(method="oracle"),
        T,
        r"method='oracle' needs target_fn",
    ),
    "estimate-regressor-fit-returns-no-function": (
        lambda: est(regressor=BadRegressor(returns="coefficients")),
        T,
        r"regressor.fit\(x, y, key\) must return a prediction function predict\(x_batch\), got str",
    ),
    "estimate-regressor-predicts-wrong-shape": (
        lambda: est(regressor=BadRegressor(returns="column")),
        V,
        r"outputs shaped like y \(one row per example\): expected leaves of shapes \[\(64,\)\], "
        r"got \[\(64, 1\)\]",
    ),
    "estimate-crossfit-with-l2-metric": (
        lambda: est(metric="l2"),
        V,
        r"method='crossfit' estimates η₂ \(metric='sq'\) only, got metric='l2'",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_a_readable_error(case):
    call, kind, pattern = CASES[case]
    with pytest.raises(kind, match=pattern) as info:
        call()
    assert type(info.value) in (ValueError, TypeError), type(info.value)  # not a subclass


def test_the_battery_is_large():
    assert len(CASES) >= 40


def test_infinite_variance_regime_gives_finite_tuning():
    """n in [d − 1, d + 1]: the closed forms are +inf; tuning then enforces the symmetry."""
    d, n = 10, 11  # n = d + 1
    v = theory.estimation_variance(1.0, 4, n, d)
    gap = theory.elesedy_zaidi_gap(n, d, 6.0, 1.0)
    assert math.isinf(float(v)) and math.isinf(float(gap))
    for variance in (v, 2 * gap, math.inf):
        target = target_from_estimate(estimate(n=n), variance=variance)
        assert float(target) == 0.0  # α* = η / (η + ∞) = 0, never NaN
    assert float(relax_to_target(math.inf, 0.1)) == 0.0
    controller = dual_ascent(0.1, step_size=1.0, max_weight=5.0)
    assert float(controller.update(controller.init(), jnp.inf).weight) == 5.0
    flagged = Estimate.flagged(0.4, method="pairing", n=n, reason="too few points")
    assert float(weight_from_estimate(flagged, noise_var=1.0, k_break=4)) == 1e6  # the cap


@pytest.mark.parametrize("method", ["crossfit", "riskgap"])
def test_interpolating_least_squares_gives_a_flagged_estimate(method):
    """Folds of 8 examples for 11 features (10 slopes + intercept): n <= P + 1 per fit."""
    sym = symreg.Symmetry(Symmetric(10), Permutation())
    x = jax.random.normal(jax.random.key(4), (64, 10))
    y = x.sum(1) + 0.3 * x[:, 0]
    kw = dict(symmetry=sym, key=KEY, method=method, folds=8)
    small = estimate_data_error(x, y, regressor=LinearRegressor(), **kw)
    assert math.isinf(float(small.stderr)) and not small.is_reliable
    assert "as few as 8 examples, but it needs at least 13" in small.reason
    ridge = estimate_data_error(x, y, regressor=LinearRegressor(ridge=0.1), **kw)
    enough = estimate_data_error(x, y, regressor=LinearRegressor(), **(kw | {"folds": 4}))
    assert ridge.is_reliable and enough.is_reliable  # ridge, or folds of 16 >= 13, are fine


def test_overflowing_data_gives_a_flagged_estimate():
    x, y = data()
    result = est(x=x, y=y * 1e30)  # finite data whose squares overflow float32
    assert math.isinf(float(result.stderr)) and not result.is_reliable
    assert "non-finite" in result.reason
