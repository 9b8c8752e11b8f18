"""Choosing a readable axis scale for errors that may span decades and include 0 (private)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

#: A log scale is used when the positive values span at least this ratio (two decades).
LOG_RATIO = 100.0
#: Values below this fraction of the largest are round-off of 0 (e.g. ED₂ of Qf in float32).
TINY = 1e-9


def choose_scale(values: Iterable[float]) -> tuple[str, dict[str, Any]]:
    """("linear" | "log" | "symlog", keyword arguments of `Axes.set_xscale`) for the values.

    Linear when the significant positive values span less than `LOG_RATIO`; log when they span
    more and every value is significant; otherwise symlog, linear below the smallest
    significant value rounded down to a power of 10, so that exact zeros (the symmetrized
    model) and negative estimates stay on the axis.
    """
    finite = [v for v in values if math.isfinite(v)]
    top = max((abs(v) for v in finite), default=0.0)
    significant = [v for v in finite if v > TINY * top]
    if not significant or max(significant) < LOG_RATIO * min(significant):
        return "linear", {}
    low = min(significant)
    if all(v >= low for v in finite):
        return "log", {}
    linthresh = 10.0 ** math.floor(math.log10(low))
    return "symlog", {"linthresh": linthresh, "linscale": 0.4}


def apply_scale(ax: Any, axis: str, values: Iterable[float], label: str) -> str:
    """Sets the x or y scale of `ax` from `choose_scale(values)` and its axis label.

    A symlog scale says where it turns linear in the label, outside the plotting area, where
    it cannot collide with a legend or the data.

    Returns:
      The scale's name.
    """
    scale, kwargs = choose_scale(list(values))
    (ax.set_xscale if axis == "x" else ax.set_yscale)(scale, **kwargs)
    if scale == "symlog":
        label = f"{label} (linear below {kwargs['linthresh']:.0e})"
    (ax.set_xlabel if axis == "x" else ax.set_ylabel)(label)
    return scale
