"""The results of the main job: one `TaskResult` per task, the printed table, the JSON and PNG.

The job's stages pass typed results: `Measurements` (the test-set metrics of every run),
`Tuning` (per data set, what calibration, validation and dual ascent chose), `ModelResult`
(one row of the table) and `TaskResult` (one task). `TaskResult.to_dict` is the JSON form,
also what `symreg.plot.plot_tradeoff` reads. Its schema (all numbers are floats, means over
the task's D data sets):

- "task", "title", "group", "breaking": names and descriptions.
- "eta_hat", "eta_se": η̂ (mean over data sets) and its standard error; "eta_method";
  "eta_seeds": [[η̂, s.e.], ...] per data set; "eta_true": the oracle η₂ (synthetic) or None.
- "variance_hat": v̂, the estimation variance of the model's defect at N (ED_2 units), from
  `symreg.flax.calibrate`; "ed0_train": ED_2 of the unregularized fit on its training inputs;
  "noise_var": σ̂², cross-fitted from out-of-fold residuals.
- "tuned_weight": β̂ (geometric mean over data sets); "target": ε̂; "grid_best_weight",
  "grid_best_test_error", "tuned_test_error", "tuned_over_grid_best" (the acceptance ratio),
  "tuned_over_grid_best_excess" (the same ratio of test errors less "test_offset": the
  acceptance on synthetic tasks); "validation_weight", "validation_test_error",
  "validation_over_grid_best_excess" (grid search on a 20% validation split);
  "excess_seeds" (per kind, per data set: test error less "test_offset"); "accuracy" (None,
  or the tuned, validation and best grid accuracies on a classification task).
- "dual_target", "dual_train_model_error" (ED_2 on the training inputs, the constrained
  quantity), "dual_model_error" (on test inputs), "dual_final_weight".
- "per_seed": lists over data sets of "tuned_weight", "target", "dual_train_model_error",
  "variance_hat", "validation_weight", "dual_final_weight", "ed0_train" (ED_2 of the
  unregularized run on its training inputs).
- "models": [{"name", "weight" (None for the symmetrized and the exact model), "model_error"
  (ED_2 on test inputs), "test_error", "test_error_seeds", "kind": "grid" | "unregularized" |
  "symmetrized" | "exact" | "tuned" | "dual" | "validation"} (+ "accuracy" for classification
  tasks)] — the schema of `symreg.plot.plot_tradeoff`. The "exact" row (cloud2d, cloud3d) is
  an exactly equivariant model trained like the others (`symreg.experiments.exact`); the
  "symmetrized" row of a continuous group is a sampled Reynolds average, named so.
- "n_train", "n_test", "seeds", "test_offset" (σ² added to ‖f − f*‖² for synthetic tasks),
  "time_s".
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

#: The acceptance tolerance: the tuned excess risk (test − σ²) <= this × the grid's best.
TOLERANCE = 1.05
#: On a classification task: tuned accuracy >= the grid's best accuracy minus this.
ACCURACY_SLACK = 0.005


def _geo(values: np.ndarray) -> float:
    values = np.asarray(values, np.float64)
    mean = np.exp(np.mean(np.log(np.maximum(values, 1e-30))))
    return float(np.clip(mean, values.min(), values.max()))  # no rounding outside the range


@dataclasses.dataclass(frozen=True)
class Measurements:
    """What the job measures on the test set, per data set d and run r (`measure_all`).

    Attributes:
      test: (D, R) test errors (with the task's offset); run 0 is unregularized, then the
        grid, the calibrated run, the dual-ascent run and the validation pick.
      ed: (D, R) ED_2 on the test inputs.
      ed_train: (D, R) ED_2 on the training inputs.
      q_test: (D,) test error of Q f̂₀; q_ed: (D,) its ED_2.
      eta_true: (D,) the oracle η₂ (NaN without a known f*).
      grid: the grid's weights.
      q_samples: elements of the sampled Reynolds operator, or None (exact over the group).
      accuracy: (D, R) accuracies, or None (regression); q_accuracy: (D,) or None.
      exact_test, exact_ed: (D,) test error and ED_2 of the task's exactly equivariant model
        (continuous groups, `symreg.experiments.exact`), or None; exact_label: its row's name.
    """

    test: np.ndarray
    ed: np.ndarray
    ed_train: np.ndarray
    q_test: np.ndarray
    q_ed: np.ndarray
    eta_true: np.ndarray
    grid: tuple[float, ...]
    q_samples: int | None = None
    accuracy: np.ndarray | None = None
    q_accuracy: np.ndarray | None = None
    exact_test: np.ndarray | None = None
    exact_ed: np.ndarray | None = None
    exact_label: str = "exact model"


@dataclasses.dataclass(frozen=True)
class Tuning:
    """Per data set (arrays of shape (D,)): what calibration, validation and dual ascent chose.

    Attributes:
      weight: the calibrated β̂; target: ε̂; v_hat: v̂; noise_var: σ̂².
      validation_weight: the validation grid's pick.
      dual_final_weight: dual ascent's weight over the last 10% of steps.
      dual_train_model_error: ED_2 of the dual-ascent run on its training inputs.
      ed0_train: ED_2 of the unregularized run on its training inputs.
    """

    weight: np.ndarray
    target: np.ndarray
    v_hat: np.ndarray
    noise_var: np.ndarray
    validation_weight: np.ndarray
    dual_final_weight: np.ndarray
    dual_train_model_error: np.ndarray
    ed0_train: np.ndarray


@dataclasses.dataclass(frozen=True)
class ModelResult:
    """One model of a task's table: its test error and its ED_2 (means over data sets).

    Attributes:
      name: the row's name.
      kind: "grid", "unregularized", "symmetrized", "exact", "tuned", "dual" or "validation".
      weight: β (None for the symmetrized and the exact model).
      model_error: ED_2 on the test inputs.
      test_error: the test error.
      test_error_seeds: the test error per data set.
      accuracy: the test accuracy (classification tasks), or None.

    Examples:
      >>> from symreg.experiments.results import ModelResult
      >>> ModelResult("tuned", "tuned", 0.5, 0.1, 1.0, (1.0,)).to_dict()["test_error_seeds"]
      [1.0]
    """

    name: str
    kind: str
    weight: float | None
    model_error: float
    test_error: float
    test_error_seeds: tuple[float, ...]
    accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ("accuracy" only on classification tasks)."""
        out = dataclasses.asdict(self)
        out["test_error_seeds"] = list(self.test_error_seeds)
        if self.accuracy is None:
            del out["accuracy"]
        return out


def _model(name, kind, weight, test, ed, extra=None) -> ModelResult:
    return ModelResult(
        name=name,
        kind=kind,
        weight=weight,
        model_error=float(np.mean(ed)),
        test_error=float(np.mean(test)),
        test_error_seeds=tuple(float(t) for t in np.atleast_1d(test)),
        accuracy=None if extra is None else float(np.mean(extra)),
    )


def _models(tuned: Tuning, metrics: Measurements) -> tuple[ModelResult, ...]:
    test, ed, acc = metrics.test, metrics.ed, metrics.accuracy
    col = lambda r: None if acc is None else acc[:, r]
    grid = metrics.grid
    g = len(grid)
    models = [_model("unregularized", "unregularized", 0.0, test[:, 0], ed[:, 0], col(0))]
    for i, w in enumerate(grid, start=1):
        models.append(_model(f"β={w:.3g}", "grid", float(w), test[:, i], ed[:, i], col(i)))
    q_acc = metrics.q_accuracy
    models.append(
        _model(_q_name(metrics), "symmetrized", None, metrics.q_test, metrics.q_ed, q_acc)
    )
    if metrics.exact_test is not None:
        exact = (metrics.exact_test, metrics.exact_ed)
        models.append(_model(metrics.exact_label, "exact", None, *exact))
    models.append(
        _model("tuned", "tuned", _geo(tuned.weight), test[:, g + 1], ed[:, g + 1], col(g + 1))
    )
    dual_w = _geo(tuned.dual_final_weight)
    models.append(_model("dual ascent", "dual", dual_w, test[:, g + 2], ed[:, g + 2], col(g + 2)))
    val_w = _geo(tuned.validation_weight)
    models.append(
        _model("validation grid", "validation", val_w, test[:, g + 3], ed[:, g + 3], col(g + 3))
    )
    return tuple(models)


def _q_name(metrics: Measurements) -> str:
    """ "symmetrized Qf" for an exact average over a finite group; a sampled one says so."""
    samples = metrics.q_samples
    return "symmetrized Qf" if samples is None else f"sampled Qf ({samples} el.)"


def _optional(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _excess_ratio(model: ModelResult, best: ModelResult, offset: float) -> float | None:
    """(test − offset) ratio: the comparison of ‖f − f*‖² alone, without the noise σ²."""
    den = best.test_error - offset
    return _optional((model.test_error - offset) / den) if den > 0 else None


@dataclasses.dataclass(frozen=True)
class TaskResult:
    """One task's result: what the job's stages pass on to the table, the JSON and the plot.

    The JSON form (`to_dict`, schema in the module docstring) is derived from these fields.

    Attributes:
      task, title, group, breaking: names and descriptions.
      eta_seeds: (η̂, s.e.) per data set; eta_method: the estimator.
      eta_true: the oracle η₂ (synthetic tasks) or None.
      tuning: the per-data-set choices (`Tuning`).
      models: the table's rows (`ModelResult`), in order.
      n_train, n_test: N and M; test_offset: σ² added to ‖f − f*‖² (synthetic tasks).
      time_s: the task's run time.

    Examples:
      >>> import numpy as np
      >>> from symreg.experiments.results import ModelResult, TaskResult, Tuning
      >>> one = np.ones(1)
      >>> rows = (ModelResult("β=1", "grid", 1.0, 0.1, 1.0, (1.0,)),
      ...         ModelResult("tuned", "tuned", 0.5, 0.2, 1.1, (1.1,)))
      >>> r = TaskResult("toy", "a toy", "C4", "", ((0.1, 0.02),), "crossfit", None,
      ...                Tuning(*[one] * 8), rows, 10, 10, 0.5, 1.0)
      >>> round(r.tuned_over_grid_best_excess, 3)   # (1.1 − 0.5)/(1.0 − 0.5)
      1.2
    """

    task: str
    title: str
    group: str
    breaking: str
    eta_seeds: tuple[tuple[float, float], ...]
    eta_method: str
    eta_true: float | None
    tuning: Tuning
    models: tuple[ModelResult, ...]
    n_train: int
    n_test: int
    test_offset: float
    time_s: float

    def model(self, kind: str) -> ModelResult:
        """The first model of `kind`."""
        return next(m for m in self.models if m.kind == kind)

    @property
    def seeds(self) -> int:
        return len(self.eta_seeds)

    @property
    def eta_hat(self) -> float:
        return float(np.asarray([v for v, _ in self.eta_seeds]).mean())

    @property
    def eta_se(self) -> float:
        ses = np.asarray([s for _, s in self.eta_seeds])
        return float(np.sqrt(np.sum(ses**2)) / len(ses))

    @property
    def variance_hat(self) -> float:
        return float(np.mean(self.tuning.v_hat))

    @property
    def target(self) -> float:
        return float(np.mean(self.tuning.target))

    @property
    def grid_best(self) -> ModelResult:
        return min((m for m in self.models if m.kind == "grid"), key=lambda m: m.test_error)

    @property
    def tuned_weight(self) -> float:
        return self.model("tuned").weight

    @property
    def tuned_test_error(self) -> float:
        return self.model("tuned").test_error

    @property
    def grid_best_weight(self) -> float:
        return self.grid_best.weight

    @property
    def grid_best_test_error(self) -> float:
        return self.grid_best.test_error

    @property
    def tuned_over_grid_best(self) -> float:
        return self.tuned_test_error / self.grid_best_test_error

    @property
    def tuned_over_grid_best_excess(self) -> float | None:
        return _excess_ratio(self.model("tuned"), self.grid_best, self.test_offset)

    @property
    def validation_over_grid_best_excess(self) -> float | None:
        return _excess_ratio(self.model("validation"), self.grid_best, self.test_offset)

    @property
    def accuracy(self) -> dict[str, float] | None:
        """Test accuracy of the best-accuracy grid model and of every other kind, or None."""
        if not any(m.accuracy is not None for m in self.models):
            return None
        grid = [m.accuracy for m in self.models if m.kind == "grid"]
        pick = {m.kind: m.accuracy for m in self.models if m.kind != "grid"}
        return {"grid_best": max(grid), **pick}

    def excess_seeds(self) -> dict[str, list[float]]:
        """Per data set: excess risk (test − offset) of every kind, and the grid's best."""
        seeds = [m.test_error_seeds for m in self.models if m.kind == "grid"]
        grid = np.asarray(seeds) - self.test_offset
        out = {"grid_best": [float(v) for v in grid.min(0)]}
        for m in self.models:
            if m.kind != "grid":
                out[m.kind] = [float(t - self.test_offset) for t in m.test_error_seeds]
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (schema in the module docstring)."""
        t = self.tuning
        val, dual = self.model("validation"), self.model("dual")
        return {
            "task": self.task,
            "title": self.title,
            "group": self.group,
            "breaking": self.breaking,
            "eta_hat": self.eta_hat,
            "eta_se": self.eta_se,
            "eta_method": self.eta_method,
            "eta_seeds": [[v, s] for v, s in self.eta_seeds],
            "eta_true": self.eta_true,
            "variance_hat": self.variance_hat,
            "ed0_train": float(np.mean(t.ed0_train)),
            "noise_var": float(np.mean(t.noise_var)),
            "tuned_weight": self.tuned_weight,
            "target": self.target,
            "grid_best_weight": self.grid_best_weight,
            "grid_best_test_error": self.grid_best_test_error,
            "tuned_test_error": self.tuned_test_error,
            "tuned_over_grid_best": self.tuned_over_grid_best,
            "tuned_over_grid_best_excess": self.tuned_over_grid_best_excess,
            "validation_weight": val.weight,
            "validation_test_error": val.test_error,
            "validation_over_grid_best_excess": self.validation_over_grid_best_excess,
            "excess_seeds": self.excess_seeds(),
            "accuracy": self.accuracy,
            "dual_target": self.target,
            "per_seed": {
                "tuned_weight": [float(w) for w in t.weight],
                "target": [float(x) for x in t.target],
                "dual_train_model_error": [float(e) for e in t.dual_train_model_error],
                "variance_hat": [float(v) for v in t.v_hat],
                "validation_weight": [float(w) for w in t.validation_weight],
                "dual_final_weight": [float(w) for w in t.dual_final_weight],
                "ed0_train": [float(e) for e in t.ed0_train],
            },
            "dual_train_model_error": float(np.mean(t.dual_train_model_error)),
            "dual_model_error": dual.model_error,
            "dual_final_weight": dual.weight,
            "models": [m.to_dict() for m in self.models],
            "n_train": self.n_train,
            "n_test": self.n_test,
            "test_offset": self.test_offset,
            "seeds": self.seeds,
            "time_s": self.time_s,
        }


def task_result(task, estimates, tuned: Tuning, metrics: Measurements, sizes, seconds):
    """Assembles one task's `TaskResult` from the job's stages.

    Args:
      task: the task (a `symreg.experiments.tasks.Task`).
      estimates: the `Estimate` of each data set.
      tuned: the per-data-set choices (`Tuning`).
      metrics: the `Measurements`, columns [unregularized, grid..., tuned, dual, validation].
      sizes: "n_train", "n_test", "test_offset".
      seconds: the task's run time.

    Returns:
      The `TaskResult`.
    """
    return TaskResult(
        task=task.name,
        title=task.title,
        group=repr(task.symmetry.transforms),
        breaking=task.breaking,
        eta_seeds=tuple((float(e.value), float(e.stderr)) for e in estimates),
        eta_method=estimates[0].method,
        eta_true=_optional(np.mean(metrics.eta_true)),
        tuning=tuned,
        models=_models(tuned, metrics),
        n_train=sizes["n_train"],
        n_test=sizes["n_test"],
        test_offset=sizes["test_offset"],
        time_s=float(seconds),
    )


def passes(r: TaskResult) -> bool:
    """The acceptance: excess risk (test − σ²) within `TOLERANCE` of the grid's best on a
    synthetic task; on a classification task, accuracy at least the grid's best minus
    `ACCURACY_SLACK`."""
    acc = r.accuracy
    if acc is not None:
        return acc["tuned"] >= acc["grid_best"] - ACCURACY_SLACK
    excess = r.tuned_over_grid_best_excess
    return excess is not None and excess <= TOLERANCE


def summary(results: list[TaskResult]) -> list[dict[str, Any]]:
    """Per task: tuned and grid-best test errors, their excess-risk ratio and the acceptance."""
    return [
        {
            "task": r.task,
            "tuned_test_error": r.tuned_test_error,
            "grid_best_test_error": r.grid_best_test_error,
            "ratio": r.tuned_over_grid_best,
            "excess_ratio": r.tuned_over_grid_best_excess,
            "validation_excess_ratio": r.validation_over_grid_best_excess,
            "accuracy": r.accuracy,
            "within_tolerance": passes(r),
            "tuned_weight": r.tuned_weight,
            "grid_best_weight": r.grid_best_weight,
        }
        for r in results
    ]


def _fmt(value: Any, spec: str = ".4g") -> str:
    if value is None:
        return "—"
    return format(value, spec)


def _task_lines(r: TaskResult) -> list[str]:
    truth = "" if r.eta_true is None else f" (oracle η = {r.eta_true:.4g})"
    head = [
        f"== {r.task}: {r.title}",
        f"   η̂ = {r.eta_hat:.4g} ± {r.eta_se:.2g} ({r.eta_method}, {r.seeds} data set(s) of "
        f"N = {r.n_train}){truth};  v̂ = {r.variance_hat:.3g};  target ε̂ = {r.target:.3g}",
        f"   tuned β̂ = {r.tuned_weight:.3g} vs grid best β = {r.grid_best_weight:.3g}:  "
        f"test {r.tuned_test_error:.4g} vs {r.grid_best_test_error:.4g}  "
        f"(ratio {r.tuned_over_grid_best:.3f}{_excess_note(r)})",
        f"   {'model':<16}{'kind':<15}{'weight β':>10}{'ED_2 (test)':>13}{'test error':>12}",
    ]
    rows = []
    for m in r.models:
        acc = "" if m.accuracy is None else f"{m.accuracy:>9.3f}"
        rows.append(
            f"   {m.name:<15} {m.kind:<15}{_fmt(m.weight, '.3g'):>10}"
            f"{m.model_error:>13.4g}{m.test_error:>12.5g}{acc}"
        )
    if r.accuracy is not None:
        head[-1] += f"{'accuracy':>9}"
    return head + rows


def _excess_note(r: TaskResult) -> str:
    excess = r.tuned_over_grid_best_excess
    if not r.test_offset or excess is None:
        return ""
    return f"; without the noise σ² = {r.test_offset:.3g}: {excess:.3f}"


def format_table(results: list[TaskResult]) -> str:
    """The printed table: per task η̂ ± s.e., every model's ED_2 and test error, tuned vs best."""
    lines = []
    for r in results:
        lines += _task_lines(r) + [""]
    lines.append(
        f"{'task':<10}{'tuned':>12}{'grid best':>12}{'excess ratio':>14}{'validation':>12}  pass"
    )
    for s in summary(results):
        ok = "yes" if s["within_tolerance"] else "NO"
        if s["accuracy"] is not None:  # classification: accuracies, not errors
            a = s["accuracy"]
            lines.append(
                f"{s['task']:<10}{a['tuned']:>12.3f}{a['grid_best']:>12.3f}{'(accuracy)':>14}"
                f"{a['validation']:>12.3f}  {ok}"
            )
            continue
        lines.append(
            f"{s['task']:<10}{s['tuned_test_error']:>12.5g}{s['grid_best_test_error']:>12.5g}"
            f"{_fmt(s['excess_ratio'], '.3f'):>14}{_fmt(s['validation_excess_ratio'], '.3f'):>12}"
            f"  {ok}"
        )
    return "\n".join(lines)


def _clean(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def document(results: list[TaskResult], config: Any, *, seed: int) -> dict[str, Any]:
    """The JSON document: the configuration, every task's result and the summary."""
    from symreg import __version__

    return _clean(
        {
            "symreg_version": __version__,
            "command": "tradeoff",
            "mode": config.mode,
            "seed": seed,
            "config": dataclasses.asdict(config),
            "tasks": [r.to_dict() for r in results],
            "summary": summary(results),
        }
    )


def save(results: list[TaskResult], config: Any, out: str | Path, *, seed: int) -> dict[str, Path]:
    """Writes `tradeoff.json` and `tradeoff.png` (one `symreg.plot` panel per task) to `out`."""
    from symreg.plot import plot_tradeoff_grid  # matplotlib only when saving

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "tradeoff.json", "png": out / "tradeoff.png"}
    paths["json"].write_text(json.dumps(document(results, config, seed=seed), indent=2) + "\n")
    fig = plot_tradeoff_grid([r.to_dict() for r in results], paths["png"], ncols=2)
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths
