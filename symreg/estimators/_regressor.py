"""The pluggable regressor protocol and the least-squares `LinearRegressor` (layer 4)."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable
from typing import Any, Protocol, final, runtime_checkable

import jax
import jax.numpy as jnp

from symreg import _validation
from symreg.estimators._data import Layout


@runtime_checkable
class Regressor(Protocol):
    """A model-fitting procedure used by the "crossfit" and "riskgap" estimators.

    `fit(x, y, key)` fits on a data set (leading axis N on every leaf of x and y) and returns
    `predict(x_batch) -> y_batch`, a function on batches (leading axis B) whose outputs have
    the structure of y. Implementations should be frozen dataclasses (hashable), so that they
    can be passed as options; `LinearRegressor` and `MLPRegressor` are the two provided.
    `fit` is called once per fold with that fold's examples and its own key.

    A regressor may also define `min_examples(x) -> int`, the fewest training examples for
    which its fit has finite variance (x: the data, leading axis N); the estimators flag
    their estimate (infinite s.e., a `reason`) when a fold has fewer.

    Examples:
      >>> import dataclasses, jax, jax.numpy as jnp
      >>> from symreg.estimators import Regressor
      >>> @dataclasses.dataclass(frozen=True)
      ... class MeanRegressor:  # predicts the training mean everywhere
      ...     def fit(self, x, y, key):
      ...         return lambda xb: jnp.broadcast_to(y.mean(0), (xb.shape[0],) + y.shape[1:])
      >>> isinstance(MeanRegressor(), Regressor)
      True
      >>> MeanRegressor().fit(jnp.zeros((4, 2)), jnp.arange(4.0), None)(jnp.zeros((2, 2)))
      Array([1.5, 1.5], dtype=float32)
    """

    def fit(self, x: Any, y: Any, key: jax.Array) -> Callable[[Any], Any]:
        """Fits the model to (x, y) and returns its batch prediction function."""
        ...


def check_regressor(regressor: Any) -> Regressor:
    """Raises `TypeError` unless `regressor` has a callable `fit(x, y, key)`."""
    if not isinstance(regressor, Regressor) or not callable(regressor.fit):
        raise TypeError(
            "regressor must have a method fit(x, y, key) -> predict_fn (e.g. "
            f"symreg.estimators.LinearRegressor()), got {regressor!r}"
        )
    return regressor


@dataclasses.dataclass(frozen=True)
class Fitted:
    """A fitted model: `apply(params, x_flat) -> y_flat` plus the layouts of x and y."""

    apply: Callable[[Any, jax.Array], jax.Array]
    params: Any
    x_layout: Layout
    y_layout: Layout

    def __call__(self, x: Any) -> Any:
        return self.y_layout.unravel(self.apply(self.params, self.x_layout.ravel(x)))


def standardizer(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-column mean and scale of a (N, D) array; constant columns get scale 1."""
    mean = a.mean(0)
    scale = a.std(0)
    return mean, jnp.where(scale > 0, scale, 1.0)


def _monomials(z: jax.Array, degree: int) -> jax.Array:
    """All monomials of the columns of z (B, D) up to `degree`, the constant included."""
    d = z.shape[-1]
    cols = [jnp.ones(z.shape[:-1] + (1,), z.dtype)]
    for k in range(1, degree + 1):
        idx = jnp.array(list(itertools.combinations_with_replacement(range(d), k)), jnp.int32)
        cols.append(jnp.prod(z[..., idx], axis=-1))
    return jnp.concatenate(cols, axis=-1)


def _features(config: LinearRegressor, params: Any, xf: jax.Array) -> jax.Array:
    if config.features is not None:
        return config.features(xf)
    return _monomials((xf - params["x_mean"]) / params["x_scale"], config.degree)


@functools.partial(jax.jit, static_argnums=0)
def _linear_fit(config: LinearRegressor, xf: jax.Array, yf: jax.Array) -> Any:
    x_mean, x_scale = standardizer(xf)
    params = {"x_mean": x_mean, "x_scale": x_scale}
    phi = _features(config, params, xf)
    if config.ridge > 0:
        gram = phi.T @ phi
        lam = config.ridge * jnp.trace(gram) / gram.shape[0]
        coef = jnp.linalg.solve(gram + lam * jnp.eye(gram.shape[0], dtype=gram.dtype), phi.T @ yf)
    else:
        coef = jnp.linalg.lstsq(phi, yf)[0]
    return params | {"coef": coef}


@functools.partial(jax.jit, static_argnums=0)
def _linear_apply(config: LinearRegressor, params: Any, xf: jax.Array) -> jax.Array:
    return _features(config, params, xf) @ params["coef"]


@final
@dataclasses.dataclass(frozen=True)
class LinearRegressor:
    """Least squares on polynomial features of the flattened inputs (or on given features).

    With `features=None` the design is every monomial of degree <= `degree` in the
    standardized, flattened inputs (standardizing does not change the span); an orthogonal
    group action maps that span to itself, so the least-squares projection of an equivariant
    target is equivariant. `ridge` > 0 adds ridge · mean(diag ΦᵀΦ) · I to the normal equations
    (otherwise: minimum-norm least squares).

    Args:
      degree: the polynomial degree (1: affine regression).
      features: optional callable Φ(x_flat) on (B, D) inputs → (B, P) features; overrides
        `degree` (include a constant column yourself).
      ridge: relative ridge penalty >= 0.

    Raises:
      TypeError, ValueError: a non-positive degree, a negative ridge, non-callable features.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from symreg.estimators import LinearRegressor
      >>> x = jax.random.normal(jax.random.key(0), (64, 2))
      >>> predict = LinearRegressor(degree=2).fit(x, x[:, 0] * x[:, 1], jax.random.key(1))
      >>> round(float(predict(jnp.array([[2.0, 3.0]]))[0]), 3)
      6.0
    """

    degree: int = 1
    features: Callable[[jax.Array], jax.Array] | None = None
    ridge: float = 0.0

    def __post_init__(self):
        _validation.positive_int(self.degree, "degree")
        _validation.positive_float(self.ridge, "ridge", allow_zero=True)
        if self.features is not None:
            _validation.check_callable(self.features, "features")

    def num_features(self, x: Any) -> int:
        """The number P of features (columns of the design) for data x (leading axis N)."""
        flat = Layout.of_batch(x).ravel(jax.tree.map(lambda a: a[:1], x))
        if self.features is not None:
            return int(jax.eval_shape(self.features, flat).shape[-1])
        return math.comb(flat.shape[-1] + self.degree, self.degree)

    def min_examples(self, x: Any) -> int:
        """P + 2 without ridge (least squares interpolates, with unbounded variance, for
        n <= P + 1: the closed forms' n > d + 1); 1 with ridge > 0.

        Examples:
          >>> import jax.numpy as jnp
          >>> from symreg.estimators import LinearRegressor
          >>> LinearRegressor().min_examples(jnp.zeros((100, 10)))  # 10 slopes + intercept
          13
        """
        return 1 if self.ridge > 0 else self.num_features(x) + 2

    def fit(self, x: Any, y: Any, key: jax.Array) -> Callable[[Any], Any]:
        """Fits by least squares; `key` is unused (the fit is deterministic)."""
        x_layout, y_layout = Layout.of_batch(x), Layout.of_batch(y)
        params = _linear_fit(self, x_layout.ravel(x), y_layout.ravel(y))
        return Fitted(functools.partial(_linear_apply, self), params, x_layout, y_layout)
