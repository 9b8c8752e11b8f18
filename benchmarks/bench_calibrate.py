"""The cost of the calibrated model against one plain training and validation grid search.

On the main job's synthetic tasks at its quick sizes (N = 512, the task's MLP, full-batch Adam),
per task and seed; every piece is run twice and both wall times are recorded: "cold" (its first
call in this process, compilation included, what a user pays once; for a later seed of the same
task the programs may already be compiled) and "warm" (the second call, the compiled program
reused: the run cost). The ratios are of warm times; cold ones are in "seconds_cold".

- plain: one unregularized training of the final model (plain Adam steps, no penalty);
- calibrate: `symreg.flax.calibrate` (4 fold models of N/4 in one vmapped call + statistics);
- tuned: one regularized training with the calibrated weight β̂ (the library's train step);
- validation grid: 7 weights trained on 80% of the data (one vmapped call), β picked on the
  other 20%, then one regularized training on all the data.

Excess test error (‖f − f*‖² on fresh inputs) of the plain, tuned and validation-grid models.
One JSON object per (task, seed) on stdout; the medians go to benchmarks/RESULTS.md, the plot to
benchmarks/figures/calibrate.png (excess error against cost).

    python benchmarks/bench_calibrate.py [--quick] [--seeds 3]
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _harness import block, emit, environment, log, parser

import symreg
from symreg.experiments import QUICK
from symreg.experiments.synthetic import cloud2d_task, cloud3d_task, sets_task
from symreg.experiments.tradeoff import validation_search
from symreg.experiments.training import (
    VariablesApply,
    controller,
    optimizer,
    run_states,
    squared_error,
    train,
)
from symreg.flax import SymmetryTrainState, calibrate, make_train_step

TASKS = {"sets": sets_task, "cloud2d": cloud2d_task, "cloud3d": cloud3d_task}


def _timed(fn):
    """(result, cold seconds, warm seconds): the first call and a second, compiled one."""
    times = []
    for _ in range(2):
        start = time.perf_counter()
        out = block(fn())
        times.append(time.perf_counter() - start)
    return out, times[0], times[1]


@functools.partial(jax.jit, static_argnums=(0, 4, 5))
def _plain(model, params, x, y, learning_rate, steps):
    tx = optimizer(learning_rate, steps)

    def step(carry, _):
        p, s = carry
        grads = jax.grad(lambda q: squared_error(model.apply(q, x), y))(p)
        updates, s = tx.update(grads, s, p)
        return (optax.apply_updates(p, updates), s), None

    return jax.lax.scan(step, (params, tx.init(params)), None, length=steps)[0][0]


def plain_training(model, params, x, y, config):
    """Unregularized full-batch Adam: the training a user would run without symreg."""
    return _plain(model, params, x, y, config.learning_rate, config.steps)


def _state(model, params, config, key):
    return SymmetryTrainState.create(
        apply_fn=VariablesApply(model), params=params, tx=optimizer(config.learning_rate, config.steps),
        tuner=controller(config.dual_step), key=key,
    )  # fmt: skip


def _step(task, config):
    return make_train_step(
        squared_error,
        penalty=symreg.SymmetryPenalty(task.symmetry, num_samples=config.penalty_samples),
        warmup_steps=max(int(config.warmup * config.steps), 1),
    )  # fmt: skip


def _weighted(base, step, weights, x, y, config):
    states = run_states(base, weights, np.full(len(weights), np.nan))
    return train(step, config.steps, states, x, y)[0].params


def validation_grid(step, model, base, x, y, config, key):
    """The user's alternative: `validation_search`, then the picked β trained on all the data."""
    beta = validation_search(step, model, base, x, y, grid=config.grid, steps=config.steps, key=key)
    return jax.tree.map(lambda a: a[0], _weighted(base, step, [beta], x, y, config))


def one(name, seed, config):
    task = TASKS[name]()
    sizes = config.sizes()
    split = task.split(jax.random.key(1000 + seed), sizes)
    x, y = split.x_train, split.y_train
    model = task.model(sizes)
    params = model.init(jax.random.key(seed), x)
    base = _state(model, params, config, jax.random.key(7 + seed))
    excess = lambda p: float(jnp.mean(jnp.sum(
        (model.apply(p, split.x_test) - split.t_test).reshape(split.t_test.shape[0], -1) ** 2, -1)))  # fmt: skip
    step = _step(task, config)
    plain, c_plain, t_plain = _timed(lambda: plain_training(model, params, x, y, config))
    cal, c_cal, t_cal = _timed(lambda: calibrate(
        base, squared_error, x, y, symmetry=task.symmetry, key=jax.random.key(11 + seed),
        steps=config.steps, folds=config.folds))  # fmt: skip
    tuned, c_tuned, t_tuned = _timed(
        lambda: jax.tree.map(lambda a: a[0], _weighted(base, step, [cal.weight], x, y, config))
    )  # fmt: skip
    val, c_val, t_val = _timed(
        lambda: validation_grid(step, model, base, x, y, config, jax.random.key(3))
    )
    return {
        "bench": "calibrate", "task": name, "seed": seed, "n_train": sizes.n_train,
        "steps": config.steps, "weight": cal.weight,
        "seconds": {"plain": t_plain, "calibrate": t_cal, "tuned": t_tuned, "validation_grid": t_val},
        "seconds_cold": {"plain": c_plain, "calibrate": c_cal, "tuned": c_tuned, "validation_grid": c_val},
        "ratio_to_plain": {
            "calibrate": t_cal / t_plain, "calibrate_plus_tuned": (t_cal + t_tuned) / t_plain,
            "validation_grid": t_val / t_plain,
        },
        "tuned_cost_over_validation": (t_cal + t_tuned) / t_val,
        "excess": {"plain": excess(plain), "tuned": excess(tuned), "validation_grid": excess(val)},
    }  # fmt: skip


def main():
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args()
    emit({"bench": "environment", **environment()})
    config = QUICK
    tasks = ["sets"] if args.quick else list(TASKS)
    seeds = 1 if args.quick else args.seeds
    rows = []
    for name in tasks:
        for seed in range(seeds):
            log(f"calibrate: {name} seed {seed}")
            rows.append(one(name, seed, config))
            emit(rows[-1])
    if not args.quick:
        plot(rows)


def plot(rows, path="figures/calibrate.png"):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len({r["task"] for r in rows}), figsize=(12, 3.6), squeeze=False)
    for ax, name in zip(axes[0], dict.fromkeys(r["task"] for r in rows), strict=True):
        mine = [r for r in rows if r["task"] == name]
        for kind, cost, color in [
            ("plain", lambda r: r["seconds"]["plain"], "C3"),
            ("tuned", lambda r: r["seconds"]["calibrate"] + r["seconds"]["tuned"], "C1"),
            ("validation_grid", lambda r: r["seconds"]["validation_grid"], "C5"),
        ]:
            xs = [cost(r) / r["seconds"]["plain"] for r in mine]
            ys = [r["excess"][kind] for r in mine]
            ax.scatter(xs, ys, color=color, label=kind.replace("_", " "))
        ax.set_title(name)
        ax.set_xlabel("cost (× one plain training, compiled run)")
        ax.set_ylabel("excess test error")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
