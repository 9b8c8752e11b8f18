"""Plots (top layer, matplotlib): the trade-off curve, errors per element, estimates.

Importing it does not change the matplotlib backend; the functions return their Figure or Axes
and never call `plt.show`.
"""

from symreg.plot._estimates import plot_estimates
from symreg.plot._layers import layer_errors
from symreg.plot._per_element import plot_per_element
from symreg.plot._tradeoff import KINDS, plot_tradeoff, plot_tradeoff_grid, validate_tradeoff

__all__ = [
    "KINDS",
    "layer_errors",
    "plot_estimates",
    "plot_per_element",
    "plot_tradeoff",
    "plot_tradeoff_grid",
    "validate_tradeoff",
]
