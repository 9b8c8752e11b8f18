"""Layer 7: relaxed-equivariance layers for Flax NNX, built on symreg's groups and actions.

`Symmetrize` (the Reynolds average Qf), `Relax` (f_α = Qf + α(f − Qf)), `ResidualPathway`
(an equivariant path plus a penalized free path) and `RelaxedGroupConv` (group convolutions
whose kernels may vary with the group element; `LinenRelaxedGroupConv` is the linen version).
Each layer's docstring says what is exactly equivariant, what is relaxed, and how the
relaxation maps to ED₂. See docs/nn.md.
"""

from symreg.nn._actions import RegularImage
from symreg.nn._conv import ConvSpec, RelaxedGroupConv
from symreg.nn._linen_conv import LinenRelaxedGroupConv
from symreg.nn._relax import Relax
from symreg.nn._residual import ResidualPathway, free_path_penalty
from symreg.nn._symmetrize import GroupElements, Symmetrize

__all__ = [
    "ConvSpec",
    "GroupElements",
    "LinenRelaxedGroupConv",
    "RegularImage",
    "Relax",
    "RelaxedGroupConv",
    "ResidualPathway",
    "Symmetrize",
    "free_path_penalty",
]
