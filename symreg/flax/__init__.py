"""Layer 7: the Flax adapter (the only module that imports flax).

A linen `TrainState` subclass and a functional NNX state, both carrying the weight
controller and a PRNG key, and one train-step factory for both.
"""

from symreg.flax._common import StepKeys, step_keys
from symreg.flax._eval import make_eval_metric
from symreg.flax._functional import NNXApply, nnx_functional
from symreg.flax._layer_errors import LayerErrors, layer_errors
from symreg.flax._linen import SymmetryTrainState
from symreg.flax._nnx import NNXTrainState
from symreg.flax._step import make_train_step

__all__ = [
    "LayerErrors",
    "NNXApply",
    "NNXTrainState",
    "StepKeys",
    "SymmetryTrainState",
    "layer_errors",
    "make_eval_metric",
    "make_train_step",
    "nnx_functional",
    "step_keys",
]
