"""The main job, one task at a time: estimate η, train a grid and the auto-tuned model, compare.

For each of D data sets (seeds) of a task:

1. η̂ ± s.e. from the training data (`symreg.estimators.estimate_data_error`).
2. Phase A (one vmapped training call): the unregularized run (β = 0), `bootstrap`
   unregularized runs on bootstrap resamples (multinomial example weights), and part of the
   grid of weights.
3. The fit's estimation variance v̂ = mean over pairs of bootstrap runs of ED_2(f̂_i − f̂_j)/2
   on the training inputs (the defect is linear in f, so this is twice the variance of one
   fit's defect), the model-agnostic analogue of v = 2σ²k_A/(n − d − 1).
4. The rules of `symreg.tuning`: the weight β̂ = `weight_from_estimate` (β* = σ²k_A/(nη̃) with
   the effective k_A = n·v̂/(2σ̂²), so that β̂ = v̂/(2η̃): the weight that shrinks the
   symmetry-breaking part by α* = η̃/(η̃ + v̂) in the linear-Gaussian model), capped at the
   grid's largest weight; and the target ε̂ = `target_from_estimate` = α̂·η̃.
5. Phase B (one call, as many runs as phase A, so it reuses the compiled loop): the tuned run
   (constant β̂), the dual-ascent run (target ε̂, starting from β̂) and the rest of the grid.
6. Test error and model equivariance error (on test inputs) of every run, and of the exactly
   symmetrized unregularized model Q f̂₀ (`symreg.symmetrize`: all elements of a finite
   group, a stratified sample of a continuous one), in one compiled program.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import symreg
from symreg import tuning
from symreg.estimators import estimate_data_error
from symreg.experiments import results
from symreg.experiments.config import TradeoffConfig
from symreg.experiments.evaluation import exact_measure, measure_all, model_errors, test_errors
from symreg.experiments.tasks import Split
from symreg.experiments.training import TrainConfig, run_states, train_runs


@dataclasses.dataclass(frozen=True)
class Difference:
    """The model x ↦ f(p₁, x) − f(p₂, x) with params (p₁, p₂) (hashable: a static apply_fn)."""

    apply_fn: Callable[[Any, Any], Any]

    def __call__(self, params: Any, x: Any) -> jax.Array:
        return self.apply_fn(params[0], x) - self.apply_fn(params[1], x)


def _take(tree: Any, idx: Any) -> Any:
    """Runs `idx` (an int list) of params with leading axes (D, R)."""
    return jax.tree.map(lambda a: a[:, jnp.asarray(idx)], tree)


def bootstrap_masks(key: jax.Array, d: int, b: int, n: int) -> jax.Array:
    """Multinomial example weights of b bootstrap resamples of n examples, shape (d, b, n)."""
    draws = jax.random.randint(key, (d, b, n), 0, n)
    return jax.vmap(jax.vmap(lambda i: jnp.zeros(n, jnp.float32).at[i].add(1.0)))(draws)


def fit_variance(apply_fn, boot_params, x, key, *, symmetry, num_samples) -> jax.Array:
    """v̂ per data set: the mean over bootstrap pairs (i, j) of ED_2(f̂_i − f̂_j) / 2, shape (D,)."""
    pairs = list(itertools.combinations(range(jax.tree.leaves(boot_params)[0].shape[1]), 2))
    first = _take(boot_params, [i for i, _ in pairs])
    second = _take(boot_params, [j for _, j in pairs])
    ed = model_errors(
        Difference(apply_fn), (first, second), x, key, symmetry=symmetry, num_samples=num_samples
    )
    return ed.mean(axis=1) / 2


@functools.partial(jax.jit, static_argnums=0, static_argnames=("symmetry", "num_samples"))
def train_diagnostics(apply_fn, unreg, boot, x, y, key, *, symmetry, num_samples):
    """On the training data: v̂ (`fit_variance`), the residual σ̂² and ED_2 of the unregularized
    runs `unreg` (leading axes (D, 1)); each of shape (D,)."""
    k1, k2 = jax.random.split(key)
    v = fit_variance(apply_fn, boot, x, k1, symmetry=symmetry, num_samples=num_samples)
    sigma2 = test_errors(apply_fn, unreg, x, y)[:, 0]
    ed0 = model_errors(apply_fn, unreg, x, k2, symmetry=symmetry, num_samples=num_samples)[:, 0]
    return v, sigma2, ed0


def tuned_settings(estimates, v_hat, noise_var, n, max_weight) -> tuple[np.ndarray, np.ndarray]:
    """The rules of `symreg.tuning` per data set: weights β̂ (D,) and targets ε̂ (D,)."""
    weights, targets = [], []
    for est, v, s2 in zip(estimates, v_hat, noise_var, strict=True):
        v, s2 = max(float(v), 1e-12), max(float(s2), 1e-12)
        k_eff = n * v / (2 * s2)  # σ²k_A = n·v/2, from v = 2σ²k_A/n
        beta = tuning.weight_from_estimate(
            est, noise_var=s2, k_break=k_eff, n=n, max_weight=max_weight
        )
        weights.append(float(beta))
        targets.append(float(tuning.target_from_estimate(est, variance=v)))
    return np.asarray(weights), np.asarray(targets)


@dataclasses.dataclass(frozen=True)
class Layout:
    """Which run is where: phase A = [0, bootstrap..., grid[:a]], phase B = [tuned, dual, grid[a:]],
    both padded with β = 0 runs to the same length R."""

    grid: tuple[float, ...]
    bootstrap: int

    @property
    def split(self) -> int:
        return max(0, (len(self.grid) + 1 - self.bootstrap) // 2)

    @property
    def runs(self) -> int:
        a = 1 + self.bootstrap + self.split
        return max(a, 2 + len(self.grid) - self.split)

    def phase_a(self) -> np.ndarray:
        w = [0.0] * (1 + self.bootstrap) + list(self.grid[: self.split])
        return np.asarray(w + [0.0] * (self.runs - len(w)))

    def phase_b_grid(self) -> np.ndarray:
        w = list(self.grid[self.split :])
        return np.asarray(w + [0.0] * (self.runs - 2 - len(w)))

    def measured(self) -> list[int]:
        """Indices into [phase A, phase B] of: unregularized, the grid in order, tuned, dual."""
        r, a = self.runs, self.split
        grid = [1 + self.bootstrap + i for i in range(a)] + [
            r + 2 + i for i in range(len(self.grid) - a)
        ]
        return [0, *grid, r, r + 1]


@dataclasses.dataclass(frozen=True)
class _Context:
    """What the steps of one task share."""

    task: Any
    config: TradeoffConfig
    model: Any
    data: Split
    p0: Any
    key: jax.Array
    layout: Layout

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.y_train.shape[:2]  # (D, N)

    @property
    def symmetry(self) -> symreg.Symmetry:
        return self.task.symmetry

    def sizes(self) -> dict[str, Any]:
        """N, M and the test offset, for the report."""
        return {
            "n_train": int(self.shape[1]),
            "n_test": int(jax.tree.leaves(self.data.x_test)[0].shape[1]),
            "test_offset": float(np.mean(self.data.test_offset)),
        }

    def train(self, states, masks=None):
        config = self.config
        train_cfg = TrainConfig(
            steps=config.steps, learning_rate=config.learning_rate, num_samples=config.penalty_samples,
            dual_step=config.dual_step, max_weight=config.grid[-1], warmup=config.warmup,
        )  # fmt: skip
        keys = jax.random.split(jax.random.fold_in(self.key, 1), self.shape[0])  # both phases
        return train_runs(
            self.model, self.p0, self.data.x_train, self.data.y_train, keys, states, masks,
            symmetry=self.symmetry, config=train_cfg,
        )  # fmt: skip


@functools.partial(jax.jit, static_argnums=0)
def _init(model, keys, x):
    return jax.vmap(model.init, in_axes=(0, None))(keys, x)


def _context(task, config: TradeoffConfig, key: jax.Array) -> _Context:
    sizes = config.sizes(config.digits_n_train if task.name == "digits" else None)
    k_data, k_init, k_run = jax.random.split(key, 3)
    data = task.splits(jax.random.split(k_data, config.seeds), sizes)
    model = task.model(sizes)
    x0 = jax.tree.map(lambda a: a[0], data.x_train)
    p0 = _init(model, jax.random.split(k_init, config.seeds), x0)
    return _Context(task, config, model, data, p0, k_run, Layout(config.grid, config.bootstrap))


def estimate_all(ctx: _Context) -> list:
    """η̂ ± s.e. of every data set, by the task's estimator."""
    options = ctx.task.estimator_options(ctx.config.sizes(ctx.shape[1]))
    keys = jax.random.split(jax.random.fold_in(ctx.key, 2), ctx.shape[0])
    out = []
    for d, k in enumerate(keys):
        x = jax.tree.map(lambda a, d=d: a[d], ctx.data.x_train)
        out.append(
            estimate_data_error(x, ctx.data.y_train[d], symmetry=ctx.symmetry, key=k, **options)
        )
    return out


def phase_a(ctx: _Context):
    """Runs [0, bootstrap..., grid[:a]] in one call; params with leading axes (D, R)."""
    (d, n), b = ctx.shape, ctx.config.bootstrap
    masks = jnp.ones((d, ctx.layout.runs, n), jnp.float32)
    masks = masks.at[:, 1 : 1 + b].set(bootstrap_masks(jax.random.fold_in(ctx.key, 3), d, b, n))
    states = run_states(
        jnp.broadcast_to(jnp.asarray(ctx.layout.phase_a(), jnp.float32), (d, ctx.layout.runs))
    )
    return ctx.train(states, masks)[0]


def tune(ctx: _Context, estimates, params) -> dict[str, np.ndarray]:
    """v̂ from the bootstrap runs, σ̂² and ED_2 of the unregularized fit, then β̂ and ε̂."""
    b = ctx.config.bootstrap
    v_hat, sigma2, ed0 = map(np.asarray, train_diagnostics(
        ctx.model, _take(params, [0]), _take(params, list(range(1, 1 + b))), ctx.data.x_train,
        ctx.data.y_train, jax.random.fold_in(ctx.key, 4), symmetry=ctx.symmetry,
        num_samples=ctx.config.measure_samples,
    ))  # fmt: skip
    weights, targets = tuned_settings(estimates, v_hat, sigma2, ctx.shape[1], ctx.config.grid[-1])
    return {
        "v_hat": v_hat,
        "noise_var": sigma2,
        "ed0_train": ed0,
        "weight": weights,
        "target": targets,
    }


def phase_b(ctx: _Context, tuned: dict[str, np.ndarray]):
    """Runs [tuned (constant β̂), dual (target ε̂, from β̂), grid[a:]] in one call."""
    d = ctx.shape[0]
    w = jnp.asarray(tuned["weight"], jnp.float32)[:, None]
    rest = jnp.broadcast_to(
        jnp.asarray(ctx.layout.phase_b_grid(), jnp.float32), (d, ctx.layout.runs - 2)
    )
    targets = jnp.full((d, ctx.layout.runs), jnp.nan).at[:, 1].set(jnp.asarray(tuned["target"]))
    return ctx.train(run_states(jnp.concatenate([w, w, rest], 1), targets))


def measure(ctx: _Context, params) -> dict[str, np.ndarray]:
    """`measure_all` on the test set (offset added to test errors) as NumPy arrays."""
    exact = exact_measure(ctx.symmetry)
    target_fn = getattr(ctx.task, "target_model", None)
    eps = None if target_fn is None else jnp.full(ctx.shape[0], ctx.task.eps, jnp.float32)
    out = measure_all(
        ctx.model, params, ctx.data.x_test, ctx.data.t_test, jax.random.fold_in(ctx.key, 6),
        ctx.data.x_train, eps,
        symmetry=ctx.symmetry, num_samples=ctx.config.measure_samples,
        q_samples=None if exact else ctx.config.symmetrize_samples, target_fn=target_fn,
        classes=bool(getattr(ctx.task, "num_classes", 0)),
    )  # fmt: skip
    out = {k: np.asarray(v) for k, v in out.items()}
    out["grid"] = ctx.config.grid
    offset = np.asarray(ctx.data.test_offset)
    out["test"] = out["test"] + offset[:, None]
    out["q_test"] = out["q_test"] + offset
    return out


def run_task(
    task, config: TradeoffConfig, key: jax.Array, *, progress: Callable[[str], None] | None = None
) -> dict:
    """Runs the whole comparison for one task and returns its result dict.

    Args:
      task: a task (`SyntheticTask`, `DigitsTask`, or anything with their methods).
      config: a `TradeoffConfig`.
      key: PRNG key of everything random in the task (data, inits, groups, estimates).
      progress: called with the name of each step as it starts.

    Returns:
      The task's result dict (schema in `symreg.experiments.results`).
    """
    tell = progress or (lambda stage: None)
    start = time.perf_counter()
    tell("data")
    ctx = _context(task, config, key)
    tell("estimate")
    estimates = estimate_all(ctx)
    tell("train grid")
    params_a = phase_a(ctx)
    tuned = tune(ctx, estimates, params_a)
    tell("train tuned")
    params_b, _, tail_b = phase_b(ctx, tuned)
    tell("evaluate")
    both = jax.tree.map(lambda a, b: jnp.concatenate([a, b], 1), params_a, params_b)
    metrics = measure(ctx, _take(both, ctx.layout.measured()))
    extra = {
        "dual_train_model_error": metrics["ed_train"][:, -1],
        "dual_final_weight": np.asarray(tail_b["weight"][:, 1]),
    }
    seconds = time.perf_counter() - start
    return results.task_result(task, estimates, tuned, metrics, extra, ctx.sizes(), seconds)
