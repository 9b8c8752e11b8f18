"""`MLP`, the one multilayer perceptron of symreg, and `MLPRegressor`, which fits it by full-batch
Adam with optax (layer 4)."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, final

import jax
import jax.numpy as jnp
import optax

from symreg import _validation
from symreg.estimators._data import Layout
from symreg.estimators._regressor import Fitted, standardizer

_ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu, "gelu": jax.nn.gelu, "silu": jax.nn.silu}


@final
@dataclasses.dataclass(frozen=True)
class MLP:
    """A multilayer perceptron on flattened inputs: f(x) = W_L σ(… σ(W_1 vec(x) + b_1) …) + b_L.

    The one MLP of symreg: `MLPRegressor` fits it, and the main job trains it as the model
    whose equivariance error it measures and regularizes (it is deliberately *not*
    equivariant). The instance is frozen and hashable, and calling it is `apply`: pass the
    instance itself as `apply_fn`, so that equal architectures share compiled kernels (a
    bound method `mlp.apply` hashes by the instance's identity, so each new instance would
    recompile). Inputs are pytrees whose leaves are flattened per example and concatenated, so
    tuples of arrays work too.

    Args:
      hidden: widths of the hidden layers.
      out_shape: the shape of one output (e.g. () for a scalar, (4,) for "0e + 1o").
      activation: "tanh", "gelu", "silu" or "relu".

    Raises:
      ValueError: a non-positive width or an unknown activation.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from symreg.estimators import MLP
      >>> mlp = MLP(hidden=(8,), out_shape=())
      >>> params = mlp.init(jax.random.key(0), jnp.ones((5, 3)))
      >>> mlp(params, jnp.ones((5, 3))).shape
      (5,)
    """

    hidden: tuple[int, ...] = (32, 32)
    out_shape: tuple[int, ...] = ()
    activation: str = "tanh"

    def __post_init__(self):
        object.__setattr__(
            self, "hidden", tuple(_validation.positive_int(h, "hidden") for h in self.hidden)
        )
        object.__setattr__(self, "out_shape", tuple(int(s) for s in self.out_shape))
        if self.activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}"
            )

    def init(self, key: jax.Array, x: Any) -> list[tuple[jax.Array, jax.Array]]:
        """Parameters for inputs like the batch `x` (leading axis B): LeCun-normal weights."""
        d_in = _flatten(x).shape[-1]
        sizes = (d_in, *self.hidden, math.prod(self.out_shape))
        keys = jax.random.split(key, len(sizes) - 1)
        return [
            (jax.random.normal(k, (m, n), jnp.float32) / math.sqrt(m), jnp.zeros((n,), jnp.float32))
            for k, m, n in zip(keys, sizes[:-1], sizes[1:], strict=True)
        ]

    def __call__(self, params: list, x: Any) -> jax.Array:
        """Same as `apply`."""
        return self.apply(params, x)

    def apply(self, params: list, x: Any) -> jax.Array:
        """f(x) on a batch: inputs with leading axis B → outputs of shape (B, *out_shape)."""
        z = _flatten(x)
        act = _ACTIVATIONS[self.activation]
        for w, b in params[:-1]:
            z = act(z @ w + b)
        w, b = params[-1]
        out = z @ w + b
        return out.reshape(out.shape[:-1] + self.out_shape)


def _flatten(x: Any) -> jax.Array:
    leaves = jax.tree.leaves(x)
    return jnp.concatenate([a.reshape(a.shape[0], -1) for a in leaves], axis=-1)


@functools.partial(jax.jit, static_argnums=0)
def _mlp_fit(config: MLPRegressor, xf: jax.Array, yf: jax.Array, key: jax.Array) -> Any:
    x_mean, x_scale = standardizer(xf)
    y_mean, y_scale = standardizer(yf)
    zx, zy = (xf - x_mean) / x_scale, (yf - y_mean) / y_scale
    mlp = config.network(yf.shape[-1])
    layers = mlp.init(key, zx)
    schedule = optax.cosine_decay_schedule(config.learning_rate, config.steps)
    opt = optax.adamw(schedule, weight_decay=config.weight_decay)
    loss = lambda p: jnp.mean(jnp.square(mlp(p, zx) - zy))

    def step(_, carry):
        p, state = carry
        grads = jax.grad(loss)(p)
        updates, state = opt.update(grads, state, p)
        return optax.apply_updates(p, updates), state

    layers, _ = jax.lax.fori_loop(0, config.steps, step, (layers, opt.init(layers)))
    return {"layers": layers, "x": (x_mean, x_scale), "y": (y_mean, y_scale)}


@functools.partial(jax.jit, static_argnums=0)
def _mlp_apply(config: MLPRegressor, params: Any, xf: jax.Array) -> jax.Array:
    (x_mean, x_scale), (y_mean, y_scale) = params["x"], params["y"]
    out = config.network(params["y"][0].shape[-1])(params["layers"], (xf - x_mean) / x_scale)
    return out * y_scale + y_mean


@final
@dataclasses.dataclass(frozen=True)
class MLPRegressor:
    """A small MLP on the flattened, standardized inputs, trained by full-batch Adam(W).

    The squared loss on standardized outputs is minimized for a fixed number of `steps` with
    a cosine-decayed learning rate (no early stopping: the estimators cross-fit, so the fit's
    variance does not bias them, only its regularization bias does). Training is one jitted
    `fori_loop`, compiled once per configuration and data shape.

    Args:
      hidden: widths of the hidden layers.
      steps: Adam steps (full batch).
      learning_rate: the initial learning rate.
      activation: "tanh", "relu", "gelu" or "silu".
      weight_decay: AdamW decoupled weight decay (0: plain Adam).

    Raises:
      TypeError, ValueError: non-positive widths, steps or learning rate; an unknown activation.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from symreg.estimators import MLPRegressor
      >>> x = jax.random.normal(jax.random.key(0), (256, 2))
      >>> y = jnp.sin(x[:, :1])
      >>> predict = MLPRegressor(hidden=(32,), steps=300).fit(x, y, jax.random.key(1))
      >>> bool(jnp.mean((predict(x) - y) ** 2) < 0.01)
      True
    """

    hidden: tuple[int, ...] = (64, 64)
    steps: int = 1000
    learning_rate: float = 1e-2
    activation: str = "tanh"
    weight_decay: float = 0.0

    def __post_init__(self):
        hidden = self.hidden if isinstance(self.hidden, (tuple, list)) else (self.hidden,)
        hidden = tuple(_validation.positive_int(h, "hidden") for h in hidden)
        object.__setattr__(self, "hidden", hidden)
        _validation.positive_int(self.steps, "steps")
        _validation.positive_float(self.learning_rate, "learning_rate")
        _validation.positive_float(self.weight_decay, "weight_decay", allow_zero=True)
        if self.activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}"
            )

    def network(self, outputs: int) -> MLP:
        """The `MLP` it fits, with `outputs` outputs (one per flattened output entry)."""
        return MLP(hidden=self.hidden, out_shape=(outputs,), activation=self.activation)

    def fit(self, x: Any, y: Any, key: jax.Array) -> Callable[[Any], Any]:
        """Trains from an initialization drawn with `key`; returns the batch predictor."""
        _validation.check_key(key)
        x_layout, y_layout = Layout.of_batch(x), Layout.of_batch(y)
        params = _mlp_fit(self, x_layout.ravel(x), y_layout.ravel(y), key)
        return Fitted(functools.partial(_mlp_apply, self), params, x_layout, y_layout)
