"""`estimate_data_error`: the entry point that dispatches to the estimators (layer 4)."""

from __future__ import annotations

import inspect
from typing import Any

import jax

from symreg import _validation
from symreg.equivariance import get_metric
from symreg.estimators._crossfit import crossfit
from symreg.estimators._data import check_symmetry
from symreg.estimators._estimate import Estimate
from symreg.estimators._mmd import mmd
from symreg.estimators._oracle import oracle
from symreg.estimators._pairing import pairing
from symreg.estimators._riskgap import riskgap

#: The estimators by name.
METHODS = {
    "oracle": oracle,
    "crossfit": crossfit,
    "riskgap": riskgap,
    "pairing": pairing,
    "mmd": mmd,
}
_COMMON = ("x", "y", "symmetry", "key", "metric")


def _options(fn) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p not in _COMMON]


def estimate_data_error(
    x: Any,
    y: Any,
    *,
    symmetry: Any,
    key: jax.Array,
    method: str = "crossfit",
    metric: Any = "sq",
    **options: Any,
) -> Estimate:
    """Estimates the data equivariance error η₂ = ED_2(f*) of samples (x, y), with a s.e.

    η₂ = E_{g~λ} E_x ‖f*(ρ_in(g)x) − ρ_out(g) f*(x)‖² for the regression function
    f*(x) = E[y | x], in the units and measure of
    `symreg.equivariance_error(..., metric="sq").mean()` on the same inputs, so a model's
    error and the data's compare directly. A naive plug-in ED_2(f̂) is inflated by the noise
    in f̂ (and ED_2 of raw y by 2σ²); every method corrects for that:

    - "oracle": f* known (`target_fn=`), η from the model kernels; s.e. over examples.
    - "crossfit" (default): debiased cross products of defects of models fitted on disjoint
      folds, evaluated where neither model saw the example (`fold_statistics`).
    - "riskgap": held-out excess risk of the symmetrized fit Qf̂, plus its variance term.
    - "pairing": nearest neighbours of ρ_in(g)x_i among the data (finite groups, dense data).
    - "mmd": a density-calibrated kernel two-sample statistic (groups, invariant input law).

    Each method's docstring (`symreg.estimators.METHODS[name]`) states its assumptions, what
    it converges to and how its s.e. is computed. Options per method:
    oracle(target_fn, num_samples, chunk_size); crossfit(regressor, folds, num_samples,
    correction); riskgap(regressor, folds, num_samples); pairing(num_samples, chunk_size); mmd(bandwidth, num_samples, extrapolate,
    chunk_size). `num_samples=None` enumerates finite groups of order <= 64
    ("pairing": <= 8, "mmd": <= 4) and otherwise draws elements per example.

    Invalid inputs raise (below). A computable but unreliable estimate is returned *flagged*
    (stderr = +inf, `reason` set): a non-finite result (e.g. a diverged fit); for "crossfit"
    and "riskgap", folds smaller than the regressor's `min_examples` (a `LinearRegressor`
    without ridge on n <= P + 1 examples per fold interpolates the noise); for "pairing" and
    "mmd", data whose input law does not look invariant.

    Args:
      x: inputs, an array or pytree with leading axis N.
      y: outputs, an array or pytree with leading axis N (floating).
      symmetry: the `symreg.Symmetry`.
      key: PRNG key (split per use: folds, fits, elements); the result is deterministic in it.
      method: one of "oracle", "crossfit", "riskgap", "pairing", "mmd".
      metric: "sq" (η₂). Only "oracle" accepts other metrics of `get_metric`.
      **options: the method's options, above.

    Returns:
      An `Estimate` with scalar `value` and `stderr`.

    Raises:
      ValueError: unknown method; a metric other than "sq" (except "oracle"); N differs
        between x and y or is too small for the method; NaN/Inf in x or y; constant x or y; folds
        < 3; a non-group transformation set for "riskgap" or "mmd".
      TypeError: unknown options; `symmetry` not a Symmetry; `key` not a key; non-floating
        data; "pairing" with a set that is not a finite group; "oracle" without `target_fn`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.estimators import LinearRegressor, estimate_data_error
      >>> from symreg.groups import Symmetric
      >>> sym = symreg.Symmetry(Symmetric(3), Permutation())
      >>> kx, kn = jax.random.split(jax.random.key(0))
      >>> x = jax.random.normal(kx, (1024, 3))
      >>> y = x.sum(1) + 0.5 * x[:, 0] + 0.1 * jax.random.normal(kn, (1024,))
      >>> est = estimate_data_error(x, y, symmetry=sym, key=jax.random.key(1),
      ...                           regressor=LinearRegressor())
      >>> est.method, bool(abs(est.value - 1 / 3) < 4 * est.stderr)  # η₂ = 2·0.25·(2/3)
      ('crossfit', True)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    fn = METHODS[method]
    unknown = sorted(set(options) - set(_options(fn)))
    if unknown:
        raise TypeError(f"unknown options {unknown} for method={method!r}; it takes {_options(fn)}")
    symmetry = check_symmetry(symmetry)
    _validation.check_key(key)
    resolved = get_metric(metric)
    if method == "oracle":
        return fn(x, y, symmetry=symmetry, key=key, metric=resolved, **options)
    if resolved.name != "sq":
        raise ValueError(
            f"method={method!r} estimates η₂ (metric='sq') only, got metric={metric!r}; "
            "use method='oracle' for other metrics of a known f*"
        )
    return fn(x, y, symmetry=symmetry, key=key, **options)
