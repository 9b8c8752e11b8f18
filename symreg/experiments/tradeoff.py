"""The main job, one task at a time: calibrate, train a grid and the calibrated model, compare.

For each of D data sets (seeds) of a task, as a user would with their own model:

1. `symreg.flax.calibrate` on the training data: the task's model trained on K folds gives
   η̂ ± s.e., the fit variance v̂ and σ̂², the weight β̂ = v̂/(2η̃) and the target ε̂ = α̂·η̃.
2. Validation grid search, the alternative a user has: the grid trained on 80% of the
   training data, β picked on the other 20%.
3. One vmapped call of the library's train step (`symreg.experiments.training.train`): the
   unregularized run (β = 0), the grid, the calibrated run (constant β̂), the dual-ascent run
   (target ε̂, from β̂) and the validation pick retrained on all the training data.
4. Test error and model equivariance error (on test inputs) of every run, and of the
   symmetrized unregularized model Q f̂₀ (`symreg.symmetrize`: all elements of a finite group,
   a stratified sample of a continuous one), in one compiled program.
5. For a continuous group, the task's exactly equivariant model (`Task.exact_model`,
   `symreg.experiments.exact`) trained with the same optimizer, steps and step at β = 0, and
   its test error and ED_2: the exact counterpart of the sampled Q f̂₀.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import symreg
from symreg.experiments import results
from symreg.experiments.config import TradeoffConfig
from symreg.experiments.evaluation import exact_measure, measure_all, model_errors, test_errors
from symreg.experiments.tasks import Model, Sizes, Split, Task
from symreg.experiments.training import base_state, run_states, squared_error, train
from symreg.flax import Calibration, SymmetryTrainState, calibrate, make_train_step

#: The share of the training data that validation grid search holds out.
VALIDATION_SHARE = 0.2


@dataclasses.dataclass(frozen=True)
class _Context:
    """What the steps of one task share."""

    task: Task
    config: TradeoffConfig
    model: Model
    data: Split
    p0: Any
    key: jax.Array
    step: Callable
    task_sizes: Sizes

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

    def base_state(self, d: int, model: Model | None = None, p0: Any = None) -> SymmetryTrainState:
        """Data set d's fresh state: its initialization, the optimizer and the controller
        (of the task's MLP, or of `model` from its initializations `p0`)."""
        model, p0 = (self.model, self.p0) if model is None else (model, p0)
        params = jax.tree.map(lambda a: a[d], p0)
        return base_state(model, params, self.config, jax.random.fold_in(self.key, 100 + d))

    def data_set(self, d: int) -> tuple[Any, jax.Array]:
        return jax.tree.map(lambda a: a[d], self.data.x_train), self.data.y_train[d]


@functools.partial(jax.jit, static_argnums=0)
def _init(model, keys, x):
    return jax.vmap(model.init, in_axes=(0, None))(keys, x)


def _context(task: Task, config: TradeoffConfig, key: jax.Array) -> _Context:
    sizes = config.sizes(config.digits_n_train if task.name == "digits" else None)
    k_data, k_init, k_run = jax.random.split(key, 3)
    data = task.splits(jax.random.split(k_data, config.seeds), sizes)
    model = task.model(sizes)
    x0 = jax.tree.map(lambda a: a[0], data.x_train)
    p0 = _init(model, jax.random.split(k_init, config.seeds), x0)
    step = make_train_step(
        squared_error,
        penalty=config.penalty(task.symmetry),
        warmup_steps=max(int(config.warmup * config.steps), 1),
    )  # fmt: skip
    return _Context(task, config, model, data, p0, k_run, step, sizes)


def calibrate_one(ctx: _Context, d: int) -> Calibration:
    """`symreg.flax.calibrate` on data set d with the task's model, optimizer and steps."""
    x, y = ctx.data_set(d)
    return calibrate(
        ctx.base_state(d), squared_error, x, y, symmetry=ctx.symmetry,
        key=jax.random.fold_in(ctx.key, 200 + d), steps=ctx.config.steps, folds=ctx.config.folds,
        num_samples=None,
    )  # fmt: skip


def validation_search(step, model, base, x, y, *, grid, steps: int, key) -> float:
    """Grid search on a validation split, as a user would run it: every weight of `grid`
    trained from `base` on 80% of (x, y) (one vmapped call of `step`), β picked by the squared
    error on the other 20%.

    Args:
      step: a step of `symreg.flax.make_train_step` (the same object reuses the compiled run).
      model: the model, a `symreg.experiments.tasks.Model` (`model(params, x)`).
      base: the fresh `SymmetryTrainState` every run starts from.
      x: training inputs, leading axis N.
      y: training targets, leading axis N.
      grid: the weights β.
      steps: training steps per run.
      key: PRNG key of the split.

    Returns:
      The picked β, a float from `grid`.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> import symreg
      >>> from symreg.actions import Vector
      >>> from symreg.groups import SO2
      >>> from symreg.estimators import MLP
      >>> from symreg.experiments.training import VariablesApply, controller, squared_error
      >>> from symreg.experiments.tradeoff import validation_search
      >>> from symreg.flax import SymmetryTrainState, make_train_step
      >>> mlp, x = MLP(hidden=(4,)), jax.random.normal(jax.random.key(0), (20, 2))
      >>> base = SymmetryTrainState.create(apply_fn=VariablesApply(mlp),
      ...     params=mlp.init(jax.random.key(1), x), tx=optax.adam(1e-2),
      ...     tuner=controller(0.05), key=jax.random.key(2))
      >>> step = make_train_step(
      ...     squared_error, penalty=symreg.SymmetryPenalty(symreg.Symmetry(SO2(), Vector())))
      >>> validation_search(step, mlp, base, x, x[:, 0], grid=(0.0, 1.0), steps=5,
      ...                   key=jax.random.key(3)) in (0.0, 1.0)
      True
    """
    n = jax.tree.leaves(y)[0].shape[0]
    perm = jax.random.permutation(key, n)
    n_val = int(round(VALIDATION_SHARE * n))
    take = lambda idx: jax.tree.map(lambda a: a[idx], (x, y))
    grid = np.asarray(grid)
    states = run_states(base, grid, np.full(len(grid), np.nan))
    states, _ = train(step, steps, states, *take(perm[n_val:]))
    xv, yv = take(perm[:n_val])
    errors = jax.vmap(lambda p: squared_error(model(p, xv), yv))(states.params)
    return float(grid[int(jnp.argmin(errors))])


def validation_pick(ctx: _Context, d: int) -> float:
    """`validation_search` on data set d with the task's model, grid and steps."""
    x, y = ctx.data_set(d)
    return validation_search(
        ctx.step, ctx.model, ctx.base_state(d), x, y, grid=ctx.config.grid,
        steps=ctx.config.steps, key=jax.random.fold_in(ctx.key, 300 + d),
    )  # fmt: skip


def run_weights(ctx: _Context, cal: Calibration, beta_val: float):
    """Weights and targets of the runs [0, grid..., calibrated, dual, validation pick]."""
    grid = list(ctx.config.grid)
    weights = [0.0, *grid, cal.weight, cal.weight, beta_val]
    targets = [np.nan] * (len(grid) + 2) + [cal.target, np.nan]
    return np.asarray(weights), np.asarray(targets)


def train_one(ctx: _Context, d: int, cal: Calibration, beta_val: float):
    """All runs of data set d in one call: params (R, ...) and the tail metrics (R,)."""
    weights, targets = run_weights(ctx, cal, beta_val)
    states = run_states(ctx.base_state(d), weights, targets)
    states, tail = train(ctx.step, ctx.config.steps, states, *ctx.data_set(d))
    return states.params, tail


def train_exact(ctx: _Context, model: Model) -> Any:
    """The exactly equivariant `model` trained on every data set like the MLP's runs (same
    optimizer, steps and step; β = 0, its ED_2 is 0): parameters with leading axes (D, 1)."""
    x0 = jax.tree.map(lambda a: a[0], ctx.data.x_train)
    keys = jax.random.split(jax.random.fold_in(ctx.key, 400), ctx.shape[0])
    p0 = _init(model, keys, x0)
    out = []
    for d in range(ctx.shape[0]):
        states = run_states(ctx.base_state(d, model, p0), [0.0], [np.nan])
        out.append(train(ctx.step, ctx.config.steps, states, *ctx.data_set(d))[0].params)
    return _stack(out)


def measure_exact(ctx: _Context, model: Model, params: Any) -> tuple[np.ndarray, np.ndarray]:
    """Test error (offset added) and ED_2 on the test inputs of the exact model, each (D,)."""
    test = test_errors(model, params, ctx.data.x_test, ctx.data.t_test)[:, 0]
    ed = model_errors(
        model, params, ctx.data.x_test, jax.random.fold_in(ctx.key, 7),
        symmetry=ctx.symmetry, num_samples=ctx.config.measure_samples,
    )[:, 0]  # fmt: skip
    return np.asarray(test) + np.asarray(ctx.data.test_offset), np.asarray(ed)


def measure(ctx: _Context, params) -> results.Measurements:
    """`measure_all` on the test set (offset added to test errors), as NumPy arrays."""
    exact = exact_measure(ctx.symmetry)
    known = ctx.task.known_target()
    target_fn, eps = (None, None) if known is None else known
    if eps is not None:
        eps = jnp.full(ctx.shape[0], eps, jnp.float32)
    out = measure_all(
        ctx.model, params, ctx.data.x_test, ctx.data.t_test, jax.random.fold_in(ctx.key, 6),
        ctx.data.x_train, eps,
        symmetry=ctx.symmetry, num_samples=ctx.config.measure_samples,
        q_samples=None if exact else ctx.config.symmetrize_samples, target_fn=target_fn,
        classes=ctx.task.num_classes > 0,
    )  # fmt: skip
    out = {k: np.asarray(v) for k, v in out.items()}
    offset = np.asarray(ctx.data.test_offset)
    out["test"] = out["test"] + offset[:, None]
    out["q_test"] = out["q_test"] + offset
    return results.Measurements(
        **out, grid=ctx.config.grid, q_samples=None if exact else ctx.config.symmetrize_samples
    )


def _stack(trees: list) -> Any:
    return jax.tree.map(lambda *a: jnp.stack(a), *trees)


def run_task(
    task: Task,
    config: TradeoffConfig,
    key: jax.Array,
    *,
    progress: Callable[[str], None] | None = None,
) -> results.TaskResult:
    """Runs the whole comparison for one task and returns its result.

    Args:
      task: a task (`symreg.experiments.tasks.Task`: `SyntheticTask`, `DigitsTask`).
      config: a `TradeoffConfig`.
      key: PRNG key of everything random in the task (data, inits, groups, folds).
      progress: called with the name of each step as it starts.

    Returns:
      The task's `symreg.experiments.results.TaskResult`.
    """
    tell = progress or (lambda stage: None)
    start = time.perf_counter()
    tell("data")
    ctx = _context(task, config, key)
    seeds = range(ctx.shape[0])
    tell("calibrate")
    cals = [calibrate_one(ctx, d) for d in seeds]
    tell("validation grid")
    picks = [validation_pick(ctx, d) for d in seeds]
    tell("train")
    trained = [train_one(ctx, d, cal, b) for d, cal, b in zip(seeds, cals, picks, strict=True)]
    exact = task.exact_model(ctx.task_sizes)
    exact_params = None if exact is None else train_exact(ctx, exact)
    tell("evaluate")
    metrics = measure(ctx, _stack([p for p, _ in trained]))
    if exact is not None:
        test, ed = measure_exact(ctx, exact, exact_params)
        metrics = dataclasses.replace(
            metrics,
            exact_test=test,
            exact_ed=ed,
            exact_label=getattr(exact, "label", "exact model"),
        )
    tails = _stack([t for _, t in trained])
    g = len(config.grid)
    tuned = results.Tuning(
        weight=np.asarray([c.weight for c in cals]),
        target=np.asarray([c.target for c in cals]),
        v_hat=np.asarray([float(c.variance.value) for c in cals]),
        noise_var=np.asarray([float(c.noise_var.value) for c in cals]),
        validation_weight=np.asarray(picks),
        dual_final_weight=np.asarray(tails["weight"][:, g + 2]),
        dual_train_model_error=metrics.ed_train[:, g + 2],
        ed0_train=metrics.ed_train[:, 0],
    )
    seconds = time.perf_counter() - start
    estimates = [c.estimate for c in cals]
    return results.task_result(task, estimates, tuned, metrics, ctx.sizes(), seconds)
