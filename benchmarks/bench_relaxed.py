"""Relaxed layers on the O(3) inertia task: the penalty weight from data (`calibrate`) against
a plain MLP, an exactly equivariant model and a residual pathway with a fixed prior weight.

Prints one JSON object per (model, N) configuration (excess risk mean, s.d., min, max over
seeds; every seed's value under "excess_per_seed"), one per data-tuned target, and writes
benchmarks/figures/relaxed.png. Progress and per-seed records go to stderr.

    python benchmarks/bench_relaxed.py [--quick] [--eps 0.5] [--out benchmarks/figures]
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
from _harness import emit, environment, log, parser

from symreg.experiments.inertia import MODELS, InertiaConfig, run_inertia

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


def main(argv=None) -> int:
    p = parser(__doc__)
    p.add_argument("--eps", type=float, default=InertiaConfig.eps, help="ε of the task")
    p.add_argument("--out", type=Path, default=FIGURES, help="folder of relaxed.png")
    args = p.parse_args(argv)
    config = QUICK if args.quick else InertiaConfig()
    config = type(config)(**{**config.__dict__, "eps": args.eps})
    emit({"bench": "environment", **environment()})
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
