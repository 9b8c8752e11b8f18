"""Layer 6: the target error, the penalty weight and the relaxation strength from estimates,
and weight controllers (dual ascent) as `(init, update)` pairs."""

from symreg.theory import estimation_variance
from symreg.tuning._dual import (
    LOG_SPACE_CLIP,
    LOG_SPACE_FLOOR,
    DualAscentState,
    WeightController,
    constant_weight,
    dual_ascent,
)
from symreg.tuning._rules import (
    MAX_WEIGHT,
    posterior_eta,
    relax_to_target,
    shrink_estimate,
    target_from_estimate,
    target_from_variance,
    weight_from_estimate,
    weight_from_variance,
)

__all__ = [
    "LOG_SPACE_CLIP",
    "LOG_SPACE_FLOOR",
    "MAX_WEIGHT",
    "DualAscentState",
    "WeightController",
    "constant_weight",
    "dual_ascent",
    "estimation_variance",
    "posterior_eta",
    "relax_to_target",
    "shrink_estimate",
    "target_from_estimate",
    "target_from_variance",
    "weight_from_estimate",
    "weight_from_variance",
]
