"""The small models of the main job: an MLP on flattened inputs, as a hashable apply function."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, final

import jax
import jax.numpy as jnp

from symreg import _validation

_ACTIVATIONS = {"tanh": jnp.tanh, "gelu": jax.nn.gelu, "silu": jax.nn.silu, "relu": jax.nn.relu}


@final
@dataclasses.dataclass(frozen=True)
class MLP:
    """A multilayer perceptron on flattened inputs: f(x) = W_L σ(… σ(W_1 vec(x) + b_1) …) + b_L.

    The instance is frozen and hashable, and calling it is `apply`: pass the instance itself
    as `apply_fn`, so that equal architectures share compiled kernels (a bound method
    `mlp.apply` hashes by the instance's identity, so each new instance would recompile). It is deliberately *not* equivariant: the job
    measures and regularizes its equivariance error. Inputs are pytrees whose leaves are
    flattened per example and concatenated, so tuples of arrays work too.

    Args:
      hidden: widths of the hidden layers.
      out_shape: the shape of one output (e.g. () for a scalar, (4,) for "0e + 1o").
      activation: "tanh", "gelu", "silu" or "relu".

    Raises:
      ValueError: a non-positive width or an unknown activation.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from symreg.experiments.models import MLP
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
