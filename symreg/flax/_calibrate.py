"""`calibrate`: from data to the penalty weight and target, for the user's own Flax model."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from symreg import _validation, tuning
from symreg.actions import Symmetry
from symreg.estimators import Estimate, fold_statistics
from symreg.flax._linen import SymmetryTrainState
from symreg.flax._nnx import NNXTrainState


@dataclasses.dataclass(frozen=True)
class Calibration:
    """What `calibrate` measured, and the weight and target it sets.

    Attributes:
      estimate: η̂₂ ± s.e., the data equivariance error (debiased cross-fit of the fold models).
      variance: v̂ ± s.e., the estimation variance of the model's symmetry defect at the full N
        (ED_2 of the difference of two fold fits / 2 at N // K examples, times (N // K) / N:
        this assumes the estimation variance falls as 1/n; a network's often falls more
        slowly, and `benchmarks/bench_variance.py` measures by how much).
      noise_var: σ̂² ± s.e., the noise per example (summed over output entries), cross-fitted
        from out-of-fold residuals.
      weight: β̂ = v̂ / (2η̄) (`symreg.tuning.weight_from_variance`, η̄ the posterior mean of η
        given η̂), a Python float; never capped at a grid (only at `symreg.tuning.MAX_WEIGHT`
        for a flagged estimate).
      target: ε̂ = α̂·η̄ with α̂ = η̄ / (η̄ + v̂) (`symreg.tuning.target_from_variance`), a float.
      folds: K, the number of fold models.
      n: N, the number of examples.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.estimators import Estimate
      >>> from symreg.flax import Calibration
      >>> e = lambda v, s, m: Estimate(jnp.float32(v), jnp.float32(s), method=m, n=400)
      >>> cal = Calibration(e(0.2, 0.02, "crossfit"), e(0.05, 0.01, "fit-variance"),
      ...                   e(0.25, 0.01, "noise"), weight=0.125, target=0.16, folds=4, n=400)
      >>> print(cal)
      Calibration(η̂ = 0.2 ± 0.02, v̂ = 0.05 ± 0.01, σ̂² = 0.25 ± 0.01, β̂ = 0.125, ε̂ = 0.16; K = 4, N = 400)
    """

    estimate: Estimate
    variance: Estimate
    noise_var: Estimate
    weight: float
    target: float
    folds: int
    n: int

    def __str__(self) -> str:
        pm = lambda e: f"{float(e.value):.4g} ± {float(e.stderr):.2g}"
        return (
            f"Calibration(η̂ = {pm(self.estimate)}, v̂ = {pm(self.variance)}, "
            f"σ̂² = {pm(self.noise_var)}, β̂ = {self.weight:.4g}, ε̂ = {self.target:.4g}; "
            f"K = {self.folds}, N = {self.n})"
        )


@dataclasses.dataclass(frozen=True)
class _LinenApply:
    """`apply(params, aux, x)` of a linen model (hashable: the compiled fit is reused)."""

    apply_fn: Callable[..., Any]
    kwargs: tuple[tuple[str, Any], ...]

    def __call__(self, params, aux, x):
        del aux
        return self.apply_fn({"params": params}, x, **dict(self.kwargs))


@dataclasses.dataclass(frozen=True)
class _NNXApply:
    """`apply(params, rest, x)` of an NNX model from its graph (hashable)."""

    graphdef: Any

    def __call__(self, params, rest, x):
        return nnx.merge(self.graphdef, params, rest)(x)


def _functional(state: Any, apply_kwargs: Mapping[str, Any]):
    """(apply, params, aux, tx) of the state's model: `apply(params, aux, x)` is hashable."""
    if isinstance(state, SymmetryTrainState):
        if state.batch_stats is not None:
            raise ValueError(
                "calibrate trains the model functionally and does not update batch_stats; "
                "state has a batch_stats collection: use a model without BatchNorm (or "
                "LayerNorm instead) for calibration"
            )
        apply = _LinenApply(state.apply_fn, tuple(sorted(apply_kwargs.items())))
        return apply, state.params, None, state.tx
    if isinstance(state, NNXTrainState):
        if apply_kwargs:
            raise ValueError("apply_kwargs is for linen states; an NNX model is called as set")
        model, optimizer = state.merge()
        graphdef, params, rest = nnx.split(model, optimizer.wrt, ...)
        return _NNXApply(graphdef), params, rest, optimizer.tx
    raise TypeError(
        "state must be a freshly created symreg.flax.SymmetryTrainState (linen) or "
        f"NNXTrainState, got {type(state).__name__}"
    )


#: How the K fold models are initialized (`calibrate(fold_inits=...)`).
FOLD_INITS = ("shuffle", "shared")


@functools.partial(jax.jit, static_argnames=("folds",))
def _shuffled(params, key, *, folds):
    """K copies of `params`, each array's entries permuted at random (per copy and array).

    For an array whose entries are drawn i.i.d. (normal, uniform, variance scaling, zeros,
    ones: every standard initializer), a permutation of its entries is another draw from the
    same distribution, so the K copies are K initializations of the model.
    """
    leaves, treedef = jax.tree.flatten(params)
    out = []
    for leaf, k in zip(leaves, jax.random.split(key, max(len(leaves), 1)), strict=False):
        flat = jnp.ravel(leaf)
        perms = jax.vmap(lambda kk, m=flat.size: jax.random.permutation(kk, m))(
            jax.random.split(k, folds)
        )
        out.append(flat[perms].reshape((folds, *jnp.shape(leaf))))
    return jax.tree.unflatten(treedef, out)


def _fold_inits(params, key, folds: int, how: str):
    """The K fold models' initial parameters, leading axis K."""
    if how == "shuffle":
        return _shuffled(params, key, folds=folds)
    return jax.tree.map(lambda a: jnp.broadcast_to(a, (folds, *jnp.shape(a))), params)


@functools.partial(jax.jit, static_argnames=("apply", "tx", "loss_fn", "steps", "batch_size"))
def _fit_folds(params, aux, x, y, idx, keys, *, apply, tx, loss_fn, steps, batch_size):
    """Trains one model per row of `idx` (K, m) from its own row of `params` (K, ...), all
    folds vmapped; returns params (K, ...).

    Compiled once per (model structure, optimizer object, loss function, sizes): calibrating
    again with the same objects reuses it.
    """

    def one(p0, rows, key):
        def step(carry, t):
            p, opt_state = carry
            take = rows
            if batch_size is not None:
                pick = jax.random.choice(jax.random.fold_in(key, t), rows.shape[0],
                                         (batch_size,), replace=False)  # fmt: skip
                take = rows[pick]
            xb, yb = jax.tree.map(lambda a: a[take], (x, y))
            grads = jax.grad(lambda q: loss_fn(apply(q, aux, xb), yb))(p)
            updates, opt_state = tx.update(grads, opt_state, p)
            return (jax.tree.map(lambda a, u: a + u, p, updates), opt_state), None

        return jax.lax.scan(step, (p0, tx.init(p0)), jnp.arange(steps))[0][0]

    return jax.vmap(one)(params, idx, keys)


@functools.partial(jax.jit, static_argnames=("apply",))
def _predict(params, aux, x, *, apply):
    """Predictions of the K fold models, leading axis K."""
    return jax.vmap(lambda p: apply(p, aux, x))(params)


def _check_sizes(x, y, folds, batch_size) -> tuple[int, int, int | None]:
    n = _validation.batch_size(x, "x")
    if _validation.batch_size(y, "y") != n:
        raise ValueError(
            f"x and y must have the same number of examples N, got {n} and "
            f"{_validation.batch_size(y, 'y')}"
        )
    folds = _validation.positive_int(folds, "folds")
    if folds < 3:
        raise ValueError(f"folds must be >= 3 (pairs of fold models and a jackknife), got {folds}")
    m = n // folds
    if m < 2:
        raise ValueError(f"x has N = {n} examples; folds={folds} needs at least {2 * folds}")
    batch_size = _validation.optional_positive_int(batch_size, "batch_size")
    if batch_size is not None and batch_size > m:
        raise ValueError(f"batch_size must be <= the fold size N // folds = {m}, got {batch_size}")
    return n, m, batch_size


def calibrate(
    state: Any,
    loss_fn: Callable[[Any, Any], jax.Array],
    x: Any,
    y: Any,
    *,
    symmetry: Symmetry,
    key: jax.Array,
    steps: int,
    batch_size: int | None = None,
    folds: int = 4,
    num_samples: int | None = None,
    apply_kwargs: Mapping[str, Any] | None = None,
    fold_inits: str = "shuffle",
) -> Calibration:
    """Trains the user's model on K disjoint folds and sets the penalty weight and target.

    The data are split at random into K = `folds` folds of N // K examples (the N mod K left
    over are only evaluation points). One copy of the state's model, with its optimizer, is
    trained without the penalty on each fold for `steps` steps (full batch, or `batch_size`
    examples drawn per step), all K in one vmapped, compiled call. Each copy starts from its
    own initialization (`fold_inits="shuffle"`): the state's parameters with the entries of
    every array permuted at random, per copy. The estimate assumes independent fits; fits
    from one shared initialization all keep part of its symmetry-breaking function, which
    biases η̂ low (on the job's O(3) task, to 0.4η). From these fits
    (`symreg.estimators.fold_statistics`):

    - η̂: the debiased cross-fit estimate of the data error η₂ (products only at examples that
      neither fit of a pair saw; mean η₂ − 2‖a − ā‖², second order in the fits' bias);
    - v̂: ED_2(f̂_k − f̂_l)/2 at fresh examples, the variance of one fit's symmetry defect at
      N/K examples, scaled to N by 1/K (this assumes estimation variance ∝ 1/n; for most
      networks of symreg's benchmarks it falls more slowly and v̂ is 0.19–0.59 of a fit's
      variance at N, for one 0.91: `benchmarks/bench_variance.py`);
    - σ̂²: the cross product of out-of-fold residuals ⟨y − f̂_k(x), y − f̂_l(x)⟩.

    Then β̂ = v̂/(2η̄) (`symreg.tuning.weight_from_variance`: in the linear-Gaussian model the
    penalty weight that shrinks the symmetry-breaking part by α* = η/(η + v)) and ε̂ = α̂·η̄
    (`symreg.tuning.target_from_variance`), with η̄ = `symreg.tuning.posterior_eta`, the
    posterior mean of η given η̂ ± s.e.

    Args:
      state: a freshly created `SymmetryTrainState` (linen, without batch_stats) or
        `NNXTrainState`; its model, parameters and optimizer are what is trained (the state
        itself is not changed). The model should be deterministic (NNX: as set, e.g.
        `model.eval()` for dropout; linen: through `apply_kwargs`).
      loss_fn: `loss_fn(predictions, y_batch)` → scalar, as in `make_train_step`.
      x: inputs, leading axis N.
      y: targets, an array with leading axis N, shaped like the model's outputs.
      symmetry: the `symreg.Symmetry`.
      key: PRNG key (folds, minibatches, group elements).
      steps: optimizer steps per fold model.
      batch_size: examples per step (<= N // folds), or None for the whole fold.
      folds: K >= 3.
      num_samples: group elements per example for the statistics; None enumerates a finite
        group of order <= 64 and otherwise draws 4.
      apply_kwargs: linen only, keyword arguments of `apply` (e.g. {"train": False}).
      fold_inits: "shuffle" (default): fold model k starts from the state's parameters with
        each array's entries randomly permuted. This assumes every parameter array was drawn
        with i.i.d. entries (normal, uniform, variance scaling, zeros, ones: the standard
        initializers), so that a permutation is another draw of the initialization. "shared":
        every fold model starts from the state's parameters; use it when the initialization
        is structured (orthogonal matrices, a pretrained checkpoint) and permuting entries
        would break it. η̂ then assumes that the fits share little of the initialization's
        non-equivariant part.

    Returns:
      A `Calibration`; `.weight` and `.target` are Python floats that
      `SymmetryTrainState.create(tuner=...)` and `symreg.tuning.dual_ascent` take directly.

    Raises:
      TypeError: a bad `state`, `loss_fn` or `key`.
      ValueError: mismatched N, N < 2·folds, folds < 3, a bad `steps`, `batch_size` or
        `fold_inits`, a linen state with batch_stats, data that does not fit the symmetry.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from flax import nnx
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.groups import Symmetric
      >>> from symreg.flax import NNXTrainState, calibrate
      >>> x = jax.random.normal(jax.random.key(0), (400, 3))
      >>> y = (x.sum(1) + 0.5 * x[:, 0])[:, None]   # the first entry breaks the symmetry
      >>> state = NNXTrainState.create(nnx.Linear(3, 1, rngs=nnx.Rngs(0)), optax.adam(0.1),
      ...                              key=jax.random.key(1))
      >>> mse = lambda p, t: jnp.mean((p - t) ** 2)
      >>> cal = calibrate(state, mse, x, y, key=jax.random.key(2), steps=100,
      ...                 symmetry=symreg.Symmetry(Symmetric(3), Permutation()))
      >>> round(cal.estimate.value.item(), 1), cal.weight < 1e-3   # η₂ = 2·0.5²·2/3 ≈ 0.33
      (0.3, True)
    """
    _validation.check_callable(loss_fn, "loss_fn")
    _validation.check_key(key)
    steps = _validation.positive_int(steps, "steps")
    if not isinstance(symmetry, Symmetry):
        raise TypeError(f"symmetry must be a symreg.Symmetry, got {type(symmetry).__name__}")
    n, m, batch_size = _check_sizes(x, y, folds, batch_size)
    if fold_inits not in FOLD_INITS:
        raise ValueError(f"fold_inits must be one of {FOLD_INITS}, got {fold_inits!r}")
    apply, params0, aux, tx = _functional(state, apply_kwargs or {})
    k_fold, k_fit, k_g = jax.random.split(key, 3)
    perm = np.asarray(jax.random.permutation(k_fold, n))
    idx = perm[: folds * m].reshape(folds, m)
    fold = np.full(n, -1, np.int64)
    fold[idx] = np.arange(folds)[:, None]
    inits = _fold_inits(params0, jax.random.fold_in(key, 3), folds, fold_inits)
    params = _fit_folds(
        inits, aux, x, y, jnp.asarray(idx), jax.random.split(k_fit, folds), apply=apply, tx=tx,
        loss_fn=loss_fn, steps=steps, batch_size=batch_size,
    )  # fmt: skip
    stats = fold_statistics(
        lambda xb: _predict(params, aux, xb, apply=apply), x, y, fold, k_g, symmetry=symmetry,
        num_samples=num_samples,
    )  # fmt: skip
    return _finish(stats, folds=folds, n=n, m=m)


def _finish(stats, *, folds: int, n: int, m: int) -> Calibration:
    scale = m / n  # v ∝ 1/(examples): from N // K to N
    v = stats.variance
    variance = Estimate(
        jnp.maximum(v.value, 0.0) * scale, v.stderr * scale, method="fit-variance", n=n,
        reason=v.reason,
    )  # fmt: skip
    weight = float(tuning.weight_from_variance(stats.estimate, variance=float(variance.value)))
    target = float(tuning.target_from_variance(stats.estimate, variance=float(variance.value)))
    return Calibration(stats.estimate, variance, stats.noise_var, weight, target, folds, n)
