"""The equivariance error of each layer: one bar per named intermediate, ± 1 s.e."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from symreg.plot._figure import new_axes, number


def _rows(errors: Any, relative: bool) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(names, values, stderrs), divided by each layer's scale when `relative`."""
    if not isinstance(errors, Mapping) or len(errors) == 0:
        raise TypeError(
            "errors must be a non-empty mapping from layer name to an estimate with .value and "
            f".stderr (e.g. symreg.flax.layer_errors(...)), got {type(errors).__name__}"
        )
    names, values, stderrs = [], [], []
    for name, est in errors.items():
        if not hasattr(est, "value") or not hasattr(est, "stderr"):
            raise TypeError(f"errors[{name!r}] must have .value and .stderr, got {est!r:.80}")
        scale = 1.0
        if relative:
            if not callable(getattr(errors, "scale", None)):
                raise TypeError("relative=True needs errors with a .scale(name) method")
            scale = number(errors.scale(name), f"errors.scale({name!r})")
            if scale <= 0:
                raise ValueError(f"errors.scale({name!r}) must be > 0 for relative=True")
        names.append(str(name))
        values.append(number(est.value, f"errors[{name!r}].value") / scale)
        stderrs.append(number(est.stderr, f"errors[{name!r}].stderr", allow_inf=True) / scale)
    return names, np.array(values), np.array(stderrs)


def layer_errors(errors: Any, *, relative: bool = False, ax: Axes | None = None) -> Axes:
    """Bar plot of the equivariance error of each layer, with ±1 s.e. error bars.

    Args:
      errors: a mapping name → estimate with `.value` and `.stderr`, e.g. the `LayerErrors`
        of `symreg.flax.layer_errors`, plotted in its order (input to output).
      relative: plot ED / mean ‖h(x)‖² per layer (needs `errors.scale(name)`, the mean
        ‖h(x)‖², as `LayerErrors` has) instead of ED, so that layers of different scales
        compare.
      ax: the Axes to draw on; None makes a new figure.

    Returns:
      The Axes.

    Raises:
      TypeError: `errors` is not a non-empty mapping of estimates; `ax` is not Axes.
      ValueError: a value or standard error that is NaN (or an infinite value); with
        `relative`, a scale that is not > 0.

    Examples:
      >>> import matplotlib.pyplot as plt
      >>> from types import SimpleNamespace as Est
      >>> from symreg.plot import layer_errors
      >>> ax = layer_errors({"conv": Est(value=0.0, stderr=0.0), "head": Est(value=0.3, stderr=0.1)})
      >>> [t.get_text() for t in ax.get_xticklabels()], [float(p.get_height()) for p in ax.patches]
      (['conv', 'head'], [0.0, 0.3])
      >>> plt.close(ax.figure)
    """
    names, values, stderrs = _rows(errors, bool(relative))
    _, ax = new_axes(ax, (max(4.0, 0.9 * len(names) + 2.0), 3.6))
    pos = np.arange(len(names))
    bars = np.where(np.isfinite(stderrs), stderrs, 0.0)
    ax.bar(pos, values, yerr=bars, capsize=3, color="C0", alpha=0.85, label="mean ± 1 s.e.")
    ax.set_xticks(pos, names, rotation=0 if len(names) <= 6 else 45, ha="center")
    ax.set_xlabel("layer")
    ax.set_ylabel("relative ED (ED / E‖h(x)‖²)" if relative else "equivariance error ED")
    ax.set_title("equivariance error per layer")
    ax.grid(True, axis="y", alpha=0.3)
    return ax
