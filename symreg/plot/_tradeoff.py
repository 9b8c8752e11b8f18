"""The trade-off plot: test error against model equivariance error, with the data's η̂."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from symreg.plot._figure import new_axes, number, plt, short
from symreg.plot._scale import apply_scale

#: The kinds of model in a trade-off result, and how each is drawn (marker, colour, label).
KINDS = {
    "grid": ("o", "C0", "weight grid"),
    "unregularized": ("s", "C3", "unregularized"),
    "symmetrized": ("D", "C2", "symmetrized Qf"),
    "exact": ("X", "C7", "exactly equivariant"),
    "tuned": ("*", "C1", "tuned weight"),
    "dual": ("^", "C4", "dual ascent"),
    "validation": ("P", "C5", "validation grid"),
}
_RESULT_KEYS = ("task", "eta_hat", "eta_se", "models")
_MODEL_KEYS = ("name", "weight", "model_error", "test_error", "kind")
_ETA_COLOR = "0.35"


def _require(mapping: Any, keys: Sequence[str], where: str) -> None:
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{where} must be a dict, got {type(mapping).__name__}")
    for key in keys:
        if key not in mapping:
            raise ValueError(f"{where} is missing the key {key!r} (expected keys {list(keys)})")


def _model(m: Any, i: int) -> dict[str, Any]:
    where = f"result['models'][{i}]"
    _require(m, _MODEL_KEYS, where)
    if m["kind"] not in KINDS:
        raise ValueError(f"{where}['kind'] must be one of {list(KINDS)}, got {m['kind']!r}")
    model_error = number(m["model_error"], f"{where}['model_error']")
    if model_error < 0:
        raise ValueError(f"{where}['model_error'] is an ED₂ and must be >= 0, got {model_error}")
    weight = m["weight"]
    return {
        "name": str(m["name"]),
        "weight": None if weight is None else number(weight, f"{where}['weight']"),
        "model_error": model_error,
        "test_error": number(m["test_error"], f"{where}['test_error']"),
        "kind": m["kind"],
    }


def validate_tradeoff(result: Any) -> dict[str, Any]:
    """Checks a trade-off result and returns it with plain floats (the schema of the plots).

    The schema: {"task": str, "eta_hat": float (η̂, the estimated data error; may be < 0),
    "eta_se": float (its s.e., >= 0, +inf for a flagged estimate), "models": [{"name": str,
    "weight": float | None, "model_error": float (ED₂ >= 0), "test_error": float, "kind":
    "grid" | "unregularized" | "symmetrized" | "exact" | "tuned" | "dual" | "validation"}, ...]}. Optional keys:
    "title" (str, the panel title; default the task) and "eta_true" (the true η₂ of a
    synthetic task, or None). Other keys are ignored. Numbers may be Python, NumPy or JAX
    scalars.

    Args:
      result: the dict to check.

    Returns:
      A new dict with the four keys plus "title" and "eta_true" (None when absent), floats
      for the numbers, and the grid models first, sorted by weight.

    Raises:
      TypeError: `result` or a model is not a dict, or a number is not a number.
      ValueError: a missing key (named), an unknown kind, no models, a NaN, a negative
        `eta_se` or `model_error`.

    Examples:
      >>> from symreg.plot import validate_tradeoff
      >>> validate_tradeoff({"task": "t", "eta_hat": 0.1, "eta_se": 0.01, "models": []})
      Traceback (most recent call last):
      ...
      ValueError: result['models'] is empty: nothing to plot
      >>> validate_tradeoff({"task": "t", "eta_hat": 0.1})
      Traceback (most recent call last):
      ...
      ValueError: result is missing the key 'eta_se' (expected keys ['task', 'eta_hat', 'eta_se', 'models'])
    """
    _require(result, _RESULT_KEYS, "result")
    eta_se = number(result["eta_se"], "result['eta_se']", allow_inf=True)
    if eta_se < 0:
        raise ValueError(f"result['eta_se'] must be >= 0, got {eta_se}")
    models = result["models"]
    if isinstance(models, (str, Mapping)) or not isinstance(models, Sequence):
        raise TypeError(f"result['models'] must be a list of dicts, got {type(models).__name__}")
    if not models:
        raise ValueError("result['models'] is empty: nothing to plot")
    checked = [_model(m, i) for i, m in enumerate(models)]
    if not isinstance(result.get("title", ""), (str, type(None))):
        raise TypeError(f"result['title'] must be a str, got {result['title']!r}")
    grid = sorted(
        (m for m in checked if m["kind"] == "grid"),
        key=lambda m: -math.inf if m["weight"] is None else m["weight"],
    )
    eta_true = result.get("eta_true")
    return {
        "task": str(result["task"]),
        "title": str(result.get("title") or result["task"]),
        "eta_hat": number(result["eta_hat"], "result['eta_hat']"),
        "eta_se": eta_se,
        "eta_true": None if eta_true is None else number(eta_true, "result['eta_true']"),
        "models": grid + [m for m in checked if m["kind"] != "grid"],
    }


def _draw_eta(ax: Axes, eta: float, se: float) -> None:
    if math.isfinite(se) and se > 0:
        ax.axvspan(
            max(eta - se, 0.0),
            eta + se,
            color=_ETA_COLOR,
            alpha=0.15,
            lw=0,
            label=r"$\hat\eta$ ± 1 s.e.",
        )
    note = f" ± {se:.2g}" if math.isfinite(se) else " (flagged: s.e. = ∞)"
    line = ax.axvline(
        eta, color=_ETA_COLOR, ls="--", lw=1.2, label=rf"data error $\hat\eta$ = {short(eta)}{note}"
    )
    line.set_gid("eta_hat")


def _draw_truth(ax: Axes, eta_true: float) -> None:
    line = ax.axvline(eta_true, color="k", ls=":", lw=1.2, label=f"true η₂ = {short(eta_true)}")
    line.set_gid("eta_true")


def _draw_grid(ax: Axes, grid: list[dict[str, Any]]) -> None:
    marker, color, label = KINDS["grid"]
    xs = [m["model_error"] for m in grid]
    ys = [m["test_error"] for m in grid]
    ax.plot(xs, ys, "-", marker=marker, color=color, ms=5, lw=1.2, label=f"{label} (β)", zorder=3)
    if len(grid) <= 12:
        for m in grid:
            if m["weight"] is not None:
                ax.annotate(
                    short(m["weight"]),
                    (m["model_error"], m["test_error"]),
                    xytext=(3, 4),
                    textcoords="offset points",
                    fontsize="x-small",
                    color=color,
                )


def _draw_marker(ax: Axes, m: dict[str, Any]) -> None:
    marker, color, label = KINDS[m["kind"]]
    name = m["name"] if m["name"] and m["name"] != m["kind"] else label
    if m["weight"] is not None and m["kind"] in ("tuned", "dual", "validation"):
        name = f"{name} (β = {short(m['weight'])})"
    size = 16 if marker == "*" else 9
    ax.plot(
        [m["model_error"]],
        [m["test_error"]],
        ls="none",
        marker=marker,
        ms=size,
        color=color,
        markeredgecolor="k",
        markeredgewidth=0.6,
        label=name,
        zorder=4,
    )


def plot_tradeoff(result: Mapping[str, Any], ax: Axes | None = None) -> Axes:
    """Plots test error against model equivariance error ED₂ for one task, with η̂ marked.

    The paper's picture: the test risk of models trained with symmetry-penalty weights β
    (a line through the grid, each point labelled by β) falls as ED₂(f) decreases towards the
    data's error η₂ and rises again below it (approximation error ½(√η₂ − √ε)₊²); the best
    model sits at ED₂ ≤ η₂. The estimate η̂ is a dashed vertical line with a ±1 s.e. band;
    the unregularized, symmetrized (ED₂ = 0), exactly equivariant, tuned and dual-ascent models are distinct
    labelled markers; a known true η₂ (synthetic tasks) is a dotted line. The x-axis is logarithmic when the errors span two decades or more
    (symlog, linear near 0, when a model is exactly symmetric or η̂ <= 0).

    Args:
      result: a trade-off result, schema in `validate_tradeoff`.
      ax: the matplotlib Axes to draw on; None makes a new figure.

    Returns:
      The Axes (its `.figure` is the Figure). The η̂ line has gid "eta_hat", the true η₂
      line "eta_true".

    Raises:
      TypeError, ValueError: an invalid `result` (see `validate_tradeoff`), or `ax` not Axes.

    Examples:
      >>> from symreg.plot import plot_tradeoff
      >>> result = {"task": "toy", "eta_hat": 0.05, "eta_se": 0.01, "models": [
      ...     {"name": "β=0", "weight": 0.0, "model_error": 0.4, "test_error": 1.3, "kind": "grid"},
      ...     {"name": "β=1", "weight": 1.0, "model_error": 0.002, "test_error": 1.1, "kind": "grid"},
      ...     {"name": "Qf", "weight": None, "model_error": 0.0, "test_error": 1.2,
      ...      "kind": "symmetrized"}]}
      >>> ax = plot_tradeoff(result)
      >>> ax.get_xlabel(), ax.get_xscale()
      ('model equivariance error ED₂ (linear below 1e-03)', 'symlog')
      >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    r = validate_tradeoff(result)
    _, ax = new_axes(ax, (6.4, 4.4))
    _draw_eta(ax, r["eta_hat"], r["eta_se"])
    if r["eta_true"] is not None:
        _draw_truth(ax, r["eta_true"])
    grid = [m for m in r["models"] if m["kind"] == "grid"]
    if grid:
        _draw_grid(ax, grid)
    for m in r["models"]:
        if m["kind"] != "grid":
            _draw_marker(ax, m)
    xs = [m["model_error"] for m in r["models"]] + [r["eta_hat"]]
    xs += [] if r["eta_true"] is None else [r["eta_true"]]
    if math.isfinite(r["eta_se"]):
        # ED_2 is >= 0: the band stops at 0 (a negative estimate still shows its own line)
        xs += [max(r["eta_hat"] - r["eta_se"], 0.0), r["eta_hat"] + r["eta_se"]]
    apply_scale(ax, "x", xs, "model equivariance error ED₂")
    apply_scale(ax, "y", [m["test_error"] for m in r["models"]], "test error")
    ax.set_title(r["title"])
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", framealpha=0.85)
    return ax


def plot_tradeoff_grid(
    results: Sequence[Mapping[str, Any]], path: str | Path | None = None, *, ncols: int = 3
) -> Figure:
    """One `plot_tradeoff` panel per task in one figure, saved as a PNG when `path` is given.

    Args:
      results: trade-off results (schema in `validate_tradeoff`), one per task.
      path: where to save the figure as PNG (150 dpi); None saves nothing.
      ncols: panels per row (at most; fewer when there are fewer results), >= 1.

    Returns:
      The Figure (close it with `matplotlib.pyplot.close(fig)` when done).

    Raises:
      TypeError: `results` is a single result dict or not a sequence.
      ValueError: no results, `ncols` < 1, or an invalid result (every one is checked
        before anything is drawn).

    Examples:
      >>> import matplotlib.pyplot as plt
      >>> from symreg.plot import plot_tradeoff_grid
      >>> one = lambda task: {"task": task, "eta_hat": 0.1, "eta_se": 0.02, "models": [
      ...     {"name": "f", "weight": 0.0, "model_error": 0.3, "test_error": 1.0,
      ...      "kind": "unregularized"}]}
      >>> fig = plot_tradeoff_grid([one("a"), one("b")])
      >>> [ax.get_title() for ax in fig.axes]
      ['a', 'b']
      >>> plt.close(fig)
    """
    if isinstance(results, Mapping) or not isinstance(results, Sequence):
        raise TypeError(
            f"results must be a list of trade-off results (dicts), got {type(results).__name__}"
        )
    if not results:
        raise ValueError("results is empty: nothing to plot")
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be an int >= 1, got {ncols!r}")
    for i, result in enumerate(results):
        try:
            validate_tradeoff(result)
        except (TypeError, ValueError) as err:
            raise type(err)(f"results[{i}]: {err}") from None
    ncols = min(ncols, len(results))
    nrows = -(-len(results) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(6.0 * ncols, 4.4 * nrows), layout="constrained", squeeze=False
    )
    for ax, result in zip(axes.flat, results, strict=False):
        plot_tradeoff(result, ax=ax)
    for ax in list(axes.flat)[len(results) :]:
        ax.remove()
    if path is not None:
        fig.savefig(Path(path), format="png", dpi=150)
    return fig
