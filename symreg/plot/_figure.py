"""Matplotlib helpers shared by the plots: new axes, number formats (private).

Importing `symreg.plot` leaves the matplotlib backend alone: whatever the user chose
(`MPLBACKEND`, a matplotlibrc, `matplotlib.use`, Jupyter's inline backend) stays, and with no
choice matplotlib resolves its default when the first figure is made (Agg when there is no
display, as in CI). Library code never calls `plt.show`.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib
import matplotlib.pyplot as plt  # importing pyplot does not resolve the backend
import matplotlib.rcsetup
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def _backend_is_chosen() -> bool:
    params = matplotlib.rcParams
    if hasattr(params, "_get_backend_or_none"):  # matplotlib >= 3.6
        return params._get_backend_or_none() is not None
    return dict.__getitem__(params, "backend") is not matplotlib.rcsetup._auto_backend_sentinel


def select_backend() -> None:
    """Selects Agg unless a matplotlib backend is already set (for scripts that want to be
    headless whatever the display; importing `symreg.plot` does not call it)."""
    if not _backend_is_chosen():
        matplotlib.use("Agg")


def new_axes(ax: Any, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The figure and axes to draw on: `ax` itself, or a new figure of `figsize` inches.

    Raises:
      TypeError: `ax` is neither None nor a matplotlib Axes.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax.figure, ax


def number(value: Any, name: str, *, allow_inf: bool = False) -> float:
    """`value` (a Python, NumPy or JAX scalar) as a float; raises if it is not a finite number.

    Raises:
      TypeError: not a real number (or a bool, or an array with more than one entry).
      ValueError: NaN, or infinite unless `allow_inf`.
    """
    if isinstance(value, (bool, str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a number, got {value!r} of type {type(value).__name__}"
        ) from None
    if math.isnan(out) or (math.isinf(out) and not allow_inf):
        raise ValueError(f"{name} must be finite, got {out}")
    return out


def short(value: float) -> str:
    """A number with 3 significant digits, for labels."""
    return f"{value:.3g}"
