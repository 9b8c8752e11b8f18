"""Layer 7: the Flax adapter (with `symreg.nn`, the only packages that import flax).

A linen `TrainState` subclass and a functional NNX state, both carrying the weight
controller and a PRNG key; one train-step factory for both; `calibrate` (from data to the
penalty weight and target for the user's own model); per-layer errors and an eval metric.
"""

from symreg.flax._calibrate import Calibration, calibrate
from symreg.flax._common import StepKeys, step_keys
from symreg.flax._eval import make_eval_metric
from symreg.flax._functional import NNXApply, nnx_functional
from symreg.flax._layer_errors import LayerErrors, layer_errors
from symreg.flax._linen import SymmetryTrainState
from symreg.flax._nnx import NNXTrainState
from symreg.flax._step import make_train_step

__all__ = [
    "Calibration",
    "LayerErrors",
    "NNXApply",
    "NNXTrainState",
    "StepKeys",
    "SymmetryTrainState",
    "calibrate",
    "layer_errors",
    "make_eval_metric",
    "make_train_step",
    "nnx_functional",
    "step_keys",
]
