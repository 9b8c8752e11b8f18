"""The results of the main job: one dict per task, the printed table, the JSON and PNG files.

Schema of a task's result (all numbers are floats, means over the task's D data sets):

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
  "variance_hat", "validation_weight", "dual_final_weight".
- "models": [{"name", "weight" (None for the symmetrized model), "model_error" (ED_2 on test
  inputs), "test_error", "test_error_seeds", "kind": "grid" | "unregularized" |
  "symmetrized" | "tuned" | "dual" | "validation"} (+ "accuracy" for classification tasks)] — the schema of
  `symreg.plot.plot_tradeoff`.
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


def _model(name, kind, weight, test, ed, extra=None) -> dict[str, Any]:
    out = {
        "name": name,
        "kind": kind,
        "weight": weight,
        "model_error": float(np.mean(ed)),
        "test_error": float(np.mean(test)),
        "test_error_seeds": [float(t) for t in np.atleast_1d(test)],
    }
    if extra is not None:
        out["accuracy"] = float(np.mean(extra))
    return out


def _models(tuned, metrics, extra) -> list[dict[str, Any]]:
    test, ed, acc = metrics["test"], metrics["ed"], metrics.get("accuracy")
    col = lambda r: None if acc is None else acc[:, r]
    grid = metrics["grid"]
    g = len(grid)
    models = [_model("unregularized", "unregularized", 0.0, test[:, 0], ed[:, 0], col(0))]
    for i, w in enumerate(grid, start=1):
        models.append(_model(f"β={w:.3g}", "grid", float(w), test[:, i], ed[:, i], col(i)))
    q_acc = metrics.get("q_accuracy")
    models.append(
        _model(_q_name(metrics), "symmetrized", None, metrics["q_test"], metrics["q_ed"], q_acc)
    )
    models.append(
        _model("tuned", "tuned", _geo(tuned["weight"]), test[:, g + 1], ed[:, g + 1], col(g + 1))
    )
    dual_w = _geo(extra["dual_final_weight"])
    models.append(_model("dual ascent", "dual", dual_w, test[:, g + 2], ed[:, g + 2], col(g + 2)))
    val_w = _geo(tuned["validation_weight"])
    models.append(
        _model("validation grid", "validation", val_w, test[:, g + 3], ed[:, g + 3], col(g + 3))
    )
    return models


def _q_name(metrics: dict) -> str:
    """ "symmetrized Qf" for an exact average over a finite group; a sampled one says so."""
    samples = metrics.get("q_samples")
    return "symmetrized Qf" if samples is None else f"sampled Qf ({samples} el.)"


def _optional(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _excess_ratio(model: dict, best: dict, offset: float) -> float | None:
    """(test − offset) ratio: the comparison of ‖f − f*‖² alone, without the noise σ²."""
    den = best["test_error"] - offset
    return _optional((model["test_error"] - offset) / den) if den > 0 else None


def _excess_seeds(models: list[dict], offset: float) -> dict[str, list[float]]:
    """Per data set: excess risk (test − offset) of every kind, and the grid's best."""
    grid = np.asarray([m["test_error_seeds"] for m in models if m["kind"] == "grid"]) - offset
    out = {"grid_best": [float(v) for v in grid.min(0)]}
    for m in models:
        if m["kind"] != "grid":
            out[m["kind"]] = [float(t - offset) for t in m["test_error_seeds"]]
    return out


def _accuracy(models: list[dict]) -> dict[str, float] | None:
    """Test accuracy of the tuned, validation and best-accuracy grid models (classification)."""
    if not any("accuracy" in m for m in models):
        return None
    grid = [m["accuracy"] for m in models if m["kind"] == "grid"]
    pick = {m["kind"]: m["accuracy"] for m in models if m["kind"] != "grid"}
    return {"grid_best": max(grid), **pick}


def _eta(estimates) -> dict[str, Any]:
    values = np.asarray([float(e.value) for e in estimates])
    ses = np.asarray([float(e.stderr) for e in estimates])
    return {
        "eta_hat": float(values.mean()),
        "eta_se": float(np.sqrt(np.sum(ses**2)) / len(ses)),
        "eta_method": estimates[0].method,
        "eta_seeds": [[float(v), float(s)] for v, s in zip(values, ses, strict=True)],
    }


def task_result(task, estimates, tuned, metrics, extra, sizes, seconds) -> dict:
    """Assembles one task's result dict (schema above) from the job's arrays.

    Args:
      task: the task (name, title, symmetry, breaking).
      estimates: the `Estimate` of each data set.
      tuned: per data set "weight", "target", "v_hat", "noise_var", "ed0_train" (D,).
      metrics: `measure_all`'s arrays, columns [unregularized, grid..., tuned, dual].
      extra: "dual_train_model_error" and "dual_final_weight" (D,).
      sizes: "n_train", "n_test", "test_offset".
      seconds: the task's run time.

    Returns:
      The result dict.
    """
    models = _models(tuned, metrics, extra)
    grid = [m for m in models if m["kind"] == "grid"]
    best = min(grid, key=lambda m: m["test_error"])
    tuned_model = next(m for m in models if m["kind"] == "tuned")
    dual = next(m for m in models if m["kind"] == "dual")
    val = next(m for m in models if m["kind"] == "validation")
    offset = sizes["test_offset"]
    return {
        "task": task.name,
        "title": task.title,
        "group": repr(task.symmetry.transforms),
        "breaking": task.breaking,
        **_eta(estimates),
        "eta_true": _optional(np.mean(metrics["eta_true"])),
        "variance_hat": float(np.mean(tuned["v_hat"])),
        "ed0_train": float(np.mean(tuned["ed0_train"])),
        "noise_var": float(np.mean(tuned["noise_var"])),
        "tuned_weight": tuned_model["weight"],
        "target": float(np.mean(tuned["target"])),
        "grid_best_weight": best["weight"],
        "grid_best_test_error": best["test_error"],
        "tuned_test_error": tuned_model["test_error"],
        "tuned_over_grid_best": tuned_model["test_error"] / best["test_error"],
        "tuned_over_grid_best_excess": _excess_ratio(tuned_model, best, offset),
        "validation_weight": val["weight"],
        "validation_test_error": val["test_error"],
        "validation_over_grid_best_excess": _excess_ratio(val, best, offset),
        "excess_seeds": _excess_seeds(models, offset),
        "accuracy": _accuracy(models),
        "dual_target": float(np.mean(tuned["target"])),
        "per_seed": {
            "tuned_weight": [float(w) for w in tuned["weight"]],
            "target": [float(t) for t in tuned["target"]],
            "dual_train_model_error": [float(e) for e in extra["dual_train_model_error"]],
            "variance_hat": [float(v) for v in tuned["v_hat"]],
            "validation_weight": [float(w) for w in tuned["validation_weight"]],
            "dual_final_weight": [float(w) for w in extra["dual_final_weight"]],
        },
        "dual_train_model_error": float(np.mean(extra["dual_train_model_error"])),
        "dual_model_error": dual["model_error"],
        "dual_final_weight": dual["weight"],
        "models": models,
        **sizes,
        "seeds": len(estimates),
        "time_s": float(seconds),
    }


def passes(r: dict) -> bool:
    """The acceptance: excess risk (test − σ²) within `TOLERANCE` of the grid's best on a
    synthetic task; on a classification task, accuracy at least the grid's best minus
    `ACCURACY_SLACK`."""
    acc = r.get("accuracy")
    if acc is not None:
        return acc["tuned"] >= acc["grid_best"] - ACCURACY_SLACK
    excess = r.get("tuned_over_grid_best_excess")
    return excess is not None and excess <= TOLERANCE


def summary(results: list[dict]) -> list[dict[str, Any]]:
    """Per task: tuned and grid-best test errors, their excess-risk ratio and the acceptance."""
    return [
        {
            "task": r["task"],
            "tuned_test_error": r["tuned_test_error"],
            "grid_best_test_error": r["grid_best_test_error"],
            "ratio": r["tuned_over_grid_best"],
            "excess_ratio": r.get("tuned_over_grid_best_excess"),
            "validation_excess_ratio": r.get("validation_over_grid_best_excess"),
            "accuracy": r.get("accuracy"),
            "within_tolerance": passes(r),
            "tuned_weight": r["tuned_weight"],
            "grid_best_weight": r["grid_best_weight"],
        }
        for r in results
    ]


def _fmt(value: Any, spec: str = ".4g") -> str:
    if value is None:
        return "—"
    return format(value, spec)


def _task_lines(r: dict) -> list[str]:
    truth = "" if r["eta_true"] is None else f" (oracle η = {r['eta_true']:.4g})"
    head = [
        f"== {r['task']}: {r['title']}",
        f"   η̂ = {r['eta_hat']:.4g} ± {r['eta_se']:.2g} ({r['eta_method']}, {r['seeds']} data set(s) of "
        f"N = {r['n_train']}){truth};  v̂ = {r['variance_hat']:.3g};  target ε̂ = {r['target']:.3g}",
        f"   tuned β̂ = {r['tuned_weight']:.3g} vs grid best β = {r['grid_best_weight']:.3g}:  "
        f"test {r['tuned_test_error']:.4g} vs {r['grid_best_test_error']:.4g}  "
        f"(ratio {r['tuned_over_grid_best']:.3f}{_excess_note(r)})",
        f"   {'model':<16}{'kind':<15}{'weight β':>10}{'ED_2 (test)':>13}{'test error':>12}",
    ]
    rows = []
    for m in r["models"]:
        acc = f"{m['accuracy']:>9.3f}" if "accuracy" in m else ""
        rows.append(
            f"   {m['name']:<16}{m['kind']:<15}{_fmt(m['weight'], '.3g'):>10}"
            f"{m['model_error']:>13.4g}{m['test_error']:>12.5g}{acc}"
        )
    if any("accuracy" in m for m in r["models"]):
        head[-1] += f"{'accuracy':>9}"
    return head + rows


def _excess_note(r: dict) -> str:
    excess = r.get("tuned_over_grid_best_excess")
    if not r.get("test_offset") or excess is None:
        return ""
    return f"; without the noise σ² = {r['test_offset']:.3g}: {excess:.3f}"


def format_table(results: list[dict]) -> str:
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


def document(results: list[dict], config: Any, *, seed: int) -> dict[str, Any]:
    """The JSON document: the configuration, every task's result and the summary."""
    from symreg import __version__

    return _clean(
        {
            "symreg_version": __version__,
            "command": "tradeoff",
            "mode": config.mode,
            "seed": seed,
            "config": dataclasses.asdict(config),
            "tasks": results,
            "summary": summary(results),
        }
    )


def save(results: list[dict], config: Any, out: str | Path, *, seed: int) -> dict[str, Path]:
    """Writes `tradeoff.json` and `tradeoff.png` (one `symreg.plot` panel per task) to `out`."""
    from symreg.plot import plot_tradeoff_grid  # matplotlib only when saving

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "tradeoff.json", "png": out / "tradeoff.png"}
    paths["json"].write_text(json.dumps(document(results, config, seed=seed), indent=2) + "\n")
    fig = plot_tradeoff_grid(results, paths["png"], ncols=2)
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths
