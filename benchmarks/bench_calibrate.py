"""The cost of the calibrated model against one plain training and validation grid search.

On the main job's synthetic tasks at its quick sizes (N = 512, the task's MLP, full-batch Adam),
per task and seed. Every piece is first called once ("cold": compilation included, what a user
pays once; for a later seed of the same task the programs may already be compiled), then
`--rounds` more times, the pieces interleaved within each round ("warm": the compiled program
reused, the run cost). Ratios to plain are medians over the rounds of the per-round ratios.

- plain: one unregularized training of the final model (plain Adam steps, no penalty);
- calibrate: `symreg.flax.calibrate` (K fold models of N/K in one vmapped call + statistics);
- tuned: one regularized training with the calibrated weight β̂ as a constant (a fresh
  `SymmetryTrainState(tuner=β̂)`), the job's step (`QUICK.penalty(...)`: the penalty on
  `penalty_batch_size` examples per step) in a jitted loop, as a user runs it;
- validation grid: 7 weights trained on 80% of the data (one vmapped call), β picked on the
  other 20%, then one regularized training on all the data.

Excess test error (‖f − f*‖² on fresh inputs) of the plain, tuned and validation-grid models.
One JSON object per (task, seed) on stdout; the medians go to benchmarks/RESULTS.md, the plot to
benchmarks/figures/calibrate.png (excess error against cost).

    python benchmarks/bench_calibrate.py [--quick] [--seeds 3] [--rounds 5]
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _harness import block, emit, environment, log, parser

from symreg.experiments import QUICK
from symreg.experiments.synthetic import cloud2d_task, cloud3d_task, sets_task
from symreg.experiments.tradeoff import validation_search
from symreg.experiments.training import (
    VariablesApply,
    base_state,
    optimizer,
    run_states,
    squared_error,
    train,
)
from symreg.flax import SymmetryTrainState, calibrate, make_train_step

TASKS = {"sets": sets_task, "cloud2d": cloud2d_task, "cloud3d": cloud3d_task}


def _rounds(pieces, rounds):
    """Cold and warm wall times of each piece, and the warm times' ratios to "plain".

    `pieces` maps names to thunks, called in order: the first call of each is its cold time
    (compilation included). Then `rounds` rounds call every piece once more, interleaved, so
    that a burst of load on the shared machine hits all pieces of a round alike; the warm time
    and each ratio to plain are medians over the rounds. Returns (results, cold, warm, ratios).
    """
    results, cold = {}, {}
    for name, fn in pieces.items():
        start = time.perf_counter()
        results[name] = block(fn())
        cold[name] = time.perf_counter() - start
    warm = {name: [] for name in pieces}
    for _ in range(rounds):
        for name, fn in pieces.items():
            start = time.perf_counter()
            block(fn())
            warm[name].append(time.perf_counter() - start)
    plain = np.asarray(warm["plain"])
    ratios = {name: float(np.median(np.asarray(t) / plain)) for name, t in warm.items()}
    return results, cold, {name: float(np.median(t)) for name, t in warm.items()}, ratios


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


@functools.cache
def _step(task, config):
    """The job's step, one object per (task, config): later seeds reuse its compiled loops."""
    return make_train_step(
        squared_error,
        penalty=config.penalty(task.symmetry),
        warmup_steps=max(int(config.warmup * config.steps), 1),
    )  # fmt: skip


def _weighted(base, step, weights, x, y, config):
    states = run_states(base, weights, np.full(len(weights), np.nan))
    return train(step, config.steps, states, x, y)[0].params


def validation_grid(step, model, base, x, y, config, key):
    """The user's alternative: `validation_search`, then the picked β trained on all the data."""
    beta = validation_search(step, model, base, x, y, grid=config.grid, steps=config.steps, key=key)
    return jax.tree.map(lambda a: a[0], _weighted(base, step, [beta], x, y, config))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _user_loop(step, steps, state, x, y):
    """`steps` calls of the library's step on the full batch: a user's training loop."""
    return jax.lax.scan(lambda st, _: (step(st, x, y)[0], None), state, None, length=steps)[0]


def one(name, seed, config, rounds):
    task = TASKS[name]()
    sizes = config.sizes()
    split = task.split(jax.random.key(1000 + seed), sizes)
    x, y = split.x_train, split.y_train
    model = task.model(sizes)
    params = model.init(jax.random.key(seed), x)
    base = base_state(model, params, config, jax.random.key(7 + seed))
    excess = lambda p: float(jnp.mean(jnp.sum(
        (model.apply(p, split.x_test) - split.t_test).reshape(split.t_test.shape[0], -1) ** 2, -1)))  # fmt: skip
    step = _step(task, config)
    done = {}

    def calibrated():
        done["cal"] = calibrate(
            base, squared_error, x, y, symmetry=task.symmetry, key=jax.random.key(11 + seed),
            steps=config.steps, folds=config.folds)  # fmt: skip
        return done["cal"]

    def tuned():  # the user's run: a constant weight β̂ in a fresh state, the job's step
        if "state" not in done:  # set up once: a new controller object is a new program
            done["state"] = SymmetryTrainState.create(
                apply_fn=VariablesApply(model), params=params, tx=optimizer(config.learning_rate, config.steps),
                tuner=done["cal"].weight, key=jax.random.key(7 + seed))  # fmt: skip
        return _user_loop(step, config.steps, done["state"], x, y).params

    pieces = {
        "plain": lambda: plain_training(model, params, x, y, config),
        "calibrate": calibrated,
        "tuned": tuned,
        "validation_grid": lambda: validation_grid(step, model, base, x, y, config, jax.random.key(3)),
    }  # fmt: skip
    out, cold, warm, ratio = _rounds(pieces, rounds)
    return {
        "bench": "calibrate", "task": name, "seed": seed, "n_train": sizes.n_train,
        "steps": config.steps, "penalty_batch_size": config.penalty_batch_size,
        "weight": out["calibrate"].weight, "rounds": rounds,
        "seconds": warm, "seconds_cold": cold,
        "ratio_to_plain": {
            "calibrate": ratio["calibrate"], "tuned": ratio["tuned"],
            "calibrate_plus_tuned": ratio["calibrate"] + ratio["tuned"],
            "validation_grid": ratio["validation_grid"],
        },
        "tuned_cost_over_validation": (ratio["calibrate"] + ratio["tuned"]) / ratio["validation_grid"],
        "excess": {k: excess(out[k]) for k in ("plain", "tuned", "validation_grid")},
    }  # fmt: skip


def main():
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rounds", type=int, default=5, help="interleaved warm rounds")
    p.add_argument("--penalty-batch-size", type=int, default=None,
                   help="examples per step in the training penalty (default: all N)")  # fmt: skip
    args = p.parse_args()
    emit({"bench": "environment", **environment()})
    config = dataclasses.replace(QUICK, penalty_batch_size=args.penalty_batch_size)
    tasks = ["sets"] if args.quick else list(TASKS)
    seeds = 1 if args.quick else args.seeds
    rows = []
    for name in tasks:
        for seed in range(seeds):
            log(f"calibrate: {name} seed {seed}")
            rows.append(one(name, seed, config, args.rounds))
            emit(rows[-1])
    if not args.quick and args.penalty_batch_size is None:  # the figure is of `make run`'s penalty
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
