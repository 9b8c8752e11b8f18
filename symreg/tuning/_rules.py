"""Closed-form tuning rules: the target error, the penalty weight and the relaxation strength.

The rules read an estimate of the data equivariance error η₂ duck-typed: any object with
`.value` (η̂, a scalar), `.stderr` (its standard error) and `.n` (the sample size), such as
`symreg.estimators.Estimate`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from symreg import _validation
from symreg.theory import optimal_target, optimal_weight

#: Default cap on the penalty weight when the data shows no detectable symmetry breaking.
MAX_WEIGHT = 1e6


def _number(value: Any, name: str, *, allow_zero: bool = True, allow_inf: bool = False) -> Any:
    """Validates numbers and concrete arrays: finite (or +inf if allowed) and >= 0 (or > 0).

    Traced values pass unchecked (NaN then propagates: use a debug mode to catch it).
    """
    if isinstance(value, (bool, int, float)) and not (allow_inf and value == float("inf")):
        return _validation.positive_float(value, name, allow_zero=allow_zero)
    _validation.check_concrete_number(
        value, name, allow_inf=allow_inf, lower=0.0, allow_lower=allow_zero
    )
    return value


def _read(estimate: Any) -> tuple[jax.Array, jax.Array]:
    for field in ("value", "stderr"):
        if not hasattr(estimate, field):
            raise TypeError(
                f"estimate must have .value and .stderr (a symreg.estimators.Estimate), got "
                f"{type(estimate).__name__} without .{field}"
            )
    metric = getattr(estimate, "metric", "sq")
    if isinstance(metric, str) and metric != "sq":
        raise ValueError(
            f"the tuning rules need an estimate of η₂ = ED_2 (metric 'sq'), got metric {metric!r}"
        )
    reason = getattr(estimate, "reason", None)
    why = f" (the estimate is flagged: {reason})" if reason else ""
    _validation.check_concrete_number(
        estimate.value, "estimate.value", allow_inf=False, lower=None, note=why
    )
    _validation.check_concrete_number(
        estimate.stderr, "estimate.stderr", allow_inf=True, lower=None, note=why
    )
    return (
        jnp.asarray(estimate.value, jnp.float32),
        jnp.abs(jnp.asarray(estimate.stderr, jnp.float32)),
    )


def shrink_estimate(estimate: Any) -> jax.Array:
    """The shrunk data error η̃ = max(η̂, 0)·η̂² / (η̂² + se²) used by every rule here.

    Why: η̂ is (close to) unbiased with standard error se, and among rescalings c·η̂ the one
    with the least mean squared error is c = η² / (η² + se²); plugging η̂ for η gives the
    factor above (a Wiener/James–Stein-type shrinkage). It is continuous in (η̂, se), leaves a
    precise estimate alone (se ≪ η̂ ⇒ η̃ ≈ η̂) and sends an estimate consistent with 0
    (η̂ ≲ se) to ≈ 0, i.e. "no detectable symmetry breaking"; a negative η̂ (debiased
    estimators can undershoot) gives 0. A hard threshold (η̂ < z·se ⇒ 0) would make the
    target jump as se changes; the smooth factor does not.

    Args:
      estimate: an object with `.value` η̂ and `.stderr` se (scalars).

    Returns:
      η̃ >= 0, a float32 scalar.

    Raises:
      TypeError: `estimate` lacks `.value` or `.stderr`.
      ValueError: `estimate.metric` is present and not "sq"; a concrete `value` that is NaN
        or infinite, or a NaN `stderr` (a flagged estimate's `stderr = +inf` is allowed:
        it shrinks η̃ to 0, i.e. falls back to the symmetry).

    Examples:
      >>> from types import SimpleNamespace as E
      >>> from symreg.tuning import shrink_estimate
      >>> float(shrink_estimate(E(value=1.0, stderr=1.0))), float(shrink_estimate(E(value=-1.0, stderr=0.1)))
      (0.5, 0.0)
    """
    eta, se = _read(estimate)
    power = jnp.square(eta)
    total = power + jnp.square(se)
    factor = jnp.where(total > 0, power / jnp.where(total > 0, total, 1.0), 0.0)
    return jnp.maximum(eta, 0.0) * factor


def target_from_estimate(estimate: Any, *, variance: ArrayLike) -> jax.Array:
    """The finite-n target ε = α̂·η̃ for the model equivariance error, α̂ = η̃ / (η̃ + v).

    η̃ is `shrink_estimate(estimate)`; v is the estimation variance of the symmetry-breaking
    part in ED_2 units, e.g. `symreg.theory.estimation_variance(σ², k_A, n, d)` =
    2σ²k_A/(n − d − 1) in the linear-Gaussian model (re-exported here). As n → ∞, v → 0 and ε
    → η (match the data's symmetry); at finite n, ε < η, because forcing ED(model) = η̂
    over-relaxes. See `symreg.theory.optimal_target`.

    Args:
      estimate: an `Estimate`-like object with `.value` and `.stderr` (η₂ in ED_2 units).
      variance: v >= 0.

    Returns:
      ε >= 0, a float32 scalar; 0 for v = +inf (e.g. `estimation_variance` with
      n <= d + 1: the symmetry-breaking part cannot be estimated, so enforce the symmetry).

    Raises:
      TypeError: `estimate` lacks `.value`/`.stderr`.
      ValueError: a negative or NaN `variance` (a number or concrete array); the cases of
        `shrink_estimate`.

    Examples:
      >>> from types import SimpleNamespace as E
      >>> from symreg.tuning import target_from_estimate
      >>> round(float(target_from_estimate(E(value=1.0, stderr=0.0), variance=1.0)), 6)
      0.5
    """
    variance = _number(variance, "variance", allow_inf=True)
    return optimal_target(shrink_estimate(estimate), variance)


def weight_from_estimate(
    estimate: Any,
    *,
    noise_var: ArrayLike,
    k_break: ArrayLike,
    n: ArrayLike | None = None,
    max_weight: float = MAX_WEIGHT,
) -> jax.Array:
    """The penalty weight β* ≈ σ² k_A / (n η̃), capped at `max_weight`.

    The risk-optimal weight of (1/n) Σ ‖y_i − f(x_i)‖² + β·ED_2(f) in the linear-Gaussian
    model (`symreg.theory.optimal_weight`), with η̃ = `shrink_estimate(estimate)`. When η̃ = 0
    (η̂ <= 0, or η̂ consistent with 0) β* is infinite in theory; the rule returns the finite
    cap `max_weight` instead (never inf or NaN), which acts as "enforce the symmetry".

    Args:
      estimate: an `Estimate`-like object with `.value`, `.stderr` and `.n`.
      noise_var: σ², the noise variance of the targets.
      k_break: k_A, the number of symmetry-breaking degrees of freedom.
      n: the training-set size; defaults to `estimate.n`.
      max_weight: the cap, > 0.

    Returns:
      β in (0, max_weight], a float32 scalar (0 only if σ² or k_A is 0; NaN only for a
      traced NaN η̂: concrete ones raise).

    Raises:
      TypeError: `estimate` lacks a field used.
      ValueError: a negative or non-finite number (or concrete array) among the arguments;
        the cases of `shrink_estimate`.

    Examples:
      >>> from types import SimpleNamespace as E
      >>> from symreg.tuning import weight_from_estimate
      >>> est = E(value=0.25, stderr=0.0, n=40)
      >>> float(weight_from_estimate(est, noise_var=1.0, k_break=5))
      0.5
      >>> float(weight_from_estimate(E(value=-0.1, stderr=0.1, n=40), noise_var=1.0, k_break=5))
      1000000.0
    """
    noise_var = _number(noise_var, "noise_var")
    k_break = _number(k_break, "k_break")
    max_weight = _validation.positive_float(max_weight, "max_weight")
    if n is None:
        if not hasattr(estimate, "n"):
            raise TypeError(f"estimate has no .n; pass n, got {type(estimate).__name__}")
        n = estimate.n
    n = _number(n, "n", allow_zero=False)
    eta = shrink_estimate(estimate)
    beta = jnp.minimum(optimal_weight(noise_var, k_break, n, eta), jnp.float32(max_weight))
    return jnp.where(jnp.isnan(eta), jnp.nan, beta)


def posterior_eta(estimate: Any) -> jax.Array:
    """The posterior mean η̄ = E[η | η̂] for η̂ ~ N(η, se²) and a flat prior on η >= 0.

    η̄ = η̂ + se·φ(z)/Φ(z) with z = η̂/se (the mean of a normal truncated at 0). Why this and not
    `shrink_estimate`: the linear-Gaussian risk of a weight is linear in η (approximation
    (1 − s)²η/2 plus estimation s²v/2 for the shrinkage s = 1/(1 + 2β)), so the weight that
    minimizes the expected risk given the estimate plugs in E[η | η̂]. Shrinking η̂ towards 0
    by its s.e. instead pushes the weight up, where the risk grows fastest. η̄ > 0 always,
    ≈ η̂ for a precise estimate (se ≪ η̂) and ≈ 0.8·se for η̂ = 0; a clearly negative η̂ gives
    ≈ se²/|η̂|. se = 0 gives max(η̂, 0); se = +inf (a flagged estimate) gives 0: no information,
    fall back to the symmetry.

    Args:
      estimate: an object with `.value` η̂ and `.stderr` se (scalars).

    Returns:
      η̄ >= 0, a float32 scalar.

    Raises:
      TypeError, ValueError: the cases of `shrink_estimate`.

    Examples:
      >>> from types import SimpleNamespace as E
      >>> from symreg.tuning import posterior_eta
      >>> round(float(posterior_eta(E(value=1.0, stderr=0.01))), 4)
      1.0
      >>> round(float(posterior_eta(E(value=0.0, stderr=1.0))), 4)   # φ(0)/Φ(0) = 0.7979
      0.7979
    """
    return _posterior_mean(*_read(estimate))


@jax.jit
def _posterior_mean(eta: jax.Array, se: jax.Array) -> jax.Array:
    """The arithmetic of `posterior_eta`, compiled once: evaluated op by op on concrete scalars
    it cost about 2 ms of dispatch per call (log_ndtr alone is dozens of ops), which `calibrate`
    paid twice. Under a caller's jit it is inlined."""
    finite = jnp.isfinite(se) & (se > 0)
    safe = jnp.where(finite, se, 1.0)
    z = eta / safe
    ratio = jnp.exp(jax.scipy.stats.norm.logpdf(z) - jax.scipy.special.log_ndtr(z))
    mean = eta + safe * ratio
    return jnp.where(finite, mean, jnp.where(jnp.isinf(se), 0.0, jnp.maximum(eta, 0.0)))


def weight_from_variance(
    estimate: Any, *, variance: ArrayLike, max_weight: float = MAX_WEIGHT
) -> jax.Array:
    """The penalty weight β̂ = v / (2η̄) from the fit's estimation variance v, capped.

    In the linear-Gaussian model the penalty β·ED_2 shrinks the least-squares fit's
    symmetry-breaking part by 1/(1 + 2β), and the risk-optimal shrinkage is α* = η/(η + v)
    (`symreg.theory.optimal_target`), so β* = v/(2η): the weight of `weight_from_estimate`
    with σ²k_A = n·v/2, which needs neither σ² nor k_A, only v (measured for any model by
    `symreg.flax.calibrate`). η̄ = `posterior_eta(estimate)`, the plug-in that minimizes the
    expected risk; η̄ = 0 (a flagged estimate) gives `max_weight` ("enforce the symmetry").

    Args:
      estimate: an `Estimate`-like object with `.value` and `.stderr`.
      variance: v >= 0, in ED_2 units at the training-set size.
      max_weight: the cap, > 0.

    Returns:
      β in [0, max_weight], a float32 scalar.

    Raises:
      TypeError: `estimate` lacks `.value`/`.stderr`.
      ValueError: a negative or non-finite `variance` or `max_weight`; the cases of
        `shrink_estimate`.

    Examples:
      >>> from types import SimpleNamespace as E
      >>> from symreg.tuning import weight_from_variance
      >>> float(weight_from_variance(E(value=0.25, stderr=0.0), variance=0.1))
      0.2
    """
    variance = _number(variance, "variance")
    max_weight = _validation.positive_float(max_weight, "max_weight")
    eta = posterior_eta(estimate)
    v = jnp.asarray(variance, jnp.float32)
    beta = jnp.where(eta > 0, v / (2 * jnp.where(eta > 0, eta, 1.0)), jnp.float32(max_weight))
    return jnp.minimum(beta, jnp.float32(max_weight))


def target_from_variance(estimate: Any, *, variance: ArrayLike) -> jax.Array:
    """The target ε̂ = α̂·η̄ with α̂ = η̄/(η̄ + v), η̄ = `posterior_eta(estimate)`.

    The companion of `weight_from_variance` (the rules of `symreg.flax.calibrate`): the model
    error that the weight β̂ = v/(2η̄) aims at in the linear-Gaussian model, and the target of
    a dual-ascent run. Below η̄ at finite n; → η as v → 0.

    Args:
      estimate: an `Estimate`-like object with `.value` and `.stderr`.
      variance: v >= 0 (+inf gives 0).

    Returns:
      ε >= 0, a float32 scalar.

    Raises:
      TypeError, ValueError: as `target_from_estimate`.

    Examples:
      >>> from types import SimpleNamespace as E
      >>> from symreg.tuning import target_from_variance
      >>> round(float(target_from_variance(E(value=1.0, stderr=0.0), variance=1.0)), 6)
      0.5
    """
    variance = _number(variance, "variance", allow_inf=True)
    return optimal_target(posterior_eta(estimate), variance)


def relax_to_target(model_error: ArrayLike, target: ArrayLike) -> jax.Array:
    """The relaxation strength α = min(1, √(ε_target / ED_2(f))) for `symreg.relax`.

    f_α = Qf + α(f − Qf) has ED_2(f_α) = α²·ED_2(f) exactly (for an exact Reynolds operator),
    so this α reaches the target whenever f is above it and keeps f (α = 1) otherwise,
    including ED_2(f) = 0. A negative target counts as 0 (α = 0: the symmetrized model).

    Args:
      model_error: ED_2(f) of the trained model (e.g. the mean of
        `symreg.exact_equivariance_error`), a scalar.
      target: ε_target, e.g. from `target_from_estimate`, a scalar.

    Returns:
      α in [0, 1], a float32 scalar.

    Raises:
      ValueError: a concrete `model_error` that is NaN or negative (+inf gives α = 0), or a
        NaN `target`.

    Examples:
      >>> from symreg.tuning import relax_to_target
      >>> float(relax_to_target(4.0, 1.0)), float(relax_to_target(1.0, 4.0))
      (0.5, 1.0)
    """
    _validation.check_concrete_number(model_error, "model_error", allow_inf=True, lower=0.0)
    _validation.check_concrete_number(target, "target", allow_inf=True, lower=None)
    ed = jnp.asarray(model_error, jnp.float32)
    ratio = jnp.maximum(jnp.asarray(target, jnp.float32), 0.0) / jnp.where(ed > 0, ed, 1.0)
    return jnp.where(ed > 0, jnp.minimum(1.0, jnp.sqrt(ratio)), 1.0)
