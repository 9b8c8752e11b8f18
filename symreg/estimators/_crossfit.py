"""The "crossfit" method: cross products of defects of independently fitted models."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from symreg.actions import Symmetry
from symreg.estimators import _folds
from symreg.estimators._data import Layout, check_data
from symreg.estimators._estimate import Estimate
from symreg.estimators._foldstats import fold_statistics
from symreg.estimators._mlp import MLPRegressor
from symreg.estimators._orbits import (
    check_predictions,
    defects,
    element_grid,
    predict_orbits,
)
from symreg.estimators._regressor import Regressor, check_regressor

#: Default number of folds K (one model per fold) for "crossfit" and "riskgap".
DEFAULT_FOLDS = 8
#: Group elements per example when sampling (continuous or large groups).
DEFAULT_SAMPLES = 4


def fold_fits(x, y, *, key, regressor, folds):
    """Random folds and one fit per fold: (fold (N,), reason or None, predictors, element key).

    `reason` says why the fits are unreliable (a fold smaller than the regressor's
    `min_examples`), or is None.
    """
    n = jax.tree.leaves(x)[0].shape[0]
    regressor = check_regressor(MLPRegressor() if regressor is None else regressor)
    folds = _folds.check_folds(folds, n)
    k_fold, k_fit, k_g = jax.random.split(key, 3)
    fold = _folds.assign_folds(k_fold, n, folds)
    reason = _folds.too_small_reason(regressor, x, fold)
    return fold, reason, _folds.fit_folds(regressor, x, y, fold, k_fit), k_g


def fitted_orbits(x, y, *, symmetry, key, regressor, folds, num_samples, default_samples):
    """Folds, one fit per fold, elements and the fits' flat predictions on the orbits.

    Returns:
      (members (N, K) one-hot folds, g (N, S, ...), exact, f_x (K, N, D), f_gx (K, N, S, D),
      reason): `reason` is None, or why the fits are unreliable (a fold smaller than the
      regressor's `min_examples`).
    """
    n = jax.tree.leaves(x)[0].shape[0]
    fold, reason, predictors, k_g = fold_fits(x, y, key=key, regressor=regressor, folds=folds)
    g, exact = element_grid(symmetry, k_g, n, num_samples, default=default_samples)
    f_x, f_gx = predict_orbits(predictors, x, g, symmetry=symmetry, layout=Layout.of_batch(y))
    return _folds.fold_matrix(fold), g, exact, f_x, f_gx, reason


def pair_products(g: Any, f_x, f_gx, *, symmetry: Symmetry, layout: Layout) -> jax.Array:
    """c_kl(i) = mean_s ⟨u_k(g_is, x_i), u_l(g_is, x_i)⟩ for the defects u_k, shape (K, K, N)."""
    u = defects(g, f_x, f_gx, symmetry=symmetry, layout=layout)
    return jnp.einsum("kisd,lisd->kli", u, u) / u.shape[2]


def crossfit(
    x: Any,
    y: Any,
    *,
    symmetry: Symmetry,
    key: jax.Array,
    regressor: Regressor | None = None,
    folds: int = DEFAULT_FOLDS,
    num_samples: int | None = None,
    correction: bool = True,
) -> Estimate:
    """Debiased cross-fitted estimate of η₂ from K models fitted on disjoint folds.

    One model per fold (K = `folds`, >= 3; `regressor`, default `MLPRegressor()`); then the
    statistic of `symreg.estimators.fold_statistics`: with u_k(g, x) = f̂_k(ρ_in(g)x) −
    ρ_out(g)f̂_k(x) and u_y = −ρ_out(g)y, the mean over pairs k < l, over the examples that
    neither fit saw and over g of 2⟨u_y, u_k⟩ + 2⟨u_y, u_l⟩ − ⟨u_k, u_l⟩. Its expectation is
    η₂ − 2‖a − ā‖², a and ā the non-equivariant parts f − Qf of f* and of the mean fit: the
    noise cancels, and the fits' regularization bias enters only to second order (the plain
    cross product ⟨u_k, u_l⟩, `correction=False`, carries it to first order: flexible fits
    that shrink the non-equivariant part make it biased low).

    Assumes: i.i.d. examples from a λ-invariant input law, λ a group's Haar (uniform)
    measure and ρ_out orthogonal (Q is then an orthogonal projection); fits of different
    folds independent (each `regressor.fit` call gets its own key, so its own initialization).
    Elements: all of a finite group of order <= 64, else S = `num_samples` (default 4) per
    example, a stratified set where the group has a stratified sampler. s.e.: the rule of
    `fold_statistics` (evaluation noise given the fits, plus the pair means' U-statistic
    variance), which includes the fits' noise.
    """
    check_data(x, y, symmetry, min_n=6)
    fold, reason, predictors, k_g = fold_fits(x, y, key=key, regressor=regressor, folds=folds)
    predict = _stacked(predictors, Layout.of_batch(y))
    stats = fold_statistics(
        predict, x, y, fold, k_g, symmetry=symmetry, num_samples=num_samples,
        correction=correction, reason=reason,
    )  # fmt: skip
    return stats.estimate


def _stacked(predictors: list, layout: Layout):
    """predict(x_batch) → the fits' predictions stacked on a leading model axis (K, B, ...)."""

    def predict(xb):
        b = jax.tree.leaves(xb)[0].shape[0]
        outs = [p(xb) for p in predictors]
        for out in outs:
            check_predictions(out, layout, (b,))
        return jax.tree.map(lambda *a: jnp.stack(a), *outs)

    return predict
