"""Relaxed layers on the O(3) inertia task: the penalty weight from data against fixed choices.

Five models, each trained with Adam for the same number of full-batch steps on the same data
(`run_inertia`):

- "mlp": a plain MLP on the flattened positions (β = 0);
- "equivariant": `EquivariantInertia`, exactly O(3)-equivariant;
- "pathway_fixed": `symreg.nn.ResidualPathway(equivariant, free=MLP)` with a fixed prior weight
  β₀ on the free path's ED₂ (chosen once a priori, as the residual pathway priors of Finzi et
  al. (NeurIPS 2021) fix their prior);
- "pathway_tuned": the same pathway with β̂ = `symreg.flax.calibrate(pathway state).weight`;
- "mlp_tuned": the plain MLP with β̂ = `calibrate(MLP state).weight` on its output's ED₂.

The penalty is the model's ED₂ (`symreg.flax.make_train_step` on a `SymmetryTrainState`); for
the pathway (`inertia_task.Pathway`, the functional form of the NNX layer, whose `as_layer`
gives the layer) it equals the free path's ED₂ pair by pair, since the equivariant path has no
defect. The models are pure `apply(params, x)` functions: this package does not import Flax. The score is the excess
risk ‖f − f*‖² on fresh test inputs (no noise), averaged over the test set.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import symreg
from symreg.experiments.inertia_task import inertia_task, make_model
from symreg.experiments.tasks import Sizes, Task
from symreg.experiments.training import VariablesApply, squared_error
from symreg.flax import SymmetryTrainState, calibrate, make_train_step

#: The models compared, in table order, and the architecture each trains.
MODELS = {
    "mlp": "mlp",
    "equivariant": "equivariant",
    "pathway_fixed": "pathway",
    "pathway_tuned": "pathway",
    "mlp_tuned": "mlp",
}
#: The architectures, in the order their initial parameters are drawn.
ARCHITECTURES = ("mlp", "equivariant", "pathway")
#: The data-tuned models and the fixed ones they are compared with.
TUNED = ("pathway_tuned", "mlp_tuned")
OTHERS = ("mlp", "equivariant", "pathway_fixed")


@dataclasses.dataclass(frozen=True)
class InertiaConfig:
    """The sizes of an inertia comparison.

    Attributes:
      ns: training set sizes N.
      seeds: data sets (and initializations) per N.
      steps: full-batch Adam steps of every model and of every fold model of `calibrate`.
      learning_rate: Adam's learning rate.
      hidden: hidden widths of the MLPs (the plain model, the free path, φ).
      n_test: fresh test inputs per data set.
      eps: ε of the task's symmetry-breaking term.
      noise: σ per output entry.
      fixed_weight: the prior weight β₀ of "pathway_fixed", in ED₂ units.
      num_samples: group elements per example in the training penalty.
      folds: K of `calibrate`.
    """

    ns: tuple[int, ...] = (100, 1000)
    seeds: int = 5
    steps: int = 2000
    learning_rate: float = 3e-3
    hidden: tuple[int, ...] = (64, 64)
    n_test: int = 2000
    eps: float = 0.5
    noise: float = 0.3
    fixed_weight: float = 1.0
    num_samples: int = 2
    folds: int = 4


@functools.cache
def _train_step(symmetry: symreg.Symmetry, num_samples: int):
    return make_train_step(
        squared_error, penalty=symreg.SymmetryPenalty(symmetry, num_samples=num_samples)
    )


@functools.partial(jax.jit, static_argnums=(0, 4))
def _fit(step, state, x, y, steps):
    body = lambda s, _: (step(s, x, y)[0], None)
    return jax.lax.scan(body, state, None, length=steps)[0]


@functools.partial(jax.jit, static_argnums=(0, 5))
def _evaluate(apply_fn, params, x, target, key, symmetry):
    excess = squared_error(apply_fn(params, x), target)
    ed2 = symreg.equivariance_error(apply_fn, params, x, key, symmetry=symmetry, num_samples=4)
    return excess, jnp.mean(ed2)


def train_state(model, params, config: InertiaConfig, weight: float, key) -> SymmetryTrainState:
    """A fresh state for `model` (an `apply(params, x)`) from `params`: Adam at
    `config.learning_rate` and the constant penalty weight β = `weight`.

    What every model of the comparison trains from, and what `calibrate` gets for the data-tuned
    ones (with β = 0).

    Examples:
      >>> import jax
      >>> from symreg.experiments.inertia import InertiaConfig, train_state
      >>> from symreg.experiments.inertia_task import make_model
      >>> model = make_model("mlp", (4,))
      >>> state = train_state(model, model.init(jax.random.key(0)), InertiaConfig(), 2.0,
      ...                     jax.random.key(1))
      >>> float(state.tuner_state.weight), state.apply_fn(
      ...     {"params": state.params}, jax.numpy.ones((2, 5, 3))).shape
      (2.0, (2, 3, 3))
    """
    return SymmetryTrainState.create(
        apply_fn=VariablesApply(model), params=params, tx=optax.adam(config.learning_rate),
        tuner=weight, key=key,
    )  # fmt: skip


def _weight(name, model, params, config, split, symmetry, key) -> tuple[float, float]:
    """(β, seconds of calibration) of model `name`."""
    if name in ("mlp", "equivariant"):
        return 0.0, 0.0
    if name == "pathway_fixed":
        return float(config.fixed_weight), 0.0
    start = time.perf_counter()
    k_state, k_cal = jax.random.split(key)
    cal = calibrate(
        train_state(model, params, config, 0.0, k_state), squared_error, split.x_train, split.y_train,
        symmetry=symmetry, key=k_cal, steps=config.steps, folds=config.folds,
    )  # fmt: skip
    return cal.weight, time.perf_counter() - start


def train_and_score(model, params, split, symmetry, config: InertiaConfig, weight: float, key):
    """Trains `model` for `config.steps` full-batch Adam steps on loss + β·ED₂ and scores it.

    Args:
      model: a hashable `apply(params, x)` (`symreg.experiments.inertia_task.make_model`).
      params: its initial parameters.
      split: a `symreg.experiments.tasks.Split` (training data, test inputs and f* there).
      symmetry: the task's `symreg.Symmetry`.
      config: the `InertiaConfig` (steps, learning rate, penalty samples).
      weight: β, the penalty weight (0: plain training).
      key: PRNG key (the state's key and the test ED₂'s group elements).

    Returns:
      (excess, model_ed2): ‖f − f*‖² averaged over the test inputs, and the trained model's
      ED₂ there (4 group elements per input), as floats.

    Examples:
      >>> import jax
      >>> from symreg.experiments.inertia import InertiaConfig, train_and_score
      >>> from symreg.experiments.inertia_task import inertia_task, make_model
      >>> from symreg.experiments.tasks import Sizes, Task
      >>> task, cfg = inertia_task(), InertiaConfig(steps=3, hidden=(4,), n_test=8)
      >>> split = task.split(jax.random.key(0), Sizes(16, 8, (4,), 0))
      >>> model = make_model("equivariant", (4,))
      >>> params = model.init(jax.random.key(1))
      >>> excess, ed2 = train_and_score(model, params, split, task.symmetry, cfg, 0.0,
      ...                               jax.random.key(2))
      >>> excess > 0, ed2 < 1e-6
      (True, True)
    """
    k_state, k_eval = jax.random.split(key)
    state = train_state(model, params, config, weight, k_state)
    state = _fit(_train_step(symmetry, config.num_samples), state, split.x_train,
                 split.y_train, config.steps)  # fmt: skip
    excess, ed2 = _evaluate(model, state.params, split.x_test, split.t_test, k_eval, symmetry)
    return float(excess), float(ed2)


def seed_setup(task: Task, config: InertiaConfig, n: int, seed: int):
    """The data set, the models, their initializations and the keys of one (N, seed).

    Returns:
      (split, models, inits, (k_cal, k_train)): the `Split` of N = n training examples and
      `config.n_test` test inputs, the architectures by name (`ARCHITECTURES`), each one's
      initial parameters, and the keys `run_seed` folds model i's calibration and training
      keys from (`jax.random.fold_in(k, i)`, i its index in `MODELS`).

    Examples:
      >>> from symreg.experiments.inertia import InertiaConfig, seed_setup
      >>> from symreg.experiments.inertia_task import inertia_task
      >>> config = InertiaConfig(hidden=(4,), n_test=8)
      >>> split, models, inits, _ = seed_setup(inertia_task(), config, 16, 0)
      >>> split.x_train.shape, sorted(models)
      ((16, 5, 3), ['equivariant', 'mlp', 'pathway'])
    """
    k_data, k_init, k_cal, k_train = jax.random.split(jax.random.key(seed), 4)
    sizes = Sizes(n_train=n, n_test=config.n_test, hidden=config.hidden, estimator_steps=0)
    split = task.split(k_data, sizes)
    archs = {a: make_model(a, config.hidden) for a in ARCHITECTURES}
    init = {a: archs[a].init(jax.random.fold_in(k_init, j)) for j, a in enumerate(ARCHITECTURES)}
    return split, archs, init, (k_cal, k_train)


def run_seed(task: Task, config: InertiaConfig, n: int, seed: int) -> list[dict[str, Any]]:
    """Trains and scores every model on one data set of N = n examples; one record per model.

    Models of one architecture start from the same initialization. Each record has: model, n,
    seed, weight (β), excess (‖f − f*‖² on fresh inputs), model_ed2 (the trained model's ED₂
    there), calibrate_s and seconds (calibration + training + scoring). `run_inertia` calls it
    for every (N, seed); `tests/experiments/test_inertia.py` runs both end to end.
    """
    split, archs, init, (k_cal, k_train) = seed_setup(task, config, n, seed)
    records = []
    for i, (name, arch) in enumerate(MODELS.items()):
        start = time.perf_counter()
        model, params = archs[arch], init[arch]
        k = jax.random.fold_in(k_cal, i)
        weight, cal_s = _weight(name, model, params, config, split, task.symmetry, k)
        k = jax.random.fold_in(k_train, i)
        excess, ed2 = train_and_score(model, params, split, task.symmetry, config, weight, k)
        records.append({
            "model": name, "n": n, "seed": seed, "weight": weight, "excess": excess,
            "model_ed2": ed2, "calibrate_s": cal_s, "seconds": time.perf_counter() - start,
        })  # fmt: skip
    return records


def summarize(records: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, float]]:
    """Mean, s.d., min and max of the excess risk (and the mean β and ED₂) per (model, n).

    Examples:
      >>> from symreg.experiments.inertia import summarize
      >>> recs = [{"model": "mlp", "n": 10, "excess": e, "weight": 0.0, "model_ed2": 1.0}
      ...         for e in (1.0, 3.0)]
      >>> summarize(recs)[("mlp", 10)]["mean"], summarize(recs)[("mlp", 10)]["max"]
      (2.0, 3.0)
    """
    out = {}
    for key in dict.fromkeys((r["model"], r["n"]) for r in records):
        rows = [r for r in records if (r["model"], r["n"]) == key]
        e = np.array([r["excess"] for r in rows])
        out[key] = {
            "mean": float(e.mean()), "sd": float(e.std(ddof=1)) if e.size > 1 else 0.0,
            "min": float(e.min()), "max": float(e.max()), "seeds": int(e.size),
            "weight": float(np.mean([r["weight"] for r in rows])),
            "model_ed2": float(np.mean([r["model_ed2"] for r in rows])),
        }  # fmt: skip
    return out


def targets(summary: dict[tuple[str, int], dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Per N and data-tuned model: its mean excess ÷ the best fixed model's (target ≤ 1.05), and
    whether it beats both the plain MLP and the exact model.

    Examples:
      >>> from symreg.experiments.inertia import MODELS, targets
      >>> s = {(m, 10): {"mean": v} for m, v in zip(MODELS, (4.0, 2.0, 1.0, 1.02, 1.5))}
      >>> t = targets(s)["pathway_tuned, N = 10"]
      >>> round(t["ratio_to_best_fixed"], 2), t["within_5pct"], t["beats_mlp_and_exact"]
      (1.02, True, True)
    """
    out = {}
    for n in sorted({n for _, n in summary}):
        best = min(OTHERS, key=lambda m: summary[(m, n)]["mean"])
        for name in TUNED:
            mean = summary[(name, n)]["mean"]
            ratio = mean / summary[(best, n)]["mean"]
            beats = mean < min(summary[(m, n)]["mean"] for m in ("mlp", "equivariant"))
            out[f"{name}, N = {n}"] = {
                "ratio_to_best_fixed": ratio, "best_fixed": best,
                "within_5pct": bool(ratio <= 1.05), "beats_mlp_and_exact": bool(beats),
            }  # fmt: skip
    return out


def format_table(summary: dict[tuple[str, int], dict[str, float]], eta: float) -> str:
    """A Markdown table: per model and N, the excess risk mean ± s.d. [min, max] and mean β.

    Examples:
      >>> from symreg.experiments.inertia import format_table
      >>> s = {("mlp", 10): {"mean": 2.0, "sd": 1.0, "min": 1.0, "max": 3.0, "seeds": 2,
      ...                    "weight": 0.0, "model_ed2": 1.5}}
      >>> print(format_table(s, 0.5).splitlines()[-1])
      | mlp | 10 | 2 ± 1 | [1, 3] | 0 | 1.5 |
    """
    lines = [
        f"η₂ = ED₂(f*) = {eta:.4g} (oracle); excess risk ‖f − f*‖² on fresh inputs",
        "",
        "| model | N | excess (mean ± s.d.) | [min, max] | β (mean) | model ED₂ (mean) |",
        "|---|---|---|---|---|---|",
    ]
    for (name, n), s in summary.items():
        lines.append(
            f"| {name} | {n} | {s['mean']:.4g} ± {s['sd']:.2g} | [{s['min']:.4g}, "
            f"{s['max']:.4g}] | {s['weight']:.3g} | {s['model_ed2']:.3g} |"
        )
    return "\n".join(lines)


def run_inertia(config: InertiaConfig = InertiaConfig(), *, log=None) -> dict[str, Any]:
    """Runs the five models on `config.seeds` data sets for every N of `config.ns`.

    Args:
      config: the sizes (`InertiaConfig`).
      log: an optional `log(record)` called after each data set's records.

    Returns:
      A dict with "config" (as a dict), "eta" (the oracle η₂ on 8192 fresh inputs), "records"
      (one per model, N and seed; see `run_seed`), "summary" (per (model, N), `summarize`),
      "targets" (`targets`) and "table" (`format_table`, Markdown).

    Examples:
      >>> from symreg.experiments.inertia import InertiaConfig, run_inertia
      >>> out = run_inertia(InertiaConfig(ns=()))   # no training: the task's oracle η₂ only
      >>> sorted(out), round(out["eta"], 2)
      (['config', 'eta', 'records', 'summary', 'table', 'targets'], 0.52)
    """
    task = inertia_task(config.eps, config.noise)
    k_x, k_g = jax.random.split(jax.random.key(10_000))
    eta = task.oracle_eta(task.sample_inputs(k_x, 8192), k_g, num_samples=8)
    records = []
    for n in config.ns:
        for seed in range(config.seeds):
            new = run_seed(task, config, n, seed)
            records += new
            if log is not None:
                for r in new:
                    log(r)
    summary = summarize(records)
    return {
        "config": dataclasses.asdict(config), "eta": eta, "records": records,
        "summary": summary, "targets": targets(summary), "table": format_table(summary, eta),
    }  # fmt: skip
