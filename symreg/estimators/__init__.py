"""Layer 4: estimators of the data equivariance error η₂ = ED_2(f*), with standard errors."""

from symreg.estimators._api import METHODS, estimate_data_error
from symreg.estimators._estimate import Estimate
from symreg.estimators._foldstats import FoldStatistics, fold_statistics
from symreg.estimators._mlp import MLP, MLPRegressor
from symreg.estimators._mmd import default_bandwidth
from symreg.estimators._regressor import LinearRegressor, Regressor

__all__ = [
    "METHODS",
    "Estimate",
    "FoldStatistics",
    "LinearRegressor",
    "MLP",
    "MLPRegressor",
    "Regressor",
    "default_bandwidth",
    "estimate_data_error",
    "fold_statistics",
]
