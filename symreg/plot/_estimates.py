"""Estimates of the data equivariance error with ±2 s.e. bars, against the truth if known."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from symreg.plot._figure import new_axes, number

#: Half-width of the error bars, in standard errors.
NUM_SE = 2.0


def _pair(est: Any, where: str) -> tuple[float, float]:
    """(value, stderr) of an `Estimate`-like object or a (value, stderr) pair; NaN allowed."""
    if hasattr(est, "value") and hasattr(est, "stderr"):
        value, se = est.value, est.stderr
    elif isinstance(est, Sequence) and not isinstance(est, str) and len(est) == 2:
        value, se = est
    else:
        raise TypeError(
            f"{where} must be an Estimate (with .value and .stderr) or a (value, stderr) pair, "
            f"got {est!r}"
        )
    try:
        return float(value), abs(float(se))
    except (TypeError, ValueError):
        raise TypeError(f"{where} has a value or stderr that is not a number: {est!r}") from None


def _is_single(est: Any) -> bool:
    if hasattr(est, "value"):
        return True
    return (
        isinstance(est, Sequence)
        and len(est) == 2
        and not isinstance(est[0], Sequence)
        and not hasattr(est[0], "value")
    )


def _table(estimates: Any) -> tuple[dict[str, list[tuple[float, float]]], bool]:
    """{label: [(value, se), ...]} and whether every entry was a single estimate."""
    if not isinstance(estimates, Mapping) or not estimates:
        raise TypeError(
            "estimates must be a non-empty dict {label: Estimate or list of Estimates}, got "
            f"{type(estimates).__name__}"
        )
    single = [_is_single(v) for v in estimates.values()]
    if any(single) and not all(single):
        raise ValueError("estimates mixes single estimates and lists; use one or the other")
    table = {}
    for label, entry in estimates.items():
        entries = [entry] if all(single) else list(entry)
        table[str(label)] = [_pair(e, f"estimates[{label!r}][{i}]") for i, e in enumerate(entries)]
    sizes = {len(v) for v in table.values()}
    if len(sizes) != 1:
        raise ValueError(
            f"every list in estimates must have the same length, got lengths {sorted(sizes)}"
        )
    return table, all(single)


def _truths(truth: Any, single: bool, length: int) -> tuple[float | None, list[float] | None]:
    if truth is None:
        return None, None
    if single:
        return number(truth, "truth"), None
    if isinstance(truth, (str, Mapping)) or not isinstance(truth, (Sequence, np.ndarray)):
        raise ValueError("with lists of estimates, truth must be a list with one value per setting")
    if len(truth) != length:
        raise ValueError(f"truth has {len(truth)} values but each list of estimates has {length}")
    return None, [number(t, f"truth[{i}]") for i, t in enumerate(truth)]


def _draw(
    ax: Axes, xs: Sequence[float], pairs: list[tuple[float, float]], color: str, label: str
) -> None:
    ok = [
        (x, v, s)
        for x, (v, s) in zip(xs, pairs, strict=True)
        if math.isfinite(v) and math.isfinite(s)
    ]
    flagged = [
        (x, v)
        for x, (v, s) in zip(xs, pairs, strict=True)
        if math.isfinite(v) and not math.isfinite(s)
    ]
    if ok:
        x, v, s = map(np.asarray, zip(*ok, strict=True))
        ax.errorbar(x, v, yerr=NUM_SE * s, fmt="o", color=color, capsize=3, ms=5, label=label)
    if flagged:
        x, v = zip(*flagged, strict=True)
        ax.plot(x, v, "o", mfc="none", color=color, ms=7, label=f"{label}: flagged (s.e. = ∞)")


def plot_estimates(estimates: Mapping[str, Any], truth: Any = None, ax: Axes | None = None) -> Axes:
    """Plots estimates η̂ of the data equivariance error with ±2 s.e. bars, against the truth.

    Two layouts:

    - one estimate per method ({label: Estimate}): a point per method with a ±2 s.e. bar;
      `truth` (a number) is a horizontal line. An unbiased estimator's bar covers the line
      about 95% of the time.
    - one list per method ({label: [Estimate, ...]}) over L settings (e.g. symmetry-breaking
      levels): with `truth` a list of the L true η₂, estimates are plotted against the truth
      with the line y = x (methods side by side); without `truth`, against the setting index.

    A flagged estimate (s.e. = ∞, see `symreg.estimators.Estimate`) is a hollow marker
    without a bar; a NaN value is left out.

    Args:
      estimates: {label: estimate} or {label: [estimate, ...]}; an estimate is an object
        with `.value` and `.stderr` (an `Estimate`) or a (value, stderr) pair.
      truth: None, the true η₂ (single estimates), or a list of L true values (lists).
      ax: the Axes to draw on; None makes a new figure.

    Returns:
      The Axes. The truth line has gid "truth".

    Raises:
      TypeError: `estimates` is not a non-empty dict, or an entry is not an estimate.
      ValueError: lists of different lengths, single estimates mixed with lists, or a
        `truth` that does not fit the layout.

    Examples:
      >>> import matplotlib.pyplot as plt
      >>> from symreg.plot import plot_estimates
      >>> ax = plot_estimates({"crossfit": (0.26, 0.02), "riskgap": (0.22, 0.03)}, truth=0.25)
      >>> [t.get_text() for t in ax.get_xticklabels()], ax.get_legend() is not None
      (['crossfit', 'riskgap'], True)
      >>> plt.close(ax.figure)
    """
    table, single = _table(estimates)
    length = len(next(iter(table.values())))
    scalar, truths = _truths(truth, single, length)
    _, ax = new_axes(ax, (6.4, 4.2))
    labels = list(table)
    if single:
        for j, label in enumerate(labels):
            _draw(ax, [j], table[label], f"C{j % 10}", label)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.set_xlabel("method")
        if scalar is not None:
            ax.axhline(
                scalar, color="k", ls="--", lw=1, label=f"truth η₂ = {scalar:.3g}", gid="truth"
            )
        ax.set_ylabel(rf"estimate $\hat\eta_2$ (± {NUM_SE:g} s.e.)")
    else:
        base = np.asarray(truths if truths is not None else range(length), dtype=np.float64)
        span = float(np.ptp(base)) or 1.0
        width = 0.02 * span
        for j, label in enumerate(labels):
            shift = (j - (len(labels) - 1) / 2) * width
            _draw(ax, base + shift, table[label], f"C{j % 10}", label)
        if truths is not None:
            lo, hi = float(base.min()) - 0.05 * span, float(base.max()) + 0.05 * span
            ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="truth (y = x)", gid="truth")
            ax.set_xlabel("true data error η₂")
        else:
            ax.set_xticks(range(length))
            ax.set_xlabel("setting")
        ax.set_ylabel(rf"estimate $\hat\eta_2$ (± {NUM_SE:g} s.e.)")
    ax.axhline(0.0, color="0.6", lw=0.8, zorder=0)
    ax.set_title("data equivariance error: estimates")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax
