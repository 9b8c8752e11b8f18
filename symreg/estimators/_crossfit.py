"""The "crossfit" method: cross products of defects of independently fitted models."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from symreg.actions import Symmetry
from symreg.estimators import _folds
from symreg.estimators._data import Layout, check_data
from symreg.estimators._estimate import Estimate
from symreg.estimators._mlp import MLPRegressor
from symreg.estimators._orbits import defects, element_grid, predict_orbits
from symreg.estimators._regressor import Regressor, check_regressor
from symreg.estimators._result import finish

#: Default number of folds K (one model per fold) for "crossfit" and "riskgap".
DEFAULT_FOLDS = 8
#: Group elements per example when sampling (continuous or large groups).
DEFAULT_SAMPLES = 4


def fitted_orbits(x, y, *, symmetry, key, regressor, folds, num_samples, default_samples):
    """Folds, one fit per fold, elements and the fits' flat predictions on the orbits.

    Returns:
      (members (N, K) one-hot folds, g (N, S, ...), exact, f_x (K, N, D), f_gx (K, N, S, D),
      reason): `reason` is None, or why the fits are unreliable (a fold smaller than the
      regressor's `min_examples`).
    """
    n = jax.tree.leaves(x)[0].shape[0]
    regressor = check_regressor(MLPRegressor() if regressor is None else regressor)
    folds = _folds.check_folds(folds, n)
    k_fold, k_fit, k_g = jax.random.split(key, 3)
    fold = _folds.assign_folds(k_fold, n, folds)
    reason = _folds.too_small_reason(regressor, x, fold)
    predictors = _folds.fit_folds(regressor, x, y, fold, k_fit)
    g, exact = element_grid(symmetry, k_g, n, num_samples, default=default_samples)
    f_x, f_gx = predict_orbits(predictors, x, g, symmetry=symmetry, layout=Layout.of_batch(y))
    return _folds.fold_matrix(fold), g, exact, f_x, f_gx, reason


def pair_products(g: Any, f_x, f_gx, *, symmetry: Symmetry, layout: Layout) -> jax.Array:
    """c_kl(i) = mean_s ⟨u_k(g_is, x_i), u_l(g_is, x_i)⟩ for the defects u_k, shape (K, K, N)."""
    u = defects(g, f_x, f_gx, symmetry=symmetry, layout=layout)
    return jnp.einsum("kisd,lisd->kli", u, u) / u.shape[2]


@functools.partial(jax.jit, static_argnames=("symmetry", "layout"))
def crossfit_statistic(g, f_x, f_gx, members, *, symmetry: Symmetry, layout: Layout):
    """U = mean_{k<l} T_kl with T_kl = mean of c_kl over F_k ∪ F_l, and its jackknife s.e."""
    c = pair_products(g, f_x, f_gx, symmetry=symmetry, layout=layout)
    return _folds.jackknife_pairs(_folds.union_means(c, members))


def crossfit(
    x: Any,
    y: Any,
    *,
    symmetry: Symmetry,
    key: jax.Array,
    regressor: Regressor | None = None,
    folds: int = DEFAULT_FOLDS,
    num_samples: int | None = None,
) -> Estimate:
    """Cross-fitted estimate of η₂ from K models fitted on disjoint folds.

    With u_k(g, x) = f̂_k(ρ_in(g)x) − ρ_out(g) f̂_k(x) the defect of the model fitted on fold
    k, T_kl = mean over x_i ∈ F_k ∪ F_l and its elements g of ⟨u_k, u_l⟩, and the value is
    U = mean_{k<l} T_kl. The fits' noises are independent, so E⟨u_k, u_l⟩ = ‖E u‖²: the noise
    inflation E‖u − Eu‖² of a plug-in ED_2(f̂) cancels, and what remains is the regularization
    bias of the fits (zero for least squares whose features span f*). A fit may be evaluated
    at its own training examples: the other fit is independent of them, so the mean of the
    product is unchanged.

    K = `folds` (default 8, >= 3) and `regressor` (default `MLPRegressor()`) fits one model per
    fold. Elements: all of a finite group of order <= 64, else S = `num_samples` (default
    4) draws per example. s.e.: the delete-one-fold jackknife of the U-statistic over folds,
    which includes the fits' own noise (a per-example s.e. would miss it and be far too small
    at η = 0); it is about right when η is well above the noise, and conservative (by up to
    √(2(K−1)/(K−2)) ≈ 1.5 at K = 8) at η = 0.
    """
    n = check_data(x, y, symmetry, min_n=6)
    members, g, _, f_x, f_gx, reason = fitted_orbits(
        x, y, symmetry=symmetry, key=key, regressor=regressor, folds=folds,
        num_samples=num_samples, default_samples=DEFAULT_SAMPLES,
    )  # fmt: skip
    value, stderr = crossfit_statistic(
        g, f_x, f_gx, members, symmetry=symmetry, layout=Layout.of_batch(y)
    )
    return finish(value, stderr, method="crossfit", n=n, reason=reason)
