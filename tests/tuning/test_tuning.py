"""Tests of symreg.tuning: closed-form rules, the dual-ascent controller, relaxation."""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symreg
from symreg import theory
from symreg.actions import Regular, Vector
from symreg.groups import SO2, Cyclic
from symreg.regularizers import regularized_loss
from symreg.tuning import (
    LOG_SPACE_CLIP,
    LOG_SPACE_FLOOR,
    MAX_WEIGHT,
    DualAscentState,
    constant_weight,
    dual_ascent,
    relax_to_target,
    shrink_estimate,
    target_from_estimate,
    weight_from_estimate,
)

RTOL_F32 = 1e-5
#: The controller must bring the model error within this fraction of the target.
CONTROL_RTOL = 0.10
#: A precise estimate (se = this fraction of η̂) must give a target within 2× this fraction².
PRECISE_SE = 1e-3


class FakeEstimate(NamedTuple):
    """A stand-in for symreg.estimators.Estimate (the rules duck-type it)."""

    value: float
    stderr: float
    n: int = 100


# --- shrinkage and the target ---------------------------------------------------------------


def test_shrink_keeps_precise_and_zeroes_consistent_with_zero():
    precise = float(shrink_estimate(FakeEstimate(2.0, 2.0 * PRECISE_SE)))
    np.testing.assert_allclose(precise, 2.0, rtol=2 * PRECISE_SE**2)
    assert float(shrink_estimate(FakeEstimate(0.1, 1.0))) < 0.1 * 0.01 * 1.01
    assert float(shrink_estimate(FakeEstimate(-0.5, 0.1))) == 0.0
    assert float(shrink_estimate(FakeEstimate(0.0, 0.0))) == 0.0
    # se = η̂ halves it: η̂·η̂²/(2η̂²).
    np.testing.assert_allclose(float(shrink_estimate(FakeEstimate(3.0, -3.0))), 1.5, RTOL_F32)


def test_shrink_rejects_objects_without_fields():
    with pytest.raises(TypeError, match="stderr"):
        shrink_estimate(type("E", (), {"value": 1.0})())


def test_target_precise_estimate_is_alpha_star_eta():
    eta, v = 0.8, theory.estimation_variance(1.0, 4, 100, 10)
    got = target_from_estimate(FakeEstimate(eta, eta * PRECISE_SE), variance=v)
    expected = theory.optimal_shrinkage(eta, v) * eta
    np.testing.assert_allclose(float(got), float(expected), rtol=4 * PRECISE_SE**2 + RTOL_F32)
    assert float(got) < eta  # the finite-n target lies below the data error


def test_target_of_estimate_consistent_with_zero_is_near_zero():
    eta, v = 0.8, 0.2
    noisy = float(target_from_estimate(FakeEstimate(0.05, 0.5), variance=v))
    assert noisy < 1e-3 * float(theory.optimal_target(eta, v))
    assert float(target_from_estimate(FakeEstimate(-0.3, 0.1), variance=v)) == 0.0


def test_target_tends_to_eta_as_variance_vanishes():
    got = target_from_estimate(FakeEstimate(0.5, 0.0), variance=0.0)
    np.testing.assert_allclose(float(got), 0.5, RTOL_F32)


def test_target_rejects_negative_variance():
    with pytest.raises(ValueError, match="variance"):
        target_from_estimate(FakeEstimate(0.5, 0.0), variance=-1.0)


# --- the weight ------------------------------------------------------------------------------


def test_weight_precise_estimate_matches_closed_form():
    est = FakeEstimate(0.25, 0.0, n=40)
    got = weight_from_estimate(est, noise_var=2.0, k_break=5)
    np.testing.assert_allclose(float(got), 2.0 * 5 / (40 * 0.25), RTOL_F32)
    np.testing.assert_allclose(
        float(weight_from_estimate(est, noise_var=2.0, k_break=5, n=80)), 0.5, RTOL_F32
    )


@pytest.mark.parametrize("value", [0.0, -0.2])
def test_weight_without_detectable_breaking_is_the_finite_cap(value):
    got = weight_from_estimate(FakeEstimate(value, 0.1), noise_var=1.0, k_break=3)
    assert np.isfinite(float(got)) and float(got) == MAX_WEIGHT
    capped = weight_from_estimate(
        FakeEstimate(value, 0.1), noise_var=1.0, k_break=3, max_weight=7.0
    )
    assert float(capped) == 7.0


def test_weight_argument_errors():
    est = FakeEstimate(0.3, 0.0)
    with pytest.raises(ValueError, match="noise_var"):
        weight_from_estimate(est, noise_var=-1.0, k_break=2)
    with pytest.raises(ValueError, match="max_weight"):
        weight_from_estimate(est, noise_var=1.0, k_break=2, max_weight=0.0)
    with pytest.raises(ValueError, match="n must"):
        weight_from_estimate(est, noise_var=1.0, k_break=2, n=0)
    with pytest.raises(TypeError, match=r"\.n"):
        weight_from_estimate(
            type("E", (), {"value": 1.0, "stderr": 0.0})(), noise_var=1.0, k_break=2
        )


# --- the dual-ascent controller -------------------------------------------------------------


def test_dual_ascent_update_rule():
    ctrl = dual_ascent(0.5, step_size=2.0, max_weight=3.0, init_weight=1.0)
    s0 = ctrl.init()
    assert isinstance(s0, DualAscentState) and int(s0.count) == 0
    up = ctrl.update(s0, 0.75)
    np.testing.assert_allclose(float(up.weight), 1.0 + 2.0 * 0.25, RTOL_F32)
    down = ctrl.update(s0, 0.25)
    np.testing.assert_allclose(float(down.weight), 0.5, RTOL_F32)
    assert float(ctrl.update(s0, 10.0).weight) == 3.0  # clipped at max_weight
    assert float(ctrl.update(s0, 0.0).weight) == 0.0  # clipped at 0
    assert int(ctrl.update(up, 0.5).count) == 2
    moved = ctrl.update(s0._replace(target=jnp.float32(0.75)), 0.75)
    assert float(moved.weight) == 1.0  # the target in the state is the one used


def test_dual_ascent_log_space_rule():
    ctrl = dual_ascent(0.5, step_size=0.1, max_weight=10.0, init_weight=1.0, log_space=True)
    s0 = ctrl.init()
    np.testing.assert_allclose(float(ctrl.update(s0, 0.5 * np.e**0.5).weight), np.e**0.05, 1e-5)
    clipped = ctrl.update(s0, 1e6).weight  # log ratio clipped to LOG_SPACE_CLIP
    np.testing.assert_allclose(float(clipped), np.exp(0.1 * LOG_SPACE_CLIP), 1e-5)
    low = ctrl.update(s0._replace(weight=jnp.float32(1e-9)), 0.0).weight
    np.testing.assert_allclose(float(low), LOG_SPACE_FLOOR * 10.0, 1e-5)
    at_zero_target = dual_ascent(
        0.0, step_size=0.1, max_weight=10.0, init_weight=1.0, log_space=True
    )
    assert float(at_zero_target.update(at_zero_target.init(), 0.3).weight) > 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"step_size": 0.0, "max_weight": 1.0}, "step_size"),
        ({"step_size": 1.0, "max_weight": -1.0}, "max_weight"),
        ({"step_size": 1.0, "max_weight": 1.0, "init_weight": 2.0}, "init_weight"),
        ({"step_size": 1.0, "max_weight": 1.0, "log_space": True}, "init_weight"),
    ],
)
def test_dual_ascent_factory_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dual_ascent(0.1, **kwargs)


def test_dual_ascent_rejects_negative_target():
    with pytest.raises(ValueError, match="target"):
        dual_ascent(-0.1, step_size=1.0, max_weight=1.0)


def test_dual_ascent_update_does_not_retrace():
    ctrl = dual_ascent(0.5, step_size=1.0, max_weight=10.0)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def update(state, err):
        return ctrl.update(state, err)

    state = ctrl.init()
    for target, err in [(0.5, 1.0), (0.1, 0.2), (2.0, 0.0)]:
        state = update(state._replace(target=jnp.float32(target)), jnp.float32(err))
    with pytest.raises(ValueError, match="scalar"):
        ctrl.update(state, jnp.ones(3))


@pytest.mark.parametrize("log_space", [False, True])
def test_dual_ascent_holds_the_weight_on_a_traced_nan(log_space):
    """Under jit a NaN error cannot raise; the weight keeps its value instead of turning NaN."""
    ctrl = dual_ascent(0.5, step_size=0.1, max_weight=10.0, init_weight=1.0, log_space=log_space)
    update = jax.jit(ctrl.update)
    state = update(ctrl.init(), jnp.float32(2.0))  # a real step first: β moves
    held = update(state, jnp.float32(jnp.nan))
    assert float(held.weight) == float(state.weight) != 1.0
    assert int(held.count) == 2
    assert float(update(held, jnp.float32(0.0)).weight) < float(held.weight)  # and goes on


def test_constant_weight():
    ctrl = constant_weight(0.3)
    s = ctrl.update(ctrl.update(ctrl.init(), 5.0), 0.0)
    np.testing.assert_allclose(float(s.weight), 0.3, RTOL_F32)
    assert int(s.count) == 2 and np.isnan(float(s.target))
    with pytest.raises(ValueError, match="weight"):
        constant_weight(-1.0)


def _so2_linear_task():
    kx, kn = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (256, 2))
    w_star = jnp.eye(2) + 0.5 * jnp.diag(jnp.array([1.0, -1.0]))  # a symmetry-breaking part
    y = x @ w_star.T + 0.3 * jax.random.normal(kn, (256, 2))
    return x, y


@pytest.mark.parametrize("log_space", [False, True])
def test_dual_ascent_drives_model_error_to_target(log_space):
    x, y = _so2_linear_task()
    apply = lambda w, x: x @ w.T
    mse = lambda p, t: jnp.mean(jnp.sum((p - t) ** 2, -1))
    sym = symreg.Symmetry(SO2(), Vector(), Vector())
    objective = regularized_loss(mse, apply, penalty=symreg.SymmetryPenalty(sym, num_samples=4))
    target = 0.25  # the unconstrained fit has ED_2 ≈ 1
    ctrl = dual_ascent(
        target,
        step_size=0.05 if log_space else 1.0,
        max_weight=100.0,
        init_weight=0.1 if log_space else 0.0,
        log_space=log_space,
    )

    def body(carry, key):
        w, cs = carry
        grads, aux = jax.grad(objective, has_aux=True)(w, x, y, key, cs.weight)
        return (w - 0.1 * grads, ctrl.update(cs, aux["equivariance_error"])), None

    keys = jax.random.split(jax.random.key(1), 400)
    (w, _), _ = jax.jit(lambda c, k: jax.lax.scan(body, c, k))(
        (jnp.zeros((2, 2)), ctrl.init()), keys
    )
    # For a linear model, the 8 rotations of Cyclic(8) average sin²θ exactly: exact SO(2) ED_2.
    exact_sym = symreg.Symmetry(Cyclic(8), Vector(), Vector())
    final = float(symreg.exact_equivariance_error(apply, w, x, symmetry=exact_sym).mean())
    assert abs(final - target) <= CONTROL_RTOL * target, final


# --- relaxation ---------------------------------------------------------------------------


def test_relax_to_target_rule():
    np.testing.assert_allclose(float(relax_to_target(4.0, 1.0)), 0.5, RTOL_F32)
    assert float(relax_to_target(1.0, 2.0)) == 1.0
    assert float(relax_to_target(0.0, 0.0)) == 1.0
    assert float(relax_to_target(2.0, -1.0)) == 0.0


def test_relax_to_target_reaches_target():
    sym = symreg.Symmetry(Cyclic(8), Regular())
    w = jax.random.normal(jax.random.key(0), (8,))
    x = jax.random.normal(jax.random.key(1), (64, 8))
    apply = lambda w, x: jnp.tanh(x @ w)
    error = lambda fn: float(symreg.exact_equivariance_error(fn, w, x, symmetry=sym).mean())
    before = error(apply)
    target = 0.3 * before
    alpha = relax_to_target(before, target)
    after = error(symreg.relax(apply, alpha, symmetry=sym))
    np.testing.assert_allclose(after, target, rtol=1e-4)


def test_rules_reject_other_metrics():
    est = type("E", (), {"value": 1.0, "stderr": 0.0, "n": 10, "metric": "l2"})()
    with pytest.raises(ValueError, match="'l2'"):
        target_from_estimate(est, variance=0.1)


def test_rules_accept_the_real_estimate():
    estimators = pytest.importorskip("symreg.estimators")
    if not hasattr(estimators, "Estimate"):
        pytest.skip("symreg.estimators.Estimate not available yet")
    est = estimators.Estimate(jnp.float32(0.4), jnp.float32(0.0), method="oracle", n=50)
    np.testing.assert_allclose(float(target_from_estimate(est, variance=0.4)), 0.2, RTOL_F32)
    np.testing.assert_allclose(
        float(weight_from_estimate(est, noise_var=1.0, k_break=2)), 2 / (50 * 0.4), RTOL_F32
    )
    flagged = estimators.Estimate.flagged(0.4, method="pairing", n=3, reason="too few points")
    assert float(target_from_estimate(flagged, variance=0.4)) == 0.0  # fall back to symmetry
    nan = estimators.Estimate.flagged(jnp.nan, method="pairing", n=3, reason="too few points")
    with pytest.raises(ValueError, match=r"estimate.value must be a finite .*too few points"):
        weight_from_estimate(nan, noise_var=1.0, k_break=2)  # never a silent NaN weight
