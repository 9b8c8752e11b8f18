"""Elesedy–Zaidi closed forms: the generalization gap of symmetrized least squares.

The model of this file (Elesedy & Zaidi, ICML 2021; docs/architecture.md, "The mathematics"): inputs
x ~ N(0, σ_X² I_d), targets y = θᵀx + ξ (or y = W x + ξ ∈ R^k) with noise ξ independent of x,
E ξ = 0 and Var ξ = σ_ξ² (σ_ξ² I_k for vector outputs). A finite or compact group acts on R^d by
an orthogonal representation ψ (and on R^k by an orthogonal φ), with the Haar measure, so that
Φ = E_g ψ(g) is the orthogonal projection on the fixed space E = {w : ψ(g) w = w ∀g}, and
dim E = tr Φ. ŵ is the least-squares fit on n samples (the minimum-norm one when n < d), and
R(w) = E (y − wᵀx)² = σ_X² ‖w − θ‖² + σ_ξ² is the exact population risk.

Layer 0: imports nothing from symreg but `_validation`.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from symreg import _validation

_RANK_SLACK = 1e-5  # relative slack on dimension bounds, for traces computed in float32


def _bounded(value: Any, name: str, upper: float = math.inf, *, positive: bool = False):
    """`value` as a float32 array, checked (when concrete) to lie in [0, upper] (or (0, upper]).

    Values up to `_RANK_SLACK` above `upper` (a float32 trace) pass and are clipped to `upper`.
    """
    arr = _validation.float64_values(value, name)
    if arr is not None:
        limit = upper * (1.0 + _RANK_SLACK)
        low_ok = np.all(arr > 0) if positive else np.all(arr >= 0)
        if not (np.all(np.isfinite(arr)) and low_ok and np.all(arr <= limit)):
            low = "> 0" if positive else ">= 0"
            high = "" if math.isinf(upper) else f" and <= {upper:g}"
            raise ValueError(f"{name} must be finite, {low}{high}; got {value!r}")
    return jnp.minimum(jnp.asarray(value, jnp.float32), upper)


def _dimensions(n: Any, d: Any) -> tuple[int, int]:
    return _validation.positive_int(n, "n"), _validation.positive_int(d, "d")


def _broadcast(value: jax.Array, *args: jax.Array | None) -> jax.Array:
    """`value` broadcast to the common shape of `value` and the array arguments."""
    shapes = [a.shape for a in args if a is not None]
    return jnp.broadcast_to(value, jnp.broadcast_shapes(value.shape, *shapes))


def _interpolation(noise_var: jax.Array, *args: jax.Array | None) -> jax.Array:
    """+inf for the regime d − 1 <= n <= d + 1 (NaN where σ_ξ² = 0: not covered)."""
    return _broadcast(jnp.where(noise_var > 0, jnp.inf, jnp.nan), *args)


def _min_norm_factor(n: int, d: int) -> float:
    """r(n, d) = n(d − n) / (d(d − 1)(d + 2)), from E[P A P] for a random rank-n projection P."""
    return n * (d - n) / (d * (d - 1) * (d + 2))


def elesedy_zaidi_gap(
    n: int,
    d: int,
    dim_fixed: ArrayLike,
    noise_var: ArrayLike,
    *,
    x_var: ArrayLike = 1.0,
    theta_norm2: ArrayLike | None = None,
) -> jax.Array:
    """E[Δ], the expected risk gain of symmetrizing least squares, for invariant regression.

    Assumptions (module docstring): x ~ N(0, σ_X² I_d), y = θᵀx + ξ, θ ∈ E (the target is
    exactly invariant), ψ orthogonal with Haar measure, Φ = E_g ψ(g), ŵ the (minimum-norm)
    least-squares fit on n samples. Then Δ = R(ŵ) − R(Φŵ) = σ_X² ‖(I − Φ)ŵ‖² and

    - n > d + 1:        E[Δ] = σ_ξ² (d − dim E) / (n − d − 1)  (independent of σ_X² and θ);
    - d − 1 <= n <= d + 1: E[Δ] = +inf (E[(XᵀX)⁻¹] or E[(XXᵀ)⁻¹] does not exist);
    - n < d − 1:        E[Δ] = σ_X² r(n, d) ‖θ‖² (d − dim E) + σ_ξ² n (d − dim E) / (d (d − n − 1)),
      with r(n, d) = n(d − n) / (d(d − 1)(d + 2)) (ŵ = X⁺y, the minimum-norm solution).

    Args:
      n: number of training samples (int >= 1).
      d: input dimension (int >= 1).
      dim_fixed: dim E = tr Φ, in [0, d] (any shape; may be a float trace).
      noise_var: σ_ξ² >= 0 (broadcasts with the other array arguments).
      x_var: σ_X² > 0, the variance of each input coordinate.
      theta_norm2: ‖θ‖² >= 0; needed only when n < d − 1.

    Returns:
      E[Δ], float32, the broadcast shape of the array arguments. +inf where
      d − 1 <= n <= d + 1 and σ_ξ² > 0; NaN there when σ_ξ² = 0 (a case not covered).

    Raises:
      TypeError: `n` or `d` is not an int, or an array argument is not numeric.
      ValueError: `n` or `d` < 1, `dim_fixed` outside [0, d], a negative variance or norm,
        `x_var` = 0, or `theta_norm2` missing when n < d − 1.

    Examples:
      >>> from symreg.theory import elesedy_zaidi_gap
      >>> float(elesedy_zaidi_gap(20, 8, 5, 1.0))  # 3 / 11
      0.272727...
      >>> float(elesedy_zaidi_gap(8, 8, 5, 1.0))
      inf
      >>> float(elesedy_zaidi_gap(2, 8, 5, 1.0, theta_norm2=0.0))  # 2·3 / (8·5)
      0.15...
    """
    n, d = _dimensions(n, d)
    k_break = d - _bounded(dim_fixed, "dim_fixed", d)
    noise_var = _bounded(noise_var, "noise_var")
    x_var = _bounded(x_var, "x_var", positive=True)
    if theta_norm2 is not None:
        theta_norm2 = _bounded(theta_norm2, "theta_norm2")
    if n > d + 1:
        return _broadcast(noise_var * k_break / (n - d - 1), x_var, theta_norm2)
    if n >= d - 1:
        return _interpolation(noise_var, k_break, x_var, theta_norm2)
    if theta_norm2 is None:
        raise ValueError(
            f"theta_norm2 (‖θ‖²) is required in the minimum-norm regime n < d - 1, got n={n}, d={d}"
        )
    bias = x_var * _min_norm_factor(n, d) * theta_norm2 * k_break
    return bias + noise_var * n * k_break / (d * (d - n - 1))


def elesedy_zaidi_gap_equivariant(
    n: int, d: int, k: int, noise_var: ArrayLike, character_inner: ArrayLike
) -> jax.Array:
    """E[Δ] for equivariant linear regression with outputs in R^k.

    Assumptions: as `elesedy_zaidi_gap`, with y = W x + ξ ∈ R^k, isotropic noise
    Cov ξ = σ_ξ² I_k, an orthogonal input representation ψ on R^d and output representation φ
    on R^k, W equivariant (W ψ(g) = φ(g) W for all g), Ŵ least squares and Φ(W) =
    E_g φ(g)ᵀ W ψ(g), the orthogonal (Frobenius) projection on equivariant maps, whose rank is
    E_g χ_ψ(g) χ_φ(g) (real characters, χ = tr). With R(W) = E ‖y − W x‖², Δ = R(Ŵ) − R(Φ(Ŵ))
    and, for n > d + 1,

        E[Δ] = σ_ξ² (d k − E_g χ_ψ(g) χ_φ(g)) / (n − d − 1)   (independent of σ_X² and W).

    Args:
      n: number of training samples (int >= 1).
      d: input dimension (int >= 1).
      k: output dimension (int >= 1).
      noise_var: σ_ξ² >= 0, the noise variance of each output coordinate.
      character_inner: E_g χ_ψ(g) χ_φ(g) in [0, d k] (see `character_inner`).

    Returns:
      E[Δ], float32. +inf where d − 1 <= n <= d + 1 and σ_ξ² > 0 (NaN if σ_ξ² = 0).

    Raises:
      TypeError: `n`, `d` or `k` is not an int.
      ValueError: `n`, `d` or `k` < 1, `character_inner` outside [0, d k], a negative
        `noise_var`, or n < d − 1 (no closed form for the minimum-norm regime here).

    Examples:
      >>> from symreg.theory import elesedy_zaidi_gap_equivariant
      >>> float(elesedy_zaidi_gap_equivariant(16, 5, 5, 1.0, 5.0))  # C5 regular: (25 − 5) / 10
      2.0
    """
    n, d = _dimensions(n, d)
    k = _validation.positive_int(k, "k")
    inner = _bounded(character_inner, "character_inner", d * k)
    noise_var = _bounded(noise_var, "noise_var")
    if n > d + 1:
        return noise_var * (d * k - inner) / (n - d - 1)
    if n >= d - 1:
        return _interpolation(noise_var, inner)
    raise ValueError(f"n must be >= d - 1 (the closed form covers n > d + 1), got n={n}, d={d}")


def misspecified_gap(
    n: int,
    d: int,
    dim_fixed: ArrayLike,
    noise_var: ArrayLike,
    breaking_norm2: ArrayLike,
    *,
    x_var: ArrayLike = 1.0,
) -> jax.Array:
    """E[R(Φŵ)] − E[R(ŵ)] when the target is not invariant (θ ∉ E).

    Assumptions: as `elesedy_zaidi_gap` (n > d + 1, ordinary least squares) but θ arbitrary.
    Symmetrizing removes the estimation variance of the symmetry-breaking part and adds its
    bias, the approximation error σ_X² ‖(I − Φ)θ‖² = η₂/2:

        E[R(Φŵ)] − E[R(ŵ)] = σ_X² ‖(I − Φ)θ‖² − σ_ξ² (d − dim E) / (n − d − 1).

    Positive: the symmetric model is worse; negative: symmetrizing helps despite the bias.

    Args:
      n: number of training samples, > d + 1.
      d: input dimension (int >= 1).
      dim_fixed: dim E = tr Φ, in [0, d].
      noise_var: σ_ξ² >= 0.
      breaking_norm2: ‖(I − Φ)θ‖² >= 0, the squared norm of the symmetry-breaking part of θ.
      x_var: σ_X² > 0.

    Returns:
      The risk difference, float32, the broadcast shape of the array arguments.

    Raises:
      TypeError: `n` or `d` is not an int, or an array argument is not numeric.
      ValueError: n <= d + 1, `dim_fixed` outside [0, d], or a negative variance or norm.

    Examples:
      >>> from symreg.theory import misspecified_gap
      >>> float(misspecified_gap(20, 8, 5, 1.0, 0.6))  # 0.6 − 3 / 11
      0.327272...
    """
    n, d = _dimensions(n, d)
    if n <= d + 1:
        raise ValueError(f"n must be > d + 1 for the mis-specified gap, got n={n}, d={d}")
    k_break = d - _bounded(dim_fixed, "dim_fixed", d)
    noise_var = _bounded(noise_var, "noise_var")
    breaking_norm2 = _bounded(breaking_norm2, "breaking_norm2")
    x_var = _bounded(x_var, "x_var", positive=True)
    return x_var * breaking_norm2 - noise_var * k_break / (n - d - 1)


def _check_matrices(matrices: Any, name: str) -> jax.Array:
    matrices = jnp.asarray(matrices)
    if matrices.ndim != 3 or matrices.shape[1] != matrices.shape[2] or matrices.shape[0] == 0:
        raise ValueError(
            f"{name} must have shape (G, d, d) with G >= 1, got {tuple(matrices.shape)}"
        )
    if not jnp.issubdtype(matrices.dtype, jnp.floating):
        matrices = matrices.astype(jnp.float32)
    return matrices


def fixed_space_projection(matrices: ArrayLike) -> jax.Array:
    """Φ = E_g ψ(g), the mean of a representation's matrices over the group.

    For a finite group with all its elements listed once (the uniform Haar measure) and an
    orthogonal ψ, Φ is the orthogonal projection on the fixed space E, and dim E = tr Φ. For a
    compact group, matrices at Haar samples give a Monte Carlo estimate.

    Args:
      matrices: ψ(g) for every element g, shape (G, d, d).

    Returns:
      Φ, shape (d, d).

    Raises:
      ValueError: `matrices` is not of shape (G, d, d) with G >= 1.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.theory import fixed_space_projection
      >>> swap = jnp.stack([jnp.eye(2), jnp.eye(2)[::-1]])  # S2 permuting 2 coordinates
      >>> fixed_space_projection(swap).tolist()
      [[0.5, 0.5], [0.5, 0.5]]
    """
    return jnp.mean(_check_matrices(matrices, "matrices"), axis=0)


def character_inner(psi: ArrayLike, phi: ArrayLike) -> jax.Array:
    """E_g tr ψ(g) tr φ(g): the dimension of the equivariant linear maps R^d → R^k.

    For real orthogonal representations of a finite group listed once per element (the Haar
    measure), χ_φ(g⁻¹) = χ_φ(g), so this is the rank of the projection Φ(W) = E_g φ(g)ᵀ W ψ(g)
    (the input of `elesedy_zaidi_gap_equivariant`); with φ trivial (k = 1) it is dim E.

    Args:
      psi: ψ(g) for every element, shape (G, d, d).
      phi: φ(g) for the same elements in the same order, shape (G, k, k).

    Returns:
      The scalar E_g χ_ψ(g) χ_φ(g).

    Raises:
      ValueError: a shape is not (G, ·, ·) square, or the two G differ.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.theory import character_inner
      >>> shifts = jnp.stack([jnp.roll(jnp.eye(3), s, axis=0) for s in range(3)])  # C3 regular
      >>> float(character_inner(shifts, shifts))
      3.0
    """
    psi, phi = _check_matrices(psi, "psi"), _check_matrices(phi, "phi")
    if psi.shape[0] != phi.shape[0]:
        raise ValueError(
            f"psi and phi must list the same G elements, got shapes {tuple(psi.shape)} "
            f"and {tuple(phi.shape)}"
        )
    chi_psi = jnp.trace(psi, axis1=1, axis2=2)
    chi_phi = jnp.trace(phi, axis1=1, axis2=2)
    return jnp.mean(chi_psi * chi_phi)
