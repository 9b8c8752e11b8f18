"""K-fold cross-fitting as a U-statistic over folds, with its jackknife (layer 4, private).

The data are split at random into K disjoint folds F_1..F_K of (nearly) equal size, one model
is fitted on each, and a pair statistic T_kl is computed from folds k and l only (the two fits
and the examples of F_k ∪ F_l). The folds are i.i.d. blocks, so U = mean_{k<l} T_kl is a
U-statistic of order 2 in the folds, and its variance, which includes the fits' own noise, is
estimated by the delete-one-fold jackknife. For U-statistics the jackknife is conservative
(Efron–Stein): nearly unbiased when the first-order term dominates (η clearly above the
noise level); in the degenerate case (η = 0, unbiased fits: the T_kl are uncorrelated) its
mean is 2(K−1)/(K−2) times the variance.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from symreg import _validation
from symreg.estimators._regressor import Regressor


def check_folds(folds: Any, n: int) -> int:
    """Validates the number of folds K (>= 3, and at least 2 examples per fold)."""
    folds = _validation.positive_int(folds, "folds")
    if folds < 3:
        raise ValueError(f"folds must be >= 3 (the jackknife over folds needs 3), got {folds}")
    if n < 2 * folds:
        raise ValueError(f"x has N = {n} examples; folds={folds} needs at least {2 * folds}")
    return folds


def assign_folds(key: jax.Array, n: int, folds: int) -> np.ndarray:
    """Fold index of each example, shape (N,): a random permutation dealt round-robin."""
    perm = np.asarray(jax.random.permutation(key, n))
    fold = np.empty(n, np.int32)
    fold[perm] = np.arange(n) % folds
    return fold


def fit_folds(regressor: Regressor, x: Any, y: Any, fold: np.ndarray, key: jax.Array) -> list:
    """One fitted predictor per fold, each trained on that fold only (keys split per fold)."""
    folds = int(fold.max()) + 1
    keys = jax.random.split(key, folds)
    host = lambda tree: jax.tree.map(np.asarray, tree)  # host slicing: no per-shape compiles
    x, y = host(x), host(y)
    take = lambda tree, idx: jax.tree.map(lambda a: jnp.asarray(a[idx]), tree)
    predictors = [
        regressor.fit(take(x, np.flatnonzero(fold == k)), take(y, np.flatnonzero(fold == k)), kk)
        for k, kk in zip(range(folds), keys, strict=True)
    ]
    for p in predictors:
        if not callable(p):
            raise TypeError(
                "regressor.fit(x, y, key) must return a prediction function predict(x_batch), "
                f"got {type(p).__name__}"
            )
    return predictors


def too_small_reason(regressor: Any, x: Any, fold: np.ndarray) -> str | None:
    """Why the per-fold fits are unreliable (a fold below `regressor.min_examples(x)`), or None."""
    min_examples = getattr(regressor, "min_examples", None)
    if min_examples is None:
        return None
    need, smallest = int(min_examples(x)), int(np.bincount(fold).min())
    if smallest >= need:
        return None
    return (
        f"each fold fits {regressor!r} on as few as {smallest} examples, but it needs at least "
        f"{need} for a fit of finite variance (least squares interpolates the noise); use more "
        "data, fewer folds, a ridge > 0 or fewer features"
    )


def fold_matrix(fold: np.ndarray) -> np.ndarray:
    """One-hot fold membership, shape (N, K), float32."""
    return np.eye(int(fold.max()) + 1, dtype=np.float32)[fold]


def union_means(c: jax.Array, members: jax.Array) -> jax.Array:
    """Means of per-example pair values c (K, K, N) over F_k ∪ F_l, shape (K, K)."""
    size = members.sum(0)
    in_k = jnp.einsum("kln,nk->kl", c, members)
    in_l = jnp.einsum("kln,nl->kl", c, members)
    return (in_k + in_l) / (size[:, None] + size[None, :])


def fold_means(d: jax.Array, members: jax.Array) -> jax.Array:
    """Means of per-(model, example) values d (K, N) over each fold: (K models, K folds)."""
    return (d @ members) / members.sum(0)[None, :]


def jackknife_pairs(t: jax.Array) -> tuple[jax.Array, jax.Array]:
    """U = mean_{k<l} T_kl of a symmetric (K, K) matrix, and its delete-one-fold jackknife s.e."""
    k = t.shape[0]
    off = t * (1.0 - jnp.eye(k, dtype=t.dtype))
    total = off.sum() / 2
    u = total / (k * (k - 1) / 2)
    u_minus = (total - off.sum(1)) / ((k - 1) * (k - 2) / 2)
    var = (k - 1) / k * jnp.sum(jnp.square(u_minus - u_minus.mean()))
    return u, jnp.sqrt(var)
