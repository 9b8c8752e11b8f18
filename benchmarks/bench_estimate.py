"""Bias, spread and standard error of the data estimate η̂₂ against the oracle η₂, over seeds.

On the main job's synthetic tasks at their quick size (N = 512, `symreg.experiments.QUICK`),
per task, estimator and seed, with the data of `bench_calibrate.py`
(`task.split(jax.random.key(1000 + seed), QUICK.sizes())`):

- calibrate: `symreg.flax.calibrate` as the job calls it (the task's MLP from its own
  initialization, full-batch Adam with the job's schedule and steps, QUICK.folds folds,
  group elements enumerated or the default draws);
- calibrate-shared: the same, but every fold fit starts from the one given initialization
  (`fold_inits="shared"`, the rule before fold initializations were shuffled);
- crossfit: `symreg.estimators.estimate_data_error` with the job's options
  (`task.estimator_options`: crossfit, `MLPRegressor(32, 32)`, QUICK.estimator_steps, the
  same folds);
- oracle-fits: the same statistic (`symreg.estimators.fold_statistics`, QUICK.folds random
  folds) with every fit replaced by the noise-free f*: the floor of the estimator family at
  this N, whatever the fits.

Per task it also reports the semiparametric floor sd(φ)/√N/η of the efficient influence
function φ(x, y) = 2·mean_g‖Pf*(ρ_in(g)x)‖² + 4⟨y − f*(x), Pf*(x)⟩ (P = 1 − Q, Q from 256
stratified elements or the whole finite group; the noise is Gaussian of the task's σ).

The oracle η₂ is the task's `oracle_eta` (ED_2 of the known f*) on 16384 fresh inputs with 16
group elements each, a population value (its own s.e. is under 1% of η).

One JSON object per (task, estimator, seed) on stdout, then a markdown table per task and
estimator: mean η̂/η, s.d./η over seeds, the s.e. of that mean, the median s.e./η and the
median s.e. over the s.d. (1 for a calibrated s.e.).

    python benchmarks/bench_estimate.py [--quick] [--seeds 20] [--estimators calibrate,crossfit]
"""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from _harness import emit, environment, log, parser

import symreg
from symreg.estimators import estimate_data_error, fold_statistics
from symreg.experiments import QUICK
from symreg.experiments.synthetic import cloud2d_task, cloud3d_task, sets_task
from symreg.experiments.training import base_state, squared_error
from symreg.flax import calibrate

TASKS = {"sets": sets_task, "cloud2d": cloud2d_task, "cloud3d": cloud3d_task}
ESTIMATORS = ("calibrate", "calibrate-shared", "crossfit", "oracle-fits")


def oracle_eta(task) -> float:
    """η₂ = ED_2(f*) on 16384 fresh inputs (16 elements each): the population value."""
    x = task.sample_inputs(jax.random.key(99), 16384)
    return task.oracle_eta(x, jax.random.key(98), num_samples=16)


def influence_floor(task, eta: float, n: int) -> float:
    """sd(φ)/√N/η for the efficient influence function φ of η₂ (see the module docstring)."""
    x = task.sample_inputs(jax.random.key(97), 4096)
    sym = task.symmetry
    f = lambda params, xb: task.target(xb)
    if isinstance(sym.transforms, symreg.groups.AbstractFiniteGroup):
        qf = symreg.symmetrize(f, symmetry=sym)
    else:
        qf = symreg.symmetrize(
            f, symmetry=sym, num_samples=256, key=jax.random.key(96), sampling="stratified"
        )
    pf = lambda xb: (f(None, xb) - qf(None, xb)).reshape(jax.tree.leaves(xb)[0].shape[0], -1)
    g = sym.transforms.sample(jax.random.key(95), (16, 4096), sampling="stratified")
    moved = jax.vmap(lambda gs: jax.vmap(sym.act_input)(gs, x))(g)
    orbit = jnp.mean(jnp.stack([jnp.sum(pf(m) ** 2, -1) for m in moved]), 0)
    noise = task.noise**2 * jnp.sum(pf(x) ** 2, -1)  # Var(4<e, Pf*>) = 16 σ² ‖Pf*‖²
    var = jnp.var(2 * orbit) + 16 * jnp.mean(noise)
    return float(jnp.sqrt(var / n) / eta)


def _oracle_fits(task, x, y, seed, config):
    n = x.shape[0]
    fold = np.asarray(jax.random.permutation(jax.random.key(11 + seed), n)) % config.folds
    predict = lambda xb: jnp.stack([task.target(xb)] * config.folds)
    stats = fold_statistics(predict, x, y, fold, jax.random.key(13 + seed), symmetry=task.symmetry)
    return stats.estimate


def _calibrate(task, sizes, x, y, seed, config, fold_inits, num_samples=None):
    model = task.model(sizes)
    state = base_state(model, model.init(jax.random.key(seed), x), config, jax.random.key(7 + seed))
    cal = calibrate(
        state, squared_error, x, y, symmetry=task.symmetry, key=jax.random.key(11 + seed),
        steps=config.steps, folds=config.folds, num_samples=num_samples, fold_inits=fold_inits,
    )  # fmt: skip
    return cal.estimate


def estimate(name: str, task, estimator: str, seed: int, config=QUICK):
    """η̂ ± s.e. of one estimator on data set `seed`."""
    sizes = config.sizes()
    split = task.split(jax.random.key(1000 + seed), sizes)
    x, y = split.x_train, split.y_train
    if estimator == "calibrate":
        return _calibrate(task, sizes, x, y, seed, config, "shuffle")
    if estimator == "calibrate-shared":
        return _calibrate(task, sizes, x, y, seed, config, "shared")
    if estimator == "crossfit":
        return estimate_data_error(
            x, y, symmetry=task.symmetry, key=jax.random.key(11 + seed),
            **task.estimator_options(sizes),
        )  # fmt: skip
    if estimator == "oracle-fits":
        return _oracle_fits(task, x, y, seed, config)
    raise ValueError(f"unknown estimator {estimator!r}; one of {ESTIMATORS}")


def summarize(rows: list[dict]) -> list[dict]:
    """Per (task, estimator): mean η̂/η, s.d./η, the mean's s.e./η, median s.e./η."""
    out = []
    for key in dict.fromkeys((r["task"], r["estimator"]) for r in rows):
        mine = [r for r in rows if (r["task"], r["estimator"]) == key]
        eta = mine[0]["eta_oracle"]
        values = np.array([r["value"] for r in mine]) / eta
        stderrs = np.array([r["stderr"] for r in mine]) / eta
        sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
        out.append({
            "task": key[0], "estimator": key[1], "eta_oracle": eta, "seeds": len(mine),
            "mean_over_eta": float(values.mean()), "sd_over_eta": sd,
            "mean_se_over_eta": sd / np.sqrt(len(values)),
            "median_se_over_eta": float(np.median(stderrs)),
            "median_se_over_sd": float(np.median(stderrs)) / sd,
        })  # fmt: skip
    return out


def table(summary: list[dict]) -> str:
    lines = [
        "| task (oracle η₂) | estimator | mean η̂/η (± s.e.) | s.d./η | median s.e./η | s.e./s.d. |",
        "|---|---|---|---|---|---|",
    ]
    for s in summary:
        lines.append(
            f"| {s['task']} ({s['eta_oracle']:.3f}) | {s['estimator']} | "
            f"{s['mean_over_eta']:.2f} ± {s['mean_se_over_eta']:.2f} | {s['sd_over_eta']:.2f} | "
            f"{s['median_se_over_eta']:.2f} | {s['median_se_over_sd']:.2f} |"
        )
    return "\n".join(lines)


def main():
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--estimators", default=",".join(ESTIMATORS))
    args = p.parse_args()
    emit({"bench": "environment", **environment()})
    seeds = 2 if args.quick else args.seeds
    rows = []
    for name in args.tasks.split(","):
        task = TASKS[name]()
        eta = oracle_eta(task)
        floor = influence_floor(task, eta, QUICK.n_train)
        emit({"bench": "estimate-floor", "task": name, "eta_oracle": eta, "floor_over_eta": floor})
        log(f"{name}: η₂ = {eta:.4f}, semiparametric floor sd(φ)/√N = {floor:.3f}η")
        for estimator in args.estimators.split(","):
            log(f"estimate: {name} {estimator} ({seeds} seeds)")
            for seed in range(seeds):
                start = time.perf_counter()
                est = estimate(name, task, estimator, seed)
                rows.append({
                    "bench": "estimate", "task": name, "estimator": estimator, "seed": seed,
                    "n_train": QUICK.n_train, "folds": QUICK.folds, "eta_oracle": eta,
                    "value": float(est.value), "stderr": float(est.stderr),
                    "seconds": time.perf_counter() - start,
                })  # fmt: skip
                emit(rows[-1])
    summary = summarize(rows)
    for s in summary:
        emit({"bench": "estimate-summary", **s})
    print(table(summary))
    log(f"median seconds per estimate: {statistics.median(r['seconds'] for r in rows):.2f}")


if __name__ == "__main__":
    main()
