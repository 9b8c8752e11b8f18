"""Does the fit variance fall as 1/n? `calibrate`'s v̂ against the variance of fits at the full N.

`symreg.flax.calibrate` measures v̂ on K fits of N/K examples each and scales it to N by 1/K,
which assumes the variance of a fit's symmetry defect falls as 1/n. This script measures the
variance at N itself with the same estimator: `calibrate` on K·N examples of the same task
trains K fits of N examples each, so K times its v̂ is v(N) (and K times v̂ at N is v(N/K)).

Per task and seed it reports v̂ (what `calibrate` gives at N), v(N/K), v(N), the ratio v̂/v(N)
(1 if the 1/n law holds) and the exponent p of v(n) ∝ n^(−p) between N/K and N (1 for the law;
0 for a variance that does not fall with n), with β̂ = `calibrate(N).weight` and the weight the
same rule gives with v(N) (`symreg.tuning.weight_from_variance`).

Tasks: the main job's synthetic tasks at its quick size (N = 512, the task's MLP, the job's
optimizer and steps, QUICK.folds folds), the inertia task the same way ("inertia (job)",
`symreg tradeoff --task inertia`), and the inertia task of `bench_relaxed.py` at N = 100 and
1000 for its plain MLP and its residual pathway (2000 full-batch Adam steps).

    python benchmarks/bench_variance.py [--quick] [--seeds 3] [--only sets,inertia]
"""

from __future__ import annotations

import dataclasses
import math
import time

import jax
import numpy as np
from _harness import emit, environment, log, parser

import symreg
from symreg.experiments import QUICK
from symreg.experiments.inertia import InertiaConfig, seed_setup, train_state
from symreg.experiments.inertia_task import inertia_task
from symreg.experiments.synthetic import cloud2d_task, cloud3d_task, sets_task
from symreg.experiments.training import base_state, squared_error
from symreg.flax import calibrate

RELAXED = InertiaConfig()
JOB_TASKS = {
    "sets": sets_task, "cloud2d": cloud2d_task, "cloud3d": cloud3d_task, "inertia (job)": inertia_task
}  # fmt: skip


def _pair(state, loss, x, y, n, *, symmetry, folds, steps, key):
    """(calibrate on the first n examples, calibrate on the first folds·n)."""
    take = lambda m: (jax.tree.map(lambda a: a[:m], x), y[:m])
    return tuple(
        calibrate(state, loss, *take(m), symmetry=symmetry, key=key, steps=steps, folds=folds)
        for m in (n, folds * n)
    )


def record(name: str, n: int, seed: int, folds: int, small, big) -> dict:
    """The comparison of one (task, N, seed) from calibrate at N (`small`) and at K·N (`big`)."""
    v_hat = float(small.variance.value)
    v_fold, v_full = folds * v_hat, folds * float(big.variance.value)
    exponent = (
        math.log(v_fold / v_full) / math.log(folds) if v_full > 0 and v_fold > 0 else math.nan
    )
    weight_full = float(symreg.tuning.weight_from_variance(small.estimate, variance=v_full))
    return {
        "task": name, "n": n, "seed": seed, "folds": folds, "eta_hat": float(small.estimate.value),
        "v_hat": v_hat, "v_n_over_k": v_fold, "v_n": v_full, "v_hat_over_v_n": v_hat / v_full,
        "exponent": exponent, "weight": small.weight, "weight_with_v_n": weight_full,
    }  # fmt: skip


def job_task(name: str, seed: int, config=QUICK) -> dict:
    """One seed of a job task: data of K·N examples, the task's MLP and the job's training."""
    task = JOB_TASKS[name]()
    n = config.n_train
    sizes = dataclasses.replace(config, n_train=config.folds * n).sizes()
    split = task.split(jax.random.key(1000 + seed), sizes)
    model = task.model(config.sizes())
    x, y = split.x_train, split.y_train
    params = model.init(jax.random.key(seed), x[:n])
    state = base_state(model, params, config, jax.random.key(7 + seed))
    small, big = _pair(state, squared_error, x, y, n, symmetry=task.symmetry, folds=config.folds,
                       steps=config.steps, key=jax.random.key(11 + seed))  # fmt: skip
    return record(name, n, seed, config.folds, small, big)


def inertia(arch: str, n: int, seed: int, config=RELAXED) -> dict:
    """One seed of the inertia task (`arch`: "mlp" or "pathway") at N = n."""
    task = inertia_task(config.eps, config.noise)
    split, archs, init, (k_cal, _) = seed_setup(task, config, config.folds * n, seed)
    state = train_state(archs[arch], init[arch], config, 0.0, jax.random.fold_in(k_cal, 1))
    small, big = _pair(state, squared_error, split.x_train, split.y_train, n,
                       symmetry=task.symmetry, folds=config.folds, steps=config.steps,
                       key=k_cal)  # fmt: skip
    return record(f"inertia/{arch}", n, seed, config.folds, small, big)


def table(rows: list[dict]) -> str:
    """Markdown: per (task, N), medians over seeds [min, max] of v̂/v(N) and of the exponent."""
    lines = ["| task | N | v(N/K) | v(N) | v̂ ÷ v(N) | exponent p | β̂ | β with v(N) |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for key in dict.fromkeys((r["task"], r["n"]) for r in rows):
        mine = [r for r in rows if (r["task"], r["n"]) == key]

        def cell(k, mine=mine):
            v = np.array([r[k] for r in mine])
            return f"{np.median(v):.3g} [{v.min():.3g}, {v.max():.3g}]"

        cols = ("v_n_over_k", "v_n", "v_hat_over_v_n", "exponent", "weight", "weight_with_v_n")
        lines.append(f"| {key[0]} | {key[1]} | " + " | ".join(cell(c) for c in cols) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, default=3, help="data sets per task")
    p.add_argument("--only", help="comma-separated: job task names and/or 'inertia' (relaxed)")
    args = p.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    wanted = lambda name: only is None or name in only
    emit({"bench": "environment", **environment()})
    job = dataclasses.replace(QUICK, n_train=64, steps=50) if args.quick else QUICK
    rel = InertiaConfig(steps=50, hidden=(16,), n_test=64) if args.quick else InertiaConfig()
    ns = (32,) if args.quick else rel.ns
    rows, start = [], time.perf_counter()
    for seed in range(args.seeds):
        for name in filter(wanted, JOB_TASKS):
            rows.append(job_task(name, seed, job))
            emit({"bench": "variance", **rows[-1]})
        for n in ns if wanted("inertia") else ():
            for arch in ("mlp", "pathway"):
                rows.append(inertia(arch, n, seed, rel))
                emit({"bench": "variance", **rows[-1]})
    emit({"bench": "variance_total", "seconds": time.perf_counter() - start})
    log(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
