"""Layer 2: how group elements act on one example, and the `Symmetry` spec."""

from symreg.actions._base import AbstractAction, Factorwise, Tree, Trivial, as_action
from symreg.actions._image import Image
from symreg.actions._linear import Irreps, Permutation, PointCloud, Regular, Vector
from symreg.actions._symmetry import Symmetry

__all__ = [
    "AbstractAction",
    "Factorwise",
    "Image",
    "Irreps",
    "Permutation",
    "PointCloud",
    "Regular",
    "Symmetry",
    "Trivial",
    "Tree",
    "Vector",
    "as_action",
]
