"""Equivariance error per group element: bars for finite groups, a scatter against the angle."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from symreg.plot._figure import new_axes

#: Width in degrees of the angle bins of the binned mean.
BIN_DEGREES = 15


def _errors(errors: Any) -> np.ndarray:
    e = np.asarray(errors, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 1 or e.shape[1] < 1:
        raise ValueError(
            f"errors must have shape (G, B) or (S, B) with G, S, B >= 1, got {e.shape}"
        )
    return e


def _stderr(e: np.ndarray) -> np.ndarray:
    """Standard error of the mean over the last axis (0 when there is one example)."""
    if e.shape[-1] < 2:
        return np.zeros(e.shape[:-1])
    return e.std(axis=-1, ddof=1) / np.sqrt(e.shape[-1])


def _labels(elements: Any, g: int) -> list[str]:
    if elements is None:
        return [str(i) for i in range(g)]
    if isinstance(elements, str) or not isinstance(elements, (Sequence, np.ndarray)):
        raise TypeError(f"elements must be a sequence of G labels, got {type(elements).__name__}")
    if len(elements) != g:
        raise ValueError(f"elements has {len(elements)} labels but errors has G = {g} rows")
    labels = []
    for e in elements:
        a = np.asarray(e)
        if a.size != 1 and not isinstance(e, str):
            raise ValueError(
                f"elements must be labels (strings or scalars), got an entry of shape {a.shape}; "
                "pass names such as ['e', 'r', 'r²', ...]"
            )
        labels.append(e if isinstance(e, str) else str(a.item()))
    return labels


def _bars(ax: Axes, e: np.ndarray, labels: list[str]) -> None:
    mean, se = e.mean(1), _stderr(e)
    pos = np.arange(len(labels))
    ax.bar(
        pos, mean, yerr=se, capsize=3, color="C0", alpha=0.85, label="mean ± 1 s.e. over examples"
    )
    ax.set_xticks(pos, labels, rotation=0 if len(labels) <= 12 else 90)
    ax.set_xlabel("group element g")
    ax.set_ylabel("equivariance error (mean over examples)")
    ax.set_title("equivariance error per group element")


def _angles(angles: Any, shape: tuple[int, int]) -> np.ndarray:
    a = np.asarray(angles, dtype=np.float64)
    if a.shape not in ((shape[0],), shape):
        raise ValueError(
            f"angles must have shape (S,) = ({shape[0]},) or (S, B) = {shape}, got {a.shape}"
        )
    if not np.all(np.isfinite(a)):
        raise ValueError("angles contains NaN or Inf")
    return np.degrees(np.mod(a, 2 * np.pi))


def _against_angle(ax: Axes, e: np.ndarray, degrees: np.ndarray) -> None:
    if degrees.ndim == 1:  # one element per row, shared by the batch
        x, y, what = degrees, e.mean(1), "per element (mean over examples)"
    else:
        x, y, what = degrees.ravel(), e.ravel(), "per (element, example)"
    ax.scatter(x, y, s=10, alpha=0.5 if x.size <= 2000 else 0.15, color="C0", lw=0, label=what)
    edges = np.arange(0, 360 + BIN_DEGREES, BIN_DEGREES)
    which = np.clip(np.digitize(x, edges) - 1, 0, len(edges) - 2)
    counts = np.bincount(which, minlength=len(edges) - 1)
    sums = np.bincount(which, weights=y, minlength=len(edges) - 1)
    centers = (edges[:-1] + edges[1:]) / 2
    full = counts > 0
    ax.plot(
        centers[full],
        sums[full] / counts[full],
        "-",
        color="C1",
        lw=2,
        label=f"binned mean ({BIN_DEGREES}° bins)",
    )
    ax.set_xlim(0, 360)
    ax.set_xticks(np.arange(0, 361, 90))
    ax.set_xlabel("rotation angle (degrees)")
    ax.set_ylabel("equivariance error")
    ax.set_title("equivariance error against the rotation angle")
    ax.legend(fontsize="small")


def plot_per_element(
    errors: Any,
    elements: Sequence[Any] | None = None,
    *,
    angles: Any = None,
    ax: Axes | None = None,
) -> Axes:
    """Plots equivariance errors per group element: which transformations break the model.

    Finite groups: `errors` of shape (G, B), e.g. `symreg.exact_equivariance_error`, row g
    holding m(f(ρ_in(g)x_b), ρ_out(g)f(x_b)) for every example; a bar per element shows the
    mean over the B examples with a ±1 s.e. bar. The identity's bar is 0 for any model.

    Rotations (SO(2) and sets of angles): `errors` of shape (S, B) with the rotation angle of
    each element in `angles` (radians, shape (S,) when row s uses one element for the whole
    batch, as with `share_elements=True`, or (S, B)); a scatter against the angle in degrees
    plus the mean in `BIN_DEGREES` bins.

    Args:
      errors: (G, B) or (S, B) errors, array-like.
      elements: G labels for the bars (strings or scalars, e.g. `group.elements().tolist()`);
        default 0, ..., G-1. Not used with `angles`.
      angles: (S,) or (S, B) angles in radians; selects the scatter plot.
      ax: the Axes to draw on; None makes a new figure.

    Returns:
      The Axes.

    Raises:
      ValueError: `errors` is not 2-D; `elements` or `angles` has the wrong length or shape;
        both `elements` and `angles` are given.
      TypeError: `elements` is not a sequence, or `ax` not Axes.

    Examples:
      >>> import matplotlib.pyplot as plt, numpy as np
      >>> from symreg.plot import plot_per_element
      >>> ax = plot_per_element(np.array([[0.0, 0.0], [1.0, 3.0]]), ["e", "s"])
      >>> [t.get_text() for t in ax.get_xticklabels()], [float(p.get_height()) for p in ax.patches]
      (['e', 's'], [0.0, 2.0])
      >>> plt.close(ax.figure)
    """
    e = _errors(errors)
    if angles is not None and elements is not None:
        raise ValueError("pass either elements (bar chart) or angles (scatter), not both")
    if angles is None:
        labels = _labels(elements, e.shape[0])
        _, ax = new_axes(ax, (6.4, 4.0))
        _bars(ax, e, labels)
    else:
        degrees = _angles(angles, e.shape)
        _, ax = new_axes(ax, (6.4, 4.0))
        _against_angle(ax, e, degrees)
    ax.grid(True, axis="y", alpha=0.3)
    return ax
