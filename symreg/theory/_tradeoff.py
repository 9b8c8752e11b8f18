"""Closed forms of the approximation–estimation trade-off (docs/architecture.md, "The mathematics").

Assumptions shared by this file: Haar λ on a compact group, a λ-invariant input law,
orthogonal ρ_out, and the squared-L2 error ED_2. Then the Reynolds operator Q is the
orthogonal projection onto equivariant functions and ED_2(f) = 2‖f − Qf‖².
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from jax.typing import ArrayLike

from symreg import _validation


def _checked(
    value: Any, name: str, *, low: str | None = ">= 0", allow_inf: bool = False
) -> jnp.ndarray:
    """`value` as float32, refused when concrete and NaN, infinite (unless `allow_inf`: +inf)
    or failing `low` (">= 0", "> 0" or None for any sign). Traced values pass as they are.
    """
    lower = None if low is None else 0.0
    _validation.check_concrete_number(
        value, name, allow_inf=allow_inf, lower=lower, allow_lower=low != "> 0"
    )
    return jnp.asarray(value, jnp.float32)


def approximation_error(eta: ArrayLike, eps: ArrayLike) -> jnp.ndarray:
    """A(ε) = min over {h : ED_2(h) ≤ ε} of ‖h − f*‖² = ½ (√η − √ε)₊².

    The best ε-equivariant approximation of a target with data error η = ED_2(f*). It is 0
    from ε = η on (with zero slope there); an exactly equivariant model (ε = 0) pays η/2.

    Args:
      eta: the data equivariance error η₂ >= 0 (any shape).
      eps: the model's allowed error ε >= 0 (broadcasts with `eta`).

    Returns:
      A(ε), broadcast shape of the inputs.

    Raises:
      ValueError: a concrete `eta` that is negative or not finite, or `eps` negative or NaN.

    Examples:
      >>> from symreg.theory import approximation_error
      >>> float(approximation_error(4.0, 1.0)), float(approximation_error(4.0, 9.0))
      (0.5, 0.0)
    """
    eta, eps = _checked(eta, "eta"), _checked(eps, "eps", allow_inf=True)
    root = lambda a: jnp.sqrt(jnp.maximum(a, 0.0))  # traced negatives: as 0, never NaN
    return 0.5 * jnp.square(jnp.maximum(root(eta) - root(eps), 0.0))


def estimation_variance(sigma2: ArrayLike, k_break: ArrayLike, n: ArrayLike, d: ArrayLike):
    """v = 2σ² k_A / (n − d − 1): the estimation variance of the symmetry-breaking part.

    In the linear-Gaussian model (x ~ N(0, σ_X² I_d), least squares on n > d + 1 samples,
    noise variance σ²), this is the expected ED_2 that noise alone adds to the fit, in ED_2
    units, where k_A is the number of symmetry-breaking degrees of freedom (d − dim E for
    invariant regression, d·k − E_g χ_ψ(g) χ_φ(g) for outputs in R^k). It is twice the
    Elesedy–Zaidi gap (`elesedy_zaidi_gap`), and does not depend on σ_X².

    Args:
      sigma2: noise variance σ².
      k_break: symmetry-breaking degrees of freedom k_A.
      n: sample size (must exceed d + 1 for a finite value).
      d: number of parameters (input dimension for linear regression).

    Returns:
      v; +inf where n <= d + 1.

    Raises:
      ValueError: a concrete argument that is not finite, `sigma2` or `k_break` < 0, or
        `n` or `d` <= 0.

    Examples:
      >>> from symreg.theory import estimation_variance
      >>> float(estimation_variance(1.0, 5, 40, 10))
      0.3448275923728943
    """
    n, d = _checked(n, "n", low="> 0"), _checked(d, "d", low="> 0")
    dof = n - d - 1.0
    v = 2.0 * _checked(sigma2, "sigma2") * _checked(k_break, "k_break")
    return jnp.where(dof > 0, v / jnp.where(dof > 0, dof, 1.0), jnp.inf)


def optimal_shrinkage(eta: ArrayLike, variance: ArrayLike) -> jnp.ndarray:
    """α* = η / (η + v): the risk-optimal shrinkage of the symmetry-breaking part.

    Exact in the linear-Gaussian model, where the optimal model has E[ED_2] = α*·η. As n → ∞,
    v → 0 and α* → 1 (the model's symmetry should match the data's); at finite n, α* < 1.
    α* = 0 when η = 0.

    Args:
      eta: the data equivariance error η₂ (a debiased estimate may be slightly negative; it
        is taken as 0).
      variance: v from `estimation_variance` (or an estimate of it), >= 0, +inf allowed.

    Returns:
      α* in [0, 1].

    Raises:
      ValueError: a concrete `eta` that is not finite, or `variance` negative or NaN.

    Examples:
      >>> from symreg.theory import optimal_shrinkage
      >>> float(optimal_shrinkage(1.0, 1.0)), float(optimal_shrinkage(0.0, 1.0))
      (0.5, 0.0)
    """
    eta = jnp.maximum(_checked(eta, "eta", low=None), 0.0)
    total = eta + _checked(variance, "variance", allow_inf=True)
    return jnp.where(total > 0, eta / jnp.where(total > 0, total, 1.0), 0.0)


def optimal_target(eta: ArrayLike, variance: ArrayLike) -> jnp.ndarray:
    """The optimal model equivariance error ε* = α*·η ≤ η (the finite-n corrected target).

    In the linear-Gaussian model, shrinking the symmetry-breaking part of the least-squares
    fit by α* gives E[ED_2] = α*²(η + v) = α*·η.

    Args:
      eta: the data equivariance error η₂ (negative values are taken as 0).
      variance: v from `estimation_variance` (or an estimate of it), >= 0, +inf allowed.

    Returns:
      ε* in [0, η], the broadcast shape of the inputs.

    Raises:
      ValueError: as `optimal_shrinkage`.

    Examples:
      >>> from symreg.theory import optimal_target
      >>> float(optimal_target(1.0, 1.0))
      0.5
    """
    eta = jnp.maximum(_checked(eta, "eta", low=None), 0.0)
    return optimal_shrinkage(eta, variance) * eta


def optimal_weight(sigma2: ArrayLike, k_break: ArrayLike, n: ArrayLike, eta: ArrayLike):
    """β* ≈ σ² k_A / (n η): the risk-optimal penalty weight.

    For the objective (1/n) Σ ‖y_i − f(x_i)‖² + β·ED_2(f) in the linear-Gaussian model.
    β* → ∞ as η → 0 (exact symmetry) and → 0 as n → ∞.

    Args:
      sigma2: noise variance σ².
      k_break: symmetry-breaking degrees of freedom k_A.
      n: sample size.
      eta: the data equivariance error η₂ (any sign: β* = +inf where η <= 0).

    Returns:
      β*; +inf where η <= 0.

    Raises:
      ValueError: a concrete argument that is not finite, `sigma2` or `k_break` < 0, or
        `n` <= 0.

    Examples:
      >>> from symreg.theory import optimal_weight
      >>> float(optimal_weight(1.0, 5, 40, 0.245))
      0.5102040767669678
    """
    eta = _checked(eta, "eta", low=None)
    num = _checked(sigma2, "sigma2") * _checked(k_break, "k_break")
    den = _checked(n, "n", low="> 0") * eta
    return jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), jnp.inf)
