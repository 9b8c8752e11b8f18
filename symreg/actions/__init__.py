"""Layer 2: how group elements act on one example, and the `Symmetry` spec."""

from symreg.actions._base import AbstractAction, Factorwise, Tree, Trivial, as_action
from symreg.actions._image import Image
from symreg.actions._linear import Irreps, Permutation, PointCloud, Regular, Vector
from symreg.actions._symmetry import Symmetry
from symreg.actions._warp import WARP_MODES, InterpolatedImage, warp_image

__all__ = [
    "WARP_MODES",
    "AbstractAction",
    "Factorwise",
    "Image",
    "InterpolatedImage",
    "Irreps",
    "Permutation",
    "PointCloud",
    "Regular",
    "Symmetry",
    "Trivial",
    "Tree",
    "Vector",
    "as_action",
    "warp_image",
]
