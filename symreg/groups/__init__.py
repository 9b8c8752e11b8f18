"""Layer 1: transformation sets with measures (groups, products, partial and non-group sets)."""

from symreg.groups._base import (
    MAX_ENUMERATION,
    SAMPLING_METHODS,
    AbstractFiniteGroup,
    AbstractGroup,
    AbstractLieGroup,
    AbstractMatrixRepresentation,
    AbstractPermutationRepresentation,
    AbstractStratifiedSampler,
    AbstractTransformSet,
    check_sampling,
)
from symreg.groups._continuous import O2, O3, SO2, SO3, Translations
from symreg.groups._finite import Cyclic, Dihedral, Symmetric
from symreg.groups._pairs import sample_pairs
from symreg.groups._partial import NearIdentity, RotationRange, UserSet
from symreg.groups._product import DirectProduct
from symreg.groups._scalings import Scalings

__all__ = [
    "MAX_ENUMERATION",
    "SAMPLING_METHODS",
    "AbstractFiniteGroup",
    "AbstractGroup",
    "AbstractLieGroup",
    "AbstractMatrixRepresentation",
    "AbstractPermutationRepresentation",
    "AbstractStratifiedSampler",
    "AbstractTransformSet",
    "Cyclic",
    "Dihedral",
    "DirectProduct",
    "NearIdentity",
    "O2",
    "O3",
    "RotationRange",
    "SO2",
    "SO3",
    "Scalings",
    "Symmetric",
    "Translations",
    "UserSet",
    "check_sampling",
    "sample_pairs",
]
