"""Statistics of K models fitted on disjoint folds: η̂, the fit variance and the noise (layer 4).

One core serves `crossfit` (fits by a `Regressor`) and `symreg.flax.calibrate` (fits of the
user's own model): both hand over the K models' predictions on x and on the transformed inputs
ρ_in(g)x, and get the three pair statistics of docs/architecture.md ("Calibration"), each a
mean over pairs of folds with a Hoeffding-type s.e. (`pair_hoeffding`). Every product is evaluated
only at examples that neither model of the pair saw, so no term depends on how a model
behaves at its own training examples.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from symreg import _validation
from symreg.actions import Symmetry
from symreg.estimators._data import Layout, check_data
from symreg.estimators._estimate import Estimate
from symreg.estimators._orbits import defects, element_grid, transform_inputs
from symreg.estimators._result import finish

#: Group elements per example when sampling (continuous or large finite groups).
DEFAULT_SAMPLES = 4


class FoldStatistics(NamedTuple):
    """What K models fitted on disjoint folds say about the data and about the fit.

    Attributes:
      estimate: η̂₂ ± s.e. (method "crossfit"), the data equivariance error.
      variance: v̂ ± s.e. (method "fit-variance"): ED_2 of the difference of two fits divided
        by 2, i.e. the variance of one fit's symmetry defect, at the folds' size (not scaled).
      noise_var: σ̂² ± s.e. (method "noise"): E‖y − f̂(x)‖² cross-fitted, the noise variance per
        example summed over output entries (biased up by the fits' squared bias).

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.estimators import Estimate, FoldStatistics
      >>> e = lambda v, m: Estimate(jnp.float32(v), jnp.float32(0.01), method=m, n=100)
      >>> stats = FoldStatistics(e(0.3, "crossfit"), e(0.02, "fit-variance"), e(0.25, "noise"))
      >>> stats.estimate.method, float(stats.variance.value)
      ('crossfit', 0.02)
    """

    estimate: Estimate
    variance: Estimate
    noise_var: Estimate


def outside(members: jax.Array) -> jax.Array:
    """w_kl(i) = 1 if neither fold k nor fold l holds example i, shape (K, K, N)."""
    out = 1.0 - members
    return jnp.einsum("nk,nl->kln", out, out)


def pair_hoeffding(values: jax.Array, w: jax.Array):
    """U = mean over pairs k < l of the w-weighted means M_kl of values (K, K, N), and its s.e.

    Each pair mean is M_kl = T_kl + ε_kl: T_kl its mean over fresh examples (a function of the
    two fits) and ε_kl the noise of evaluating it on the finite examples outside F_k ∪ F_l.
    Given the fits, the examples are independent, so Var(U) = Var(mean T) + Var(mean ε):

    - Var(mean ε) = Σ_i c_i², c_i = mean over pairs of (value_kl(i) − M_kl)·w_kl(i)/n_kl,
      example i's share of U's deviation (exact given the fits, up to the n/(n − 1) factor);
    - Var(mean T) = (ζ₂ + 2(K − 2)ζ₁)/P over the P = K(K−1)/2 pairs, the variance of a
      U-statistic of order 2 in the folds: ζ₂ the variance of one T_kl, ζ₁ the covariance of
      two that share a fold. Both come from the K×K matrix of pair means, less the evaluation
      noise they carry (the mean Var(ε_kl) and the mean Cov(ε_kl, ε_km), both from the same
      per-example deviations), each clipped at 0. The clipping errs on the safe side: over 100
      data sets of the job's synthetic tasks, (η̂ − η)/s.e. had s.d. 0.91–1.07 (unclipped
      parts: 0.97–1.16).

    The earlier rule added the examples' whole variance to pair-mean variances that already
    hold it, so it counted the evaluation noise twice: its s.e. was 1.2–1.5× the s.d.
    """
    k = values.shape[0]
    off = 1.0 - jnp.eye(k, dtype=values.dtype)
    wo = w * off[:, :, None]
    size = wo.sum(-1)
    means = (values * wo).sum(-1) / jnp.maximum(size, 1.0)
    p = k * (k - 1) / 2
    u = (means * off).sum() / (2 * p)
    # per-example deviations from the pair means, weighted into the pair means: ε_kl = Σ_i d_kl(i)
    d = (values - means[:, :, None]) * wo / jnp.maximum(size, 1.0)[:, :, None]
    n = jnp.maximum((wo.sum((0, 1)) > 0).sum(), 2)
    inflate = n / (n - 1)
    c = d.sum((0, 1)) / (2 * p)  # each example's share of mean ε (pairs counted once)
    noise = inflate * (c**2).sum()
    e2 = inflate * (d**2).sum() / 2 / p  # mean Var(ε_kl)
    cross = jnp.einsum("kli,kmi->klm", d, d)  # Cov(ε_kl, ε_km), l, m ≠ k
    same = jnp.einsum("kli,kli->kl", d, d)
    e1 = inflate * (cross.sum() - same.sum()) / (k * (k - 1) * (k - 2))
    dev = (means - u) * off
    zeta2 = jnp.maximum((dev**2).sum() / 2 / (p - 1) - e2, 0.0)
    rows = dev.sum(1)  # Σ_l dev_kl
    shared = (rows**2 - (dev**2).sum(1)).sum()  # Σ_k Σ_{l≠m} dev_kl dev_km
    zeta1 = jnp.maximum(shared / (k * (k - 1) * (k - 2)) - e1, 0.0)
    pairs = (zeta2 + 2 * (k - 2) * zeta1) / p
    return u, jnp.sqrt(pairs + noise)


@functools.partial(jax.jit, static_argnames=("symmetry", "layout", "correction"))
def pair_statistics(g, y, f_x, f_gx, members, *, symmetry, layout, correction=True):
    """η̂, v̂ and σ̂², each (value, s.e.) (docs/architecture.md, "Calibration").

    With u_k(g, x) = f̂_k(ρ_in(g)x) − ρ_out(g)f̂_k(x) the defect of fit k, r_k = y − f̂_k(x) its
    residual, u_{r_k}(g, x) = −ρ_out(g)r_k, and per example c_kl = mean_s ⟨u_k, u_l⟩, the
    means over the examples outside F_k ∪ F_l and over pairs k < l of
      η: c_kl + 2 mean_s ⟨u_{r_l}, u_k⟩ + 2 mean_s ⟨u_{r_k}, u_l⟩  (c_kl alone without
         `correction`),
      v: (c_kk + c_ll − 2c_kl) / 2,
      σ²: ⟨r_k, r_l⟩.

    Args:
      g: elements with leading axes (N, S).
      y: flat targets (N, D).
      f_x: flat predictions of the K fits (K, N, D).
      f_gx: flat predictions on the transformed inputs (K, N, S, D).
      members: one-hot folds (N, K) (a row of zeros: an example no model saw).
    """
    u = defects(g, f_x, f_gx, symmetry=symmetry, layout=layout)
    s = u.shape[2]
    c = jnp.einsum("kisd,lisd->kli", u, u) / s
    w = outside(members)
    r = y[None] - f_x
    if correction:
        u_r = defects(g, r, jnp.zeros_like(f_gx), symmetry=symmetry, layout=layout)
        q = jnp.einsum("lisd,kisd->kli", u_r, u) / s  # <u_{r_l}, u_k>
        eta = c + 2 * q + 2 * jnp.swapaxes(q, 0, 1)
    else:
        eta = c
    diag = jnp.einsum("kki->ki", c)
    var = (diag[:, None] + diag[None, :] - 2 * c) / 2
    noise = jnp.einsum("kid,lid->kli", r, r)
    return tuple(pair_hoeffding(v, w) for v in (eta, var, noise))


def _finish_all(stats, n: int, reason: str | None) -> FoldStatistics:
    out = []
    for (value, stderr), method in zip(stats, ("crossfit", "fit-variance", "noise"), strict=True):
        out.append(finish(value, stderr, method=method, n=n, reason=reason))
    return FoldStatistics(*out)


def check_fold(fold: Any, n: int) -> np.ndarray:
    """Validates fold indices (N,) in {-1, 0, ..., K-1} with K >= 3 folds, each non-empty."""
    fold = np.asarray(fold)
    if fold.shape != (n,) or not np.issubdtype(fold.dtype, np.integer):
        raise ValueError(f"fold must be N = {n} integer fold indices, got {fold.dtype}{fold.shape}")
    k = int(fold.max()) + 1
    if k < 3 or fold.min() < -1 or np.bincount(fold[fold >= 0], minlength=k).min() == 0:
        raise ValueError(
            f"fold must hold indices 0..K-1 (K >= 3, every fold non-empty) or -1, got {fold}"
        )
    return fold


def members_of(fold: np.ndarray) -> np.ndarray:
    """One-hot folds (N, K); an example with fold -1 gets a row of zeros."""
    k = int(fold.max()) + 1
    return (fold[:, None] == np.arange(k)[None, :]).astype(np.float32)


def fold_statistics(
    predict: Any,
    x: Any,
    y: Any,
    fold: Any,
    key: jax.Array,
    *,
    symmetry: Symmetry,
    num_samples: int | None = None,
    correction: bool = True,
    reason: str | None = None,
) -> FoldStatistics:
    """η̂, the fit variance v̂ and the noise σ̂² from K models fitted on disjoint folds.

    The estimate is the debiased cross-fit statistic: for fits f̂_k, f̂_l that did not see
    example i, ⟨u_k, u_l⟩ + 2⟨u_{r_l}, u_k⟩ + 2⟨u_{r_k}, u_l⟩ averaged over i and g (u_k: the
    symmetry defect of fit k, u_{r_l} = −ρ_out(g)(y − f̂_l(x)) that of its residual). Its mean
    is η₂ − 2‖a − ā‖², where a and ā are the non-equivariant parts (f − Qf) of f* and of the
    mean fit: y's noise drops out (the two fits and y_i are independent) and the fits' bias
    enters only to second order. Without `correction` the value is the plain cross product
    ⟨u_k, u_l⟩, whose mean is 2‖ā‖²: biased low to first order when the fits shrink the
    non-equivariant part.

    Assumes: examples i.i.d. from a λ-invariant input law, λ the Haar (uniform) measure of a
    group, ρ_out orthogonal (so that Q is an orthogonal projection and ED_2(f) = 2‖f − Qf‖²);
    the fits of different folds independent: each depends on its own fold only, with no
    shared randomness. Fits from one shared initialization break this: what they keep of it
    is common to all of them, so ā carries the initialization's non-equivariant part and η̂
    is biased low (`symreg.flax.calibrate` gives each fold its own initialization). Its
    variance grows with the fits' noise: with fits whose defects vary much more than a, the
    estimate is unbiased but noisy, and its s.e. says so.

    Elements: all of a finite group of order <= 64, else S per example, one stratified set
    (each element λ-distributed) where the group has a stratified sampler. s.e.:
    `pair_hoeffding`, the examples' evaluation noise given the fits plus the variance of the
    pair means over fresh examples (a U-statistic in the folds: the variance of a pair and the
    covariance of pairs sharing a fold, less the evaluation noise they carry). A
    delete-one-fold jackknife was 2–4× too large here, since every pair is also evaluated on
    the other folds' examples.

    Args:
      predict: `predict(x_batch)` → the K models' predictions, leaves (K, B, ...) shaped like
        y's with a leading model axis.
      x: inputs, leading axis N.
      y: targets, leading axis N.
      fold: (N,) fold index of each example, 0..K-1 (model k was fitted on fold k), or -1
        for an example that no model saw.
      key: PRNG key of the group samples.
      symmetry: the `symreg.Symmetry`.
      num_samples: S group elements per example; None enumerates a finite group of order
        <= 64 and otherwise draws 4.
      correction: use the debiased statistic (default) or the plain cross product.
      reason: a reason to flag all three results (stderr = +inf), or None.

    Returns:
      `FoldStatistics(estimate, variance, noise_var)`.

    Raises:
      TypeError, ValueError: bad data (as `estimate_data_error`), bad `fold`, predictions that
        are not (K, N, ...) shaped like y.

    Examples:
      >>> import jax, jax.numpy as jnp, numpy as np
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.groups import Symmetric
      >>> from symreg.estimators import fold_statistics
      >>> x = jax.random.normal(jax.random.key(0), (300, 3))
      >>> y = x.sum(1) + 0.5 * x[:, 0]           # f* breaks the symmetry
      >>> fold = np.arange(300) % 3
      >>> predict = lambda xb: jnp.stack([xb.sum(1) + 0.5 * xb[:, 0]] * 3)  # three exact fits
      >>> stats = fold_statistics(predict, x, y, fold, jax.random.key(1),
      ...                         symmetry=symreg.Symmetry(Symmetric(3), Permutation()))
      >>> round(float(stats.estimate.value), 2), round(float(stats.variance.value), 4)
      (0.32, 0.0)
    """
    n = check_data(x, y, symmetry, min_n=6)
    fold = check_fold(fold, n)
    _validation.check_key(key)
    layout = Layout.of_batch(y)
    g, _ = element_grid(symmetry, key, n, num_samples, default=DEFAULT_SAMPLES, stratified=True)
    f_x, f_gx = stacked_orbits(predict, x, g, symmetry=symmetry, layout=layout)
    stats = pair_statistics(
        g, layout.ravel(y), f_x, f_gx, jnp.asarray(members_of(fold)),
        symmetry=symmetry, layout=layout, correction=bool(correction),
    )  # fmt: skip
    return _finish_all(stats, n, reason)


def stacked_orbits(predict, x, g, *, symmetry: Symmetry, layout: Layout):
    """Flat predictions of K models on x (K, N, D) and on every ρ_in(g_is)x_i (K, N, S, D)."""
    n, s = jax.tree.leaves(g)[0].shape[:2]
    xt = transform_inputs(x, g, symmetry=symmetry)
    f_x = _flat_models(predict(x), layout, n)
    f_gx = _flat_models(predict(xt), layout, n * s)
    return f_x, f_gx.reshape(f_x.shape[0], n, s, -1)


def _flat_models(out: Any, layout: Layout, b: int) -> jax.Array:
    leaves, treedef = jax.tree.flatten(out)
    shapes = [tuple(getattr(a, "shape", ())) for a in leaves]
    ok = treedef == layout.treedef and all(
        len(sh) == len(want) + 2 and sh[1:] == (b, *want)
        for sh, want in zip(shapes, layout.shapes, strict=True)
    )
    if not ok or len({sh[0] for sh in shapes}) != 1:
        raise ValueError(
            "predict(x_batch) must return the K models' predictions shaped (K, B, ...) like y "
            f"with a leading model axis (B = {b}, y's example shapes {list(layout.shapes)}), "
            f"got leaves of shapes {shapes}"
        )
    return jax.vmap(layout.ravel)(out)
