"""Relaxed layers on the O(3) inertia task: the penalty weight from data (`calibrate`) against
a plain MLP, an exactly equivariant model and a residual pathway with a fixed prior weight.

Prints one JSON object per (model, N) configuration (excess risk mean, s.d., min, max over
seeds; every seed's value under "excess_per_seed"), one per data-tuned target, and writes
benchmarks/figures/relaxed.png. Progress and per-seed records go to stderr.

    python benchmarks/bench_relaxed.py [--quick] [--eps 0.5] [--out benchmarks/figures]

With `--weights 0.5,1,2,4,8,16` it runs the oracle grid instead: the pathway and the MLP of the
data-tuned rows, each trained at every fixed weight on the same data sets, initializations and
keys (`seed_setup`), scored on the test set. One JSON object per (architecture, N, weight), then
a table of the mean [min, max] over seeds: the best a weight can do, to judge β̂ against.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import numpy as np
from _harness import emit, environment, log, parser

from symreg.experiments.inertia import (
    MODELS,
    InertiaConfig,
    run_inertia,
    seed_setup,
    train_and_score,
)
from symreg.experiments.inertia_task import inertia_task

FIGURES = Path(__file__).resolve().parent / "figures"
QUICK = InertiaConfig(ns=(32, 64), seeds=2, steps=50, hidden=(16,), n_test=64)


def plot(result: dict, path: Path) -> Path:
    """Excess risk per model and N: the seeds as dots, the mean with a min–max bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = result["config"]["ns"]
    fig, ax = plt.subplots(figsize=(7.5, 4))
    width = 0.8 / len(MODELS)
    for j, name in enumerate(MODELS):
        for i, n in enumerate(ns):
            s = result["summary"][(name, n)]
            x = i + (j - (len(MODELS) - 1) / 2) * width
            seeds = [r["excess"] for r in result["records"] if (r["model"], r["n"]) == (name, n)]
            ax.scatter([x] * len(seeds), seeds, s=8, color=f"C{j}", alpha=0.5)
            err = [[s["mean"] - s["min"]], [s["max"] - s["mean"]]]
            ax.errorbar(x, s["mean"], yerr=err, fmt="o", color=f"C{j}", capsize=3,
                        label=name if i == 0 else None)  # fmt: skip
    ax.axhline(result["eta"] / 2, color="gray", ls="--", lw=1, label="η₂/2 (exact model's bias)")
    ax.set_xticks(range(len(ns)), [f"N = {n}" for n in ns])
    ax.set_yscale("log")
    ax.set_ylabel("excess risk ‖f − f*‖² (test)")
    ax.set_title(f"O(3) inertia, ε = {result['config']['eps']}: mean, [min, max] over seeds")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


#: The architecture of each data-tuned model, whose training key the oracle grid reuses.
GRID_MODELS = {"pathway": "pathway_tuned", "mlp": "mlp_tuned"}


def weight_grid(config: InertiaConfig, weights, *, log=None) -> list[dict]:
    """The pathway and the MLP trained at each fixed weight: one record per (arch, N, seed, β).

    Data, initializations and training keys are those of the data-tuned rows of `run_inertia`
    (model i of `MODELS` trains with `fold_in(k_train, i)`), so only β differs.
    """
    task = inertia_task(config.eps, config.noise)
    records = []
    for n in config.ns:
        for seed in range(config.seeds):
            split, archs, init, (_, k_train) = seed_setup(task, config, n, seed)
            for arch, name in GRID_MODELS.items():
                key = jax.random.fold_in(k_train, list(MODELS).index(name))
                for w in weights:
                    excess, ed2 = train_and_score(
                        archs[arch], init[arch], split, task.symmetry, config, float(w), key
                    )  # fmt: skip
                    r = {"arch": arch, "n": n, "seed": seed, "weight": float(w), "excess": excess,
                         "model_ed2": ed2}  # fmt: skip
                    records.append(r)
                    if log is not None:
                        log(str(r))
    return records


def grid_table(records: list[dict]) -> str:
    """Markdown: excess mean [min, max] over seeds per (arch, N) and weight; best in bold."""
    weights = sorted({r["weight"] for r in records})
    lines = ["| model | N | " + " | ".join(f"β = {w:g}" for w in weights) + " |",
             "|---|---|" + "---|" * len(weights)]  # fmt: skip
    for arch, n in dict.fromkeys((r["arch"], r["n"]) for r in records):
        cells = []
        for w in weights:
            e = [r["excess"] for r in records if (r["arch"], r["n"], r["weight"]) == (arch, n, w)]
            cells.append((float(np.mean(e)), min(e), max(e)))
        best = min(c[0] for c in cells)
        text = [f"{'**' if m == best else ''}{m:.4g}{'**' if m == best else ''} [{lo:.3g}, {hi:.3g}]"
                for m, lo, hi in cells]  # fmt: skip
        lines.append(f"| {arch} | {n} | " + " | ".join(text) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = parser(__doc__)
    p.add_argument("--eps", type=float, default=InertiaConfig.eps, help="ε of the task")
    p.add_argument("--out", type=Path, default=FIGURES, help="folder of relaxed.png")
    p.add_argument("--weights", help="comma-separated fixed weights: run the oracle grid only")
    p.add_argument("--seeds", type=int, help="data sets per N (default: the config's)")
    args = p.parse_args(argv)
    config = QUICK if args.quick else InertiaConfig()
    config = dataclasses.replace(config, eps=args.eps, seeds=args.seeds or config.seeds)
    emit({"bench": "environment", **environment()})
    if args.weights:
        weights = [float(w) for w in args.weights.split(",")]
        records = weight_grid(config, weights, log=log)
        for r in records:
            emit({"bench": "relaxed_grid", "eps": config.eps, "steps": config.steps, **r})
        log(grid_table(records))
        return 0
    start = time.perf_counter()
    result = run_inertia(config, log=lambda r: log(str(r)))
    seconds = time.perf_counter() - start
    for (name, n), s in result["summary"].items():
        seeds = [r for r in result["records"] if (r["model"], r["n"]) == (name, n)]
        emit({
            "bench": "relaxed", "model": name, "N": n, "eps": config.eps, "eta": result["eta"],
            "steps": config.steps, **s, "excess_per_seed": [r["excess"] for r in seeds],
            "weight_per_seed": [r["weight"] for r in seeds],
            "seconds_per_seed": [r["seconds"] for r in seeds],
        })  # fmt: skip
    for name, t in result["targets"].items():
        emit({"bench": "relaxed_target", "config": name, "eps": config.eps, **t})
    emit({"bench": "relaxed_total", "seconds": seconds, "device": str(jax.devices()[0])})
    log(result["table"])
    log(f"plot: {plot(result, args.out / 'relaxed.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
