"""An NNX module as a pure `apply_fn(state, x)` for symreg's kernels (layer 7)."""

from __future__ import annotations

import dataclasses
from typing import Any, final

from flax import nnx


@final
@dataclasses.dataclass(frozen=True)
class NNXApply:
    """`apply_fn(state, x)`: merges a fixed graph with `state` and calls the module on x.

    Hashable by its graph definition, so the kernels' `jax.jit` caches one compilation per
    architecture: new parameters (a training step) never recompile. Changes that the call makes
    to the module's state (batch statistics, RNG counters) are dropped: the call is pure.

    Attributes:
      graphdef: the static graph of the module, from `nnx.split`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from symreg.flax import nnx_functional
      >>> apply_fn, state = nnx_functional(nnx.Linear(3, 2, rngs=nnx.Rngs(0)))
      >>> apply_fn(state, jnp.ones((5, 3))).shape
      (5, 2)
    """

    graphdef: Any

    def __call__(self, state: Any, x: Any) -> Any:
        return nnx.merge(self.graphdef, state, copy=True)(x)


def nnx_functional(module: Any) -> tuple[NNXApply, Any]:
    """Splits an NNX module into `(apply_fn, state)` with `apply_fn(state, x) == module(x)`.

    This is how symreg's kernels (`equivariance_error`, `exact_equivariance_error`,
    `symmetrize`, ...) take an NNX model: pass `apply_fn` and `state` as `params`. Gradients
    with respect to `state` are gradients with respect to the module's variables.

    Args:
      module: an `nnx.Module`.

    Returns:
      `(apply_fn, state)`: a hashable `NNXApply` and the module's `nnx.State`.

    Raises:
      TypeError: `module` is not an `nnx.Module`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.flax import nnx_functional
      >>> from symreg.groups import Symmetric
      >>> apply_fn, state = nnx_functional(nnx.Linear(3, 1, rngs=nnx.Rngs(0)))
      >>> sym = symreg.Symmetry(Symmetric(3), Permutation())
      >>> x = jax.random.normal(jax.random.key(0), (4, 3))
      >>> symreg.exact_equivariance_error(apply_fn, state, x, symmetry=sym).shape
      (6, 4)
    """
    if not isinstance(module, nnx.Module):
        raise TypeError(
            f"module must be a flax.nnx.Module, got {module!r:.80} of type {type(module).__name__}"
        )
    graphdef, state = nnx.split(module)
    return NNXApply(graphdef), state
