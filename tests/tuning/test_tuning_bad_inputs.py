"""The bad-input battery of `symreg.tuning`: the controllers and the closed-form rules.

Bad targets, step sizes, weights, estimates and variances raise a readable ValueError or
TypeError (tests/bad_input_helpers.py: the tables). Degenerate but legal inputs (the
infinite-variance regime of the closed forms) must give finite tuning outputs.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import jax.numpy as jnp
import pytest
from bad_input_helpers import T, V, assert_readable_error, estimate

from symreg import theory
from symreg.estimators import Estimate
from symreg.tuning import (
    constant_weight,
    dual_ascent,
    relax_to_target,
    target_from_estimate,
    weight_from_estimate,
)


def duck_estimate(value):
    """An estimate-like object that skips `Estimate`'s own checks (tuning must check too)."""
    return SimpleNamespace(value=value, stderr=0.05, n=100, metric="sq", reason=None)


#: id -> (call, exception type, regex that the message must match)
CASES = {
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
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_a_readable_error(case):
    assert_readable_error(*CASES[case])


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
