"""The "riskgap" method: held-out excess risk of the symmetrized fit, plus its variance term."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from symreg import _validation
from symreg.actions import Symmetry
from symreg.estimators import _folds
from symreg.estimators._crossfit import DEFAULT_FOLDS, fitted_orbits, pair_products
from symreg.estimators._data import Layout, check_data
from symreg.estimators._estimate import Estimate
from symreg.estimators._orbits import act_outputs
from symreg.estimators._regressor import Regressor
from symreg.estimators._result import finish

#: Group elements per example for the sampled Reynolds average (continuous or large groups).
DEFAULT_SAMPLES = 16


def risk_differences(g, f_x, f_gx, yf, *, symmetry: Symmetry, layout: Layout, exact: bool):
    """d_k(i) = ‖y_i − Qf̂_k(x_i)‖² − ‖y_i − f̂_k(x_i)‖², shape (K, N), Q exact in expectation.

    Q_S f(x) = mean_s ρ_out(g_s)⁻¹ f(ρ_in(g_s)x); with S i.i.d. elements,
    E‖y − Q_S f‖² = ‖y − Qf‖² + E‖Q_S f − Qf‖², and the second term is removed with its
    unbiased estimate, the sample variance of the S terms over S (0 when enumerating).
    """
    back = act_outputs(g, f_gx, symmetry=symmetry, layout=layout, inverse=True)
    qf = back.mean(2)
    d = jnp.sum(jnp.square(yf - qf), -1) - jnp.sum(jnp.square(yf - f_x), -1)
    if exact:
        return d
    s = back.shape[2]
    spread = jnp.sum(jnp.square(back - qf[:, :, None, :]), (-2, -1)) / (s * (s - 1))
    return d - spread


def pair_statistics(d: jax.Array, c: jax.Array, members: jax.Array) -> jax.Array:
    """T_kl = h_k(F_l) + h_l(F_k) − ⟨Df̂_k, Df̂_l⟩ on F_k ∪ F_l, shape (K, K).

    h_k(i) = d_k(i) + ½ ED_2(f̂_k)(x_i) is averaged over the *other* fold only: a fit's own
    defect is smaller at its training points, which would bias the correction down.
    """
    own = jnp.diagonal(c).T  # (K, N): ED_2 of each model's defect at each example
    h = _folds.fold_means(d + 0.5 * own, members)
    return h + h.T - _folds.union_means(c, members)


@functools.partial(jax.jit, static_argnames=("symmetry", "layout", "exact"))
def riskgap_statistic(g, f_x, f_gx, yf, members, *, symmetry, layout, exact):
    """U = mean_{k<l} T_kl (`pair_statistics`) and its delete-one-fold jackknife s.e."""
    d = risk_differences(g, f_x, f_gx, yf, symmetry=symmetry, layout=layout, exact=exact)
    c = pair_products(g, f_x, f_gx, symmetry=symmetry, layout=layout)
    return _folds.jackknife_pairs(pair_statistics(d, c, members))


def riskgap(
    x: Any,
    y: Any,
    *,
    symmetry: Symmetry,
    key: jax.Array,
    regressor: Regressor | None = None,
    folds: int = DEFAULT_FOLDS,
    num_samples: int | None = None,
) -> Estimate:
    """η₂ from the held-out risk gap between Qf̂ and f̂, with the variance correction.

    With Haar λ, a λ-invariant input law and orthogonal ρ_out, Q is the orthogonal projection
    onto equivariant functions, P = I − Q, and η₂ = 2‖Pf*‖² (so η₂/2 is the excess risk of
    the best equivariant predictor Qf*). For a fit f̂ = f* + δ, the excess risk of its
    symmetrization on held-out data is gap = R(Qf̂) − R(f̂) = ‖Pf*‖² − ‖Pδ‖² (the noise
    cancels in the paired difference): 2·gap is biased down by ED_2(δ), the fit's own
    symmetry-breaking error. The variance correction puts it back with no knowledge of f*:
    gap + ½ ED_2(f̂) = 2⟨Pf*, Pf̂⟩, and the cross term ⟨Df̂_k, Df̂_l⟩ of two independent
    fits removes the surplus. With K models fitted on disjoint folds,

      T_kl = [gap_k + ½ ED_2(f̂_k)](F_l) + [gap_l + ½ ED_2(f̂_l)](F_k) − ⟨Df̂_k, Df̂_l⟩(F_k ∪ F_l)

    (each fit's own terms on the *other* fold's examples) has mean η₂ − ⟨Db̄, Db̄⟩ with b̄ the
    fits' mean bias (0 for least squares whose features span f*). value = mean_{k<l} T_kl;
    s.e. by the delete-one-fold jackknife over folds (it includes the fits' noise). For
    finite groups of order <= 64 Q is exact; otherwise it averages S = `num_samples`
    (default 16) elements per example and the Monte Carlo term E‖Q_S f − Qf‖² is removed
    with its unbiased estimate (sample variance / S).
    """
    if not symmetry.transforms.is_group:
        raise ValueError(
            f"method='riskgap' needs a group with its Haar measure (Q must be a projection), "
            f"got symmetry.transforms={symmetry.transforms!r}; use method='crossfit'"
        )
    num_samples = _validation.optional_positive_int(num_samples, "num_samples")
    if num_samples is not None and num_samples < 2:
        raise ValueError(f"num_samples must be >= 2 for method='riskgap', got {num_samples}")
    n = check_data(x, y, symmetry, min_n=6)
    layout = Layout.of_batch(y)
    members, g, exact, f_x, f_gx, reason = fitted_orbits(
        x, y, symmetry=symmetry, key=key, regressor=regressor, folds=folds,
        num_samples=num_samples, default_samples=DEFAULT_SAMPLES,
    )  # fmt: skip
    value, stderr = riskgap_statistic(
        g, f_x, f_gx, layout.ravel(y), members, symmetry=symmetry, layout=layout, exact=exact
    )
    return finish(value, stderr, method="riskgap", n=n, reason=reason)
